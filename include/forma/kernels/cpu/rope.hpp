// forma/kernels/cpu/rope.hpp — rotary position embeddings, in both layouts.
//
// A row holds `heads` heads of `head_dim` values. Pair i of a head rotates by pos · θ^(−2i/head_dim).
//   interleaved (Meta, llama2.c): pair i is (x[2i], x[2i+1])
//   half        (Hugging Face):   pair i is (x[i], x[i + head_dim/2])
// The interleaved path computes the angle's cosine and sine exactly as llama2.c does.
#pragma once

#include <cmath>
#include <cstddef>

#include "forma/kernels/math.hpp"

namespace forma::kernels::cpu {

enum class rope_layout : unsigned char { interleaved, half };

template <rope_layout Layout>
void rope_row(float* x, std::size_t heads, std::size_t head_dim, std::size_t position,
              float theta) noexcept {
  const std::size_t pairs = head_dim / 2;
  for (std::size_t i = 0; i < pairs; ++i) {
    const float frequency = math::rope_frequency(static_cast<unsigned>(i),
                                                 static_cast<unsigned>(head_dim), theta);
    const float angle = static_cast<float>(position) * frequency;
    const float cos_angle = std::cos(angle), sin_angle = std::sin(angle);
    for (std::size_t h = 0; h < heads; ++h) {
      float* head = x + h * head_dim;
      if constexpr (Layout == rope_layout::interleaved) {
        math::rotate_pair(head[2 * i], head[2 * i + 1], cos_angle, sin_angle);
      } else {
        math::rotate_pair(head[i], head[i + pairs], cos_angle, sin_angle);
      }
    }
  }
}

}  // namespace forma::kernels::cpu
