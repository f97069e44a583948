// forma/kernels/cuda/norm.cuh — RMSNorm and LayerNorm over contiguous device rows, with the CPU
// kernels' names and arguments (kernels/cpu/norm.hpp), plus the stream. Bodies: norm.hpp.
//   rmsnorm_rows:   x (rows, n), weight (n)            => out (rows, n)
//   layernorm_rows: x (rows, n), weight (n), bias (n)  => out (rows, n)
// All pointers are device pointers; `out` may alias `x`.
#pragma once

#include <cstddef>

#include "forma/kernels/cuda/launch.cuh"
#include "forma/kernels/cuda/norm.hpp"

namespace forma::kernels::cuda {

inline void rmsnorm_rows(const float* x, const float* weight, float* out, std::size_t rows,
                         std::size_t n, float eps, cudaStream_t stream = nullptr) {
  launch(rmsnorm_body{x, weight, out, static_cast<unsigned>(n), eps}, rows_launch(rows, n), stream);
}

inline void layernorm_rows(const float* x, const float* weight, const float* bias, float* out,
                           std::size_t rows, std::size_t n, float eps,
                           cudaStream_t stream = nullptr) {
  launch(layernorm_body{x, weight, bias, out, static_cast<unsigned>(n), eps}, rows_launch(rows, n),
         stream);
}

}  // namespace forma::kernels::cuda
