// forma/kernels/cuda/attention.cuh — decode attention over a device KV cache, with the CPU
// kernel's name, arguments and layout (kernels/cpu/attention.hpp): one query position against the
// first `length` cached positions, every head, grouped-query aware. Body: attention.hpp.
#pragma once

#include <cstddef>

#include "forma/kernels/cpu/attention.hpp"
#include "forma/kernels/cuda/attention.hpp"
#include "forma/kernels/cuda/launch.cuh"

namespace forma::kernels::cuda {

using cpu::attention_shape;

inline void attend(const float* q, const float* keys, const float* values, std::size_t length,
                   const attention_shape& s, float* scores, float* out,
                   cudaStream_t stream = nullptr) {
  const decode_attention_body body{q, keys, values, scores, out,
                                   static_cast<unsigned>(length), static_cast<unsigned>(s.heads),
                                   static_cast<unsigned>(s.kv_heads),
                                   static_cast<unsigned>(s.head_dim), s.kv_stride, s.score_stride};
  launch(body, rows_launch(s.heads, length), stream);
}

}  // namespace forma::kernels::cuda
