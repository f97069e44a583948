// forma/ops/residual.hpp — the residual connection of a transformer block.
//
//   residual_add:  stream (s...), branch (s...)       => stream (s...)   stream += branch, in place
//                  stream (s...), branch (s...), out  => out (s...)      out = stream + branch
// The operands share dtype, device, shape and layout; `out` may be either input.
#pragma once

#include <type_traits>
#include <utility>

#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/elementwise.hpp"
#include "forma/kernels/math.hpp"
#include "forma/ops/common.hpp"

namespace forma {

namespace detail {
template <class S, class B, class O>
inline constexpr bool residual_fits_v = same_dtype_device_shape_v<S, B> &&
                                        same_dtype_device_shape_v<S, O> &&
                                        std::is_same_v<typename S::device_type, host> &&
                                        same_layout_v<S, B, O>;
}  // namespace detail

// residual_add(stream, branch, out): out = stream + branch.
template <tensor S, tensor B, class Out>
  requires writable_tensor<std::remove_cvref_t<Out>>
void residual_add(const S& stream, const B& branch, Out&& out) {
  using O = std::remove_cvref_t<Out>;
  FORMA_RULE_ELEMENTWISE("residual_add: the branch does not fit the stream", S, B, stream, branch);
  FORMA_RULE_ELEMENTWISE("residual_add (result)", S, O, stream, out);
  FORMA_RULE_HOST("residual_add", typename S::device_type);
  static_assert(same_layout_v<S, B, O>, "residual_add: the operands must share a layout");
  if constexpr (detail::residual_fits_v<S, B, O>) {
    kernels::cpu::binary(stream.data(), branch.data(), forma::view(out).data(), stream.size(),
                         math::add{});
  }
}

// residual_add(stream, branch): stream += branch.
template <class S, tensor B>
  requires writable_tensor<std::remove_cvref_t<S>>
void residual_add(S&& stream, const B& branch) {
  residual_add(std::as_const(stream), branch, stream);
}

}  // namespace forma
