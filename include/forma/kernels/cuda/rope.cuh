// forma/kernels/cuda/rope.cuh — RoPE in both layouts on device rows, in place (kernels/cpu/rope.hpp
// rotates one row; rope_rows rotates rows at positions first_position, first_position + 1, ...).
// Body: rope.hpp.
#pragma once

#include <cstddef>

#include "forma/kernels/cuda/launch.cuh"
#include "forma/kernels/cuda/rope.hpp"

namespace forma::kernels::cuda {

template <rope_layout Layout>
void rope_rows(float* x, std::size_t rows, std::size_t heads, std::size_t head_dim,
               std::size_t first_position, float theta, cudaStream_t stream = nullptr) {
  const rope_body<Layout> body{x, static_cast<unsigned>(rows), static_cast<unsigned>(heads),
                               static_cast<unsigned>(head_dim),
                               static_cast<unsigned>(first_position), theta};
  launch(body, elementwise_launch(body.count()), stream);
}

template <rope_layout Layout>
void rope_row(float* x, std::size_t heads, std::size_t head_dim, std::size_t position, float theta,
              cudaStream_t stream = nullptr) {
  rope_rows<Layout>(x, 1, heads, head_dim, position, theta, stream);
}

}  // namespace forma::kernels::cuda
