// forma/kernels/cpu/cross_entropy_backward.hpp — cross-entropy fused with its softmax: the loss
// and the gradient of the logits in one pass over each row.
//
//   loss[r]     = logsumexp(x[r]) − x[r, target[r]]        (around the row's maximum, in double)
//   dlogits[r]  = (softmax(x[r]) − onehot(target[r])) · scale
// A row whose target is the ignore index contributes no loss and a zero gradient. `scale` is
// 1 / (rows that count) for the mean. Targets are valid or the ignore index (the op checks).
// dlogits may be the logits themselves.
// Float rows take the exponentials once, in float through vexp.hpp's vectorized exp (< 1 ulp),
// into dlogits, and sum them in double over 8 interleaved partial sums in a fixed order; double
// rows use std::exp throughout.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "forma/core/parallel.hpp"
#include "forma/kernels/cpu/vexp.hpp"

namespace forma::kernels::cpu {

// One row: writes its gradient and returns its loss (0 for an ignored row).
template <class T>
double cross_entropy_backward_row(const T* x, std::size_t n, std::int32_t target,
                                  std::int32_t ignore_index, double scale, T* dlogits) noexcept {
  if (target == ignore_index) {
    for (std::size_t j = 0; j < n; ++j) dlogits[j] = T(0);
    return 0.0;
  }
  T max_value = x[0];
  for (std::size_t j = 1; j < n; ++j) {
    if (x[j] > max_value) max_value = x[j];
  }
  const double shift = static_cast<double>(max_value);
  if constexpr (std::is_same_v<T, float>) {
    const auto t = static_cast<std::size_t>(target);
    const double x_target = static_cast<double>(x[t]);  // before dlogits may overwrite x
    for (std::size_t j = 0; j < n; ++j) dlogits[j] = x[j] - max_value;
    exp_inplace(dlogits, n);
    double partial[8] = {};
    std::size_t j = 0;
    for (; j + 8 <= n; j += 8) {
      for (std::size_t l = 0; l < 8; ++l) partial[l] += static_cast<double>(dlogits[j + l]);
    }
    for (std::size_t l = 0; j < n; ++j, ++l) partial[l] += static_cast<double>(dlogits[j]);
    const double sum = ((partial[0] + partial[4]) + (partial[2] + partial[6])) +
                       ((partial[1] + partial[5]) + (partial[3] + partial[7]));
    const auto factor = static_cast<float>(scale / sum);
    const auto step = static_cast<float>(scale);
    for (std::size_t k = 0; k < n; ++k) dlogits[k] *= factor;
    dlogits[t] -= step;
    return shift + std::log(sum) - x_target;
  }
  double sum = 0;
  for (std::size_t j = 0; j < n; ++j) sum += std::exp(static_cast<double>(x[j]) - shift);
  const double log_sum = std::log(sum);
  const auto t = static_cast<std::size_t>(target);
  const double loss = shift + log_sum - static_cast<double>(x[t]);  // read before dlogits may overwrite x
  for (std::size_t j = 0; j < n; ++j) {
    const double p = std::exp(static_cast<double>(x[j]) - shift - log_sum);
    dlogits[j] = static_cast<T>((p - (j == t ? 1.0 : 0.0)) * scale);
  }
  return loss;
}

// Every row; returns the sum of the row losses (summed in row order, whatever the threads).
template <class T>
double cross_entropy_backward_rows(const T* x, const std::int32_t* targets, std::size_t rows,
                                   std::size_t n, std::int32_t ignore_index, double scale,
                                   T* dlogits, double* row_losses) {
  parallel_for(rows, n, [&](std::size_t r) {
    row_losses[r] = cross_entropy_backward_row(x + r * n, n, targets[r], ignore_index, scale,
                                               dlogits + r * n);
  });
  double total = 0;
  for (std::size_t r = 0; r < rows; ++r) total += row_losses[r];
  return total;
}

}  // namespace forma::kernels::cpu
