// forma/kernels/cpu/cross_entropy_backward.hpp — cross-entropy fused with its softmax: the loss
// and the gradient of the logits in one pass over each row.
//
//   loss[r]     = logsumexp(x[r]) − x[r, target[r]]        (around the row's maximum, in double)
//   dlogits[r]  = (softmax(x[r]) − onehot(target[r])) · scale
// A row whose target is the ignore index contributes no loss and a zero gradient. `scale` is
// 1 / (rows that count) for the mean. Targets are valid or the ignore index (the op checks).
// dlogits may be the logits themselves.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "forma/core/parallel.hpp"

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
