// forma/ops/rope_backward.hpp — the gradient of RoPE, shape-checked, in place.
//
//   rope_backward:  dy (H, Dh) at one position            => dx (H, Dh)      Dh even
//                   dy (T, H, Dh) at positions p0..p0+T-1  => dx (T, H, Dh)
// RoPE is a rotation of each pair, so its gradient rotates dy back by the same angle (the
// forward's angle, math::rope_frequency); `Layout` must be the forward's (interleaved or half).
// Takes float or double (the double form serves gradient checks).
#pragma once

#include <cstddef>
#include <type_traits>

#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/rope_backward.hpp"
#include "forma/ops/backward_common.hpp"
#include "forma/ops/rope.hpp"

namespace forma {

#define FORMA_RULE_ROPE_BACKWARD(X_TYPE, x_value)                                             \
  (FORMA_RULE_HOST("rope_backward", typename X_TYPE::device_type),                            \
   FORMA_RULE_DIVIDES("rope_backward: head_dim must be even (RoPE rotates pairs; dy is "       \
                      "(..., H, Dh))",                                                        \
                      std::size_t{2}, ::forma::last_static_extent<typename X_TYPE::extents_type>, \
                      std::size_t{2}, (x_value).extent(X_TYPE::extents_type::rank() - 1)))

// rope_backward(dy, position, theta): dy becomes dx (the first row is at `position`).
template <rope_layout Layout = rope_layout::interleaved, class X>
  requires(writable_tensor<std::remove_cvref_t<X>> &&
           (std::remove_cvref_t<X>::extents_type::rank() == 2 ||
            std::remove_cvref_t<X>::extents_type::rank() == 3) &&
           floating_element<typename std::remove_cvref_t<X>::value_type>)
void rope_backward(X&& dy, std::size_t position, float theta = 10000.0f) {
  using V = std::remove_cvref_t<X>;
  static_assert(std::is_same_v<typename V::layout_type, layout_right>,
                "rope_backward: dy must be row-major");
  FORMA_RULE_ROPE_BACKWARD(V, dy);
  if constexpr (std::is_same_v<typename V::device_type, host> &&
                rules::divides<2, last_static_extent<typename V::extents_type>>) {
    auto v = forma::view(dy);
    constexpr std::size_t rank = V::extents_type::rank();
    const std::size_t heads = v.extent(rank - 2), head_dim = v.extent(rank - 1);
    const std::size_t steps = rank == 3 ? v.extent(0) : 1;
    for (std::size_t t = 0; t < steps; ++t) {
      kernels::cpu::rope_backward_row<Layout>(v.data() + t * heads * head_dim, heads, head_dim,
                                              position + t, theta);
    }
  }
}

}  // namespace forma
