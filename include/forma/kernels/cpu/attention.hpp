// forma/kernels/cpu/attention.hpp — scaled dot-product attention of one query position against
// the keys and values before it (causal), for every head; grouped-query aware.
//
//   q       (heads · head_dim)              the query at this position
//   keys    rows of kv_stride, the first `length` used; head h reads kv head h / group at
//           column (h / group) · head_dim
//   values  same layout as keys
//   scores  scratch, heads × score_stride (score_stride ≥ length)
//   out     (heads · head_dim)
// Per head: s_t = q·k_t / sqrt(head_dim), a = softmax(s), out = Σ_t a_t v_t — in llama2.c's order
// (float dot products in order, then its softmax, then the weighted sum over t in order), so a
// prefill of T tokens and T decode steps give identical bits.
#pragma once

#include <cmath>
#include <cstddef>

#include "forma/core/parallel.hpp"
#include "forma/kernels/cpu/softmax.hpp"

namespace forma::kernels::cpu {

struct attention_shape {
  std::size_t heads = 0;
  std::size_t kv_heads = 0;
  std::size_t head_dim = 0;
  std::size_t kv_stride = 0;     // elements between consecutive positions in keys/values
  std::size_t score_stride = 0;  // elements between consecutive heads in scores
};

inline void attend_head(const float* q, const float* keys, const float* values, std::size_t length,
                        const attention_shape& s, std::size_t kv_offset, float* scores,
                        float* out) noexcept {
  const float scale = std::sqrt(static_cast<float>(s.head_dim));
  for (std::size_t t = 0; t < length; ++t) {
    const float* k = keys + t * s.kv_stride + kv_offset;
    float score = 0.0f;
    for (std::size_t i = 0; i < s.head_dim; ++i) score += q[i] * k[i];
    scores[t] = score / scale;
  }
  softmax_row(scores, length, length);
  for (std::size_t i = 0; i < s.head_dim; ++i) out[i] = 0.0f;
  for (std::size_t t = 0; t < length; ++t) {
    const float* v = values + t * s.kv_stride + kv_offset;
    const float a = scores[t];
    for (std::size_t i = 0; i < s.head_dim; ++i) out[i] += a * v[i];
  }
}

// All heads of one query position; `length` = number of cached positions it may attend to.
inline void attend(const float* q, const float* keys, const float* values, std::size_t length,
                   const attention_shape& s, float* scores, float* out) {
  const std::size_t group = s.heads / s.kv_heads;
  parallel_for(s.heads, length * s.head_dim * 2, [&](std::size_t h) {
    attend_head(q + h * s.head_dim, keys, values, length, s, (h / group) * s.head_dim,
                scores + h * s.score_stride, out + h * s.head_dim);
  });
}

}  // namespace forma::kernels::cpu
