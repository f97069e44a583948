// forma/kernels/cuda/softmax.cuh — softmax over contiguous device rows, in place as the CPU kernels
// (kernels/cpu/softmax.hpp), or from x into out. Body: softmax.hpp.
//   softmax_rows:        x (rows, n) => rows sum to 1
//   softmax_rows_causal: row r keeps its first r + offset + 1 entries, the rest 0
//   softmax_rows_valid:  each row keeps its first `valid` entries, the rest 0
#pragma once

#include <cstddef>

#include "forma/kernels/cuda/launch.cuh"
#include "forma/kernels/cuda/softmax.hpp"

namespace forma::kernels::cuda {

inline void softmax_rows(const float* x, float* out, std::size_t rows, std::size_t n,
                         cudaStream_t stream = nullptr) {
  const auto width = static_cast<unsigned>(n);
  launch(softmax_body{x, out, width, width, false, 0}, rows_launch(rows, n), stream);
}
inline void softmax_rows(float* x, std::size_t rows, std::size_t n, cudaStream_t stream = nullptr) {
  softmax_rows(x, x, rows, n, stream);
}

inline void softmax_rows_causal(float* x, std::size_t rows, std::size_t n, std::size_t offset,
                                cudaStream_t stream = nullptr) {
  const auto width = static_cast<unsigned>(n);
  launch(softmax_body{x, x, width, width, true, static_cast<unsigned>(offset)},
         rows_launch(rows, n), stream);
}

inline void softmax_rows_valid(float* x, std::size_t rows, std::size_t n, std::size_t valid,
                               cudaStream_t stream = nullptr) {
  const auto width = static_cast<unsigned>(n);
  launch(softmax_body{x, x, width, static_cast<unsigned>(valid < n ? valid : n), false, 0},
         rows_launch(rows, n), stream);
}

}  // namespace forma::kernels::cuda
