// forma/kernels/cuda/rope.hpp — the body of the CUDA RoPE kernel, both layouts (rope.cuh launches
// it): one thread per (row, head, pair), rotating x in place.
//
// Row r is the position first_position + r; each of its `heads` heads of head_dim values rotates
// pair i by position · θ^(−2i/head_dim), with the angle computed by the CPU kernel's expressions
// (math::rope_frequency, then cos and sin of the same float angle) — so on the CPU grid runner the
// bits equal kernels/cpu/rope.hpp's; the GPU's cosf/sinf/powf differ from glibc's by a few ulps.
#pragma once

#include <cmath>
#include <cstddef>

#include "forma/core/config.hpp"
#include "forma/kernels/cpu/rope.hpp"
#include "forma/kernels/cuda/grid.hpp"
#include "forma/kernels/math.hpp"

namespace forma::kernels::cuda {

using cpu::rope_layout;

template <rope_layout Layout>
struct rope_body {
  float* x;  // rows × (heads · head_dim)
  unsigned rows;
  unsigned heads;
  unsigned head_dim;
  unsigned first_position;
  float theta;

  using shared_type = no_shared;
  using registers_type = no_registers;

  FORMA_HD std::size_t count() const {
    return static_cast<std::size_t>(rows) * heads * (head_dim / 2);
  }
  FORMA_HD unsigned phases(unsigned) const { return 1; }

  FORMA_HD void phase(unsigned, const thread_index& at, shared_type&, registers_type&) const {
    const std::size_t index = static_cast<std::size_t>(at.block) * at.block_dim + at.thread;
    if (index >= count()) return;
    const unsigned pairs = head_dim / 2;
    const std::size_t per_row = static_cast<std::size_t>(heads) * pairs;
    const std::size_t row = index / per_row;
    const unsigned head = static_cast<unsigned>((index % per_row) / pairs);
    const unsigned pair = static_cast<unsigned>(index % pairs);
    using std::cos;
    using std::sin;
    const float frequency = math::rope_frequency(pair, head_dim, theta);
    const float angle = static_cast<float>(first_position + row) * frequency;
    const float cos_angle = cos(angle), sin_angle = sin(angle);
    float* values = x + row * heads * head_dim + static_cast<std::size_t>(head) * head_dim;
    if constexpr (Layout == rope_layout::interleaved) {
      math::rotate_pair(values[2 * pair], values[2 * pair + 1], cos_angle, sin_angle);
    } else {
      math::rotate_pair(values[pair], values[pair + pairs], cos_angle, sin_angle);
    }
  }
};

}  // namespace forma::kernels::cuda
