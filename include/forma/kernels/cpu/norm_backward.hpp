// forma/kernels/cpu/norm_backward.hpp — the gradients of RMSNorm and LayerNorm over rows.
//
//   rmsnorm:   y = w ⊙ x · r,  r = (mean(x²) + eps)^(−½)
//              dx = r · (w ⊙ dy) − x · r³ · mean(w ⊙ dy ⊙ x)       dw += dy ⊙ x · r
//   layernorm: x̂ = (x − mean) · r,  r = (var + eps)^(−½),  y = w ⊙ x̂ + b
//              g = w ⊙ dy:  dx = r · (g − mean(g) − x̂ · mean(g ⊙ x̂))
//              dw += dy ⊙ x̂,  db += dy
// The statistics are recomputed from x (nothing is saved by the forward) and every row's sums
// are taken in double. dx is overwritten (rows in parallel); dw and db accumulate over the rows
// in order (either may be null), so the result does not depend on the number of threads. dx may
// alias dy.
#pragma once

#include <cmath>
#include <cstddef>

#include "forma/core/parallel.hpp"

namespace forma::kernels::cpu {

namespace detail {
template <class T>
double rms_scale(const T* x, std::size_t n, T eps) noexcept {
  double sum_of_squares = 0;
  for (std::size_t j = 0; j < n; ++j) sum_of_squares += static_cast<double>(x[j]) * x[j];
  return 1.0 / std::sqrt(sum_of_squares / static_cast<double>(n) + static_cast<double>(eps));
}

template <class T>
void layernorm_stats(const T* x, std::size_t n, T eps, double& mean, double& scale) noexcept {
  mean = 0;
  for (std::size_t j = 0; j < n; ++j) mean += static_cast<double>(x[j]);
  mean /= static_cast<double>(n);
  double variance = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const double centered = static_cast<double>(x[j]) - mean;
    variance += centered * centered;
  }
  variance /= static_cast<double>(n);
  scale = 1.0 / std::sqrt(variance + static_cast<double>(eps));
}
}  // namespace detail

template <class T>
void rmsnorm_backward_rows(const T* x, const T* weight, const T* dy, T* dx, T* dweight,
                           std::size_t rows, std::size_t n, T eps) {
  if (n == 0) return;
  // The parameter gradients first (dx may overwrite dy), rows in order.
  if (dweight != nullptr) {
    for (std::size_t r = 0; r < rows; ++r) {
      const double scale = detail::rms_scale(x + r * n, n, eps);
      for (std::size_t j = 0; j < n; ++j) {
        dweight[j] += static_cast<T>(static_cast<double>(dy[r * n + j]) * x[r * n + j] * scale);
      }
    }
  }
  parallel_for(rows, n, [&](std::size_t r) {
    const T* xr = x + r * n;
    const T* g = dy + r * n;
    T* d = dx + r * n;
    const double scale = detail::rms_scale(xr, n, eps);
    double projection = 0;
    for (std::size_t j = 0; j < n; ++j) projection += static_cast<double>(weight[j]) * g[j] * xr[j];
    projection /= static_cast<double>(n);
    const double cubed = scale * scale * scale;
    for (std::size_t j = 0; j < n; ++j) {
      d[j] = static_cast<T>(scale * static_cast<double>(weight[j]) * g[j] - cubed * projection * xr[j]);
    }
  });
}

template <class T>
void layernorm_backward_rows(const T* x, const T* weight, const T* dy, T* dx, T* dweight,
                             T* dbias, std::size_t rows, std::size_t n, T eps) {
  if (n == 0) return;
  // The parameter gradients first (dx may overwrite dy), rows in order.
  if (dweight != nullptr || dbias != nullptr) {
    for (std::size_t r = 0; r < rows; ++r) {
      double mean = 0, scale = 0;
      detail::layernorm_stats(x + r * n, n, eps, mean, scale);
      for (std::size_t j = 0; j < n; ++j) {
        const double g = static_cast<double>(dy[r * n + j]);
        if (dweight != nullptr) {
          dweight[j] += static_cast<T>(g * ((static_cast<double>(x[r * n + j]) - mean) * scale));
        }
        if (dbias != nullptr) dbias[j] += dy[r * n + j];
      }
    }
  }
  parallel_for(rows, n, [&](std::size_t r) {
    const T* xr = x + r * n;
    const T* g = dy + r * n;
    T* d = dx + r * n;
    double mean = 0, scale = 0;
    detail::layernorm_stats(xr, n, eps, mean, scale);
    double g_mean = 0, gx_mean = 0;
    for (std::size_t j = 0; j < n; ++j) {
      const double gw = static_cast<double>(weight[j]) * g[j];
      g_mean += gw;
      gx_mean += gw * ((static_cast<double>(xr[j]) - mean) * scale);
    }
    g_mean /= static_cast<double>(n);
    gx_mean /= static_cast<double>(n);
    for (std::size_t j = 0; j < n; ++j) {
      const double normalized = (static_cast<double>(xr[j]) - mean) * scale;
      const double gw = static_cast<double>(weight[j]) * g[j];
      d[j] = static_cast<T>(scale * (gw - g_mean - normalized * gx_mean));
    }
  });
}

}  // namespace forma::kernels::cpu
