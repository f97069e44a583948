// forma/kernels/cpu/cross_entropy.hpp — cross-entropy of rows of logits against target ids.
//
//   loss[r] = −log softmax(x[r])[target[r]] = max_r + log Σ_j exp(x[r, j] − max_r) − x[r, target[r]]
// The log-sum-exp is taken around the row's maximum (finite for any finite logits) and summed in
// double. Targets are valid indices (the op checks them before calling).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "forma/core/parallel.hpp"

namespace forma::kernels::cpu {

template <class T>
double cross_entropy_row(const T* x, std::size_t n, std::size_t target) noexcept {
  T max_value = x[0];
  for (std::size_t j = 1; j < n; ++j) {
    if (x[j] > max_value) max_value = x[j];
  }
  const double shift = static_cast<double>(max_value);
  double sum = 0;
  for (std::size_t j = 0; j < n; ++j) sum += std::exp(static_cast<double>(x[j]) - shift);
  return shift + std::log(sum) - static_cast<double>(x[target]);
}

// losses[r] for every row of a row-major rows × n array of logits (each rounded once to T).
template <class T>
void cross_entropy_rows(const T* x, const std::int32_t* targets, T* losses, std::size_t rows,
                        std::size_t n) {
  parallel_for(rows, n, [&](std::size_t r) {
    losses[r] = static_cast<T>(cross_entropy_row(x + r * n, n, static_cast<std::size_t>(targets[r])));
  });
}

}  // namespace forma::kernels::cpu
