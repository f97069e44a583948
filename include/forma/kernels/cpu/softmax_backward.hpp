// forma/kernels/cpu/softmax_backward.hpp — the gradient of a row-wise softmax from its output.
//
//   y = softmax(x):  dx = y ⊙ (dy − Σ_j dy_j · y_j)
// (masked entries have y = 0, so a causal or valid-length softmax's rows work unchanged.) The
// dot product is summed in double. dx may alias dy or y.
#pragma once

#include <cstddef>

#include "forma/core/parallel.hpp"

namespace forma::kernels::cpu {

template <class T>
void softmax_backward_row(const T* y, const T* dy, T* dx, std::size_t n) noexcept {
  double projection = 0;
  for (std::size_t j = 0; j < n; ++j) projection += static_cast<double>(dy[j]) * y[j];
  for (std::size_t j = 0; j < n; ++j) {
    dx[j] = static_cast<T>(static_cast<double>(y[j]) * (static_cast<double>(dy[j]) - projection));
  }
}

template <class T>
void softmax_backward_rows(const T* y, const T* dy, T* dx, std::size_t rows, std::size_t n) {
  parallel_for(rows, n, [&](std::size_t r) {
    softmax_backward_row(y + r * n, dy + r * n, dx + r * n, n);
  });
}

}  // namespace forma::kernels::cpu
