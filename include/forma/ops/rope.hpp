// forma/ops/rope.hpp — rotary position embeddings, shape-checked, in place.
//
//   rope:  x (H, Dh) at one position           => (H, Dh)       Dh even
//          x (T, H, Dh) at positions p0..p0+T-1 => (T, H, Dh)
// Pair i of every head rotates by position · θ^(−2i/Dh). Layout `interleaved` pairs (x[2i],
// x[2i+1]) (Meta, llama2.c); `half` pairs (x[i], x[i + Dh/2]) (Hugging Face). At position 0 it is
// the identity.
#pragma once

#include <cstddef>
#include <type_traits>

#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/rope.hpp"
#include "forma/ops/common.hpp"

namespace forma {

using kernels::cpu::rope_layout;

#define FORMA_RULE_ROPE(X_TYPE, x_value)                                                      \
  (FORMA_RULE_HOST("rope", typename X_TYPE::device_type),                                     \
   FORMA_RULE_DIVIDES("rope: head_dim must be even (RoPE rotates pairs; x is (..., H, Dh))",   \
                      std::size_t{2}, ::forma::last_static_extent<typename X_TYPE::extents_type>, \
                      std::size_t{2}, (x_value).extent(X_TYPE::extents_type::rank() - 1)))

// rope(x, position, theta): rotates the heads of one position, x (H, Dh).
template <rope_layout Layout = rope_layout::interleaved, class X>
  requires(writable_tensor<std::remove_cvref_t<X>> && (std::remove_cvref_t<X>::extents_type::rank() == 2 ||
                                                       std::remove_cvref_t<X>::extents_type::rank() == 3))
void rope(X&& x, std::size_t position, float theta = 10000.0f) {
  using V = std::remove_cvref_t<X>;
  static_assert(std::is_same_v<typename V::value_type, float>, "rope: x must hold float");
  static_assert(std::is_same_v<typename V::layout_type, layout_right>, "rope: x must be row-major");
  FORMA_RULE_ROPE(V, x);
  if constexpr (std::is_same_v<typename V::device_type, host> &&
                rules::divides<2, last_static_extent<typename V::extents_type>>) {
    auto v = forma::view(x);
    constexpr std::size_t rank = V::extents_type::rank();
    const std::size_t heads = v.extent(rank - 2), head_dim = v.extent(rank - 1);
    const std::size_t steps = rank == 3 ? v.extent(0) : 1;
    for (std::size_t t = 0; t < steps; ++t) {
      kernels::cpu::rope_row<Layout>(v.data() + t * heads * head_dim, heads, head_dim,
                                     position + t, theta);
    }
  }
}

}  // namespace forma
