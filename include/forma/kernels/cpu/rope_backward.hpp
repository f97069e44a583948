// forma/kernels/cpu/rope_backward.hpp — the gradient of RoPE: the inverse rotation.
//
// The forward rotates each pair (a, b) by the angle position · θ^(−2i/head_dim) (an orthogonal
// map), so the gradient of its input is dy rotated back by the same angle: the rotation by
// (cos, −sin). The angle is computed exactly as the forward computes it (math::rope_frequency,
// in float), and the pairs are the forward's: interleaved (x[2i], x[2i+1]) or half
// (x[i], x[i + head_dim/2]). In place on a row of `heads` heads of `head_dim` values.
#pragma once

#include <cmath>
#include <cstddef>

#include "forma/kernels/cpu/rope.hpp"
#include "forma/kernels/math.hpp"

namespace forma::kernels::cpu {

template <rope_layout Layout, class T>
void rope_backward_row(T* dx, std::size_t heads, std::size_t head_dim, std::size_t position,
                       float theta) noexcept {
  const std::size_t pairs = head_dim / 2;
  for (std::size_t i = 0; i < pairs; ++i) {
    const float frequency = math::rope_frequency(static_cast<unsigned>(i),
                                                 static_cast<unsigned>(head_dim), theta);
    const float angle = static_cast<float>(position) * frequency;
    const T cos_angle = static_cast<T>(std::cos(static_cast<T>(angle)));
    const T sin_angle = static_cast<T>(std::sin(static_cast<T>(angle)));
    for (std::size_t h = 0; h < heads; ++h) {
      T* head = dx + h * head_dim;
      if constexpr (Layout == rope_layout::interleaved) {
        math::rotate_pair(head[2 * i], head[2 * i + 1], cos_angle, -sin_angle);
      } else {
        math::rotate_pair(head[i], head[i + pairs], cos_angle, -sin_angle);
      }
    }
  }
}

}  // namespace forma::kernels::cpu
