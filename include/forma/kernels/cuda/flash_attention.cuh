// forma/kernels/cuda/flash_attention.cuh — causal prefill attention in shared-memory tiles with an
// online softmax, with the CPU kernel's name and layout (kernels/cpu/flash_attention.hpp; no
// scratch: the tiles live in shared memory and registers). Body: flash_attention.hpp.
#pragma once

#include <cstddef>

#include "forma/core/contract.hpp"
#include "forma/kernels/cpu/attention.hpp"
#include "forma/kernels/cuda/flash_attention.hpp"
#include "forma/kernels/cuda/launch.cuh"

namespace forma::kernels::cuda {

// flash_attention_launch: the grid of (head, query tile) blocks of 32 threads.
constexpr launch_shape flash_attention_launch(std::size_t heads, std::size_t queries) {
  return {static_cast<unsigned>(heads * ceil_div(queries, flash_tile)), flash_tile};
}

inline void flash_attention(const float* q, const float* keys, const float* values,
                            std::size_t queries, std::size_t length, const cpu::attention_shape& s,
                            float* out, cudaStream_t stream = nullptr) {
  if (s.head_dim > flash_max_head_dim) {
    contract::fail_shape("flash_attention (CUDA): head_dim " + std::to_string(s.head_dim) +
                         " exceeds the kernel's 128");
  }
  if (queries > length) contract::fail_shape("flash_attention (CUDA): more queries than positions");
  const flash_attention_body body{q, keys, values, out, static_cast<unsigned>(queries),
                                  static_cast<unsigned>(length), static_cast<unsigned>(s.heads),
                                  static_cast<unsigned>(s.kv_heads),
                                  static_cast<unsigned>(s.head_dim), s.kv_stride};
  launch(body, flash_attention_launch(s.heads, queries), stream);
}

}  // namespace forma::kernels::cuda
