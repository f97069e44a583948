// forma/kernels/cpu/norm.hpp — RMSNorm and LayerNorm over contiguous rows.
//
//   rmsnorm:   out = weight ⊙ x / sqrt(mean(x²) + eps)        (llama2.c's order of operations)
//   layernorm: out = weight ⊙ (x − mean) / sqrt(var + eps) + bias   (biased variance, as PyTorch)
// `out` may alias `x`.
#pragma once

#include <cmath>
#include <cstddef>

#include "forma/core/parallel.hpp"

namespace forma::kernels::cpu {

// One row of RMSNorm, operation for operation as llama2.c's rmsnorm(): a float sum of squares in
// order, divided by n, plus eps, then 1/sqrt, then weight[j] * (scale * x[j]).
template <class T>
void rmsnorm_row(const T* x, const T* weight, T* out, std::size_t n, T eps) noexcept {
  T sum_of_squares = 0;
  for (std::size_t j = 0; j < n; ++j) sum_of_squares += x[j] * x[j];
  sum_of_squares /= static_cast<T>(n);
  sum_of_squares += eps;
  const T scale = T(1) / std::sqrt(sum_of_squares);
  for (std::size_t j = 0; j < n; ++j) out[j] = weight[j] * (scale * x[j]);
}

template <class T>
void rmsnorm_rows(const T* x, const T* weight, T* out, std::size_t rows, std::size_t n, T eps) {
  parallel_for(rows, n, [&](std::size_t r) { rmsnorm_row(x + r * n, weight, out + r * n, n, eps); });
}

// One row of LayerNorm; mean and variance accumulate in double, then the row is written in T.
template <class T>
void layernorm_row(const T* x, const T* weight, const T* bias, T* out, std::size_t n,
                   T eps) noexcept {
  double mean = 0;
  for (std::size_t j = 0; j < n; ++j) mean += static_cast<double>(x[j]);
  mean /= static_cast<double>(n);
  double variance = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const double centered = static_cast<double>(x[j]) - mean;
    variance += centered * centered;
  }
  variance /= static_cast<double>(n);
  const double scale = 1.0 / std::sqrt(variance + static_cast<double>(eps));
  for (std::size_t j = 0; j < n; ++j) {
    const double normalized = (static_cast<double>(x[j]) - mean) * scale;
    out[j] = static_cast<T>(normalized * static_cast<double>(weight[j]) + static_cast<double>(bias[j]));
  }
}

template <class T>
void layernorm_rows(const T* x, const T* weight, const T* bias, T* out, std::size_t rows,
                    std::size_t n, T eps) {
  parallel_for(rows, n, [&](std::size_t r) {
    layernorm_row(x + r * n, weight, bias, out + r * n, n, eps);
  });
}

}  // namespace forma::kernels::cpu
