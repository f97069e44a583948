// forma/ops/activation.hpp — activations, shape-checked.
//
//   silu, gelu (exact, erf), gelu_tanh (GPT-2's approximation):  x (s...) => (s...)
//   swiglu:  gate (s...), up (s...)  => (s...)   silu(gate) ⊙ up (the Llama feed-forward gate)
// `out` may be an input.
#pragma once

#include <type_traits>

#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/activation.hpp"
#include "forma/kernels/math.hpp"
#include "forma/ops/common.hpp"

namespace forma {

namespace detail {
template <class X, class O>
inline constexpr bool unary_fits_v = same_dtype_device_shape_v<X, O> &&
                                     std::is_same_v<typename X::device_type, host> &&
                                     same_layout_v<X, O>;
}  // namespace detail

}  // namespace forma

// Defines FN(x, out) and FN(x) for a per-element function MATH_FN.
#define FORMA_DEFINE_ACTIVATION(FN, MATH_FN, NAME)                                            \
  namespace forma {                                                                           \
  template <tensor X, class Out>                                                              \
    requires(writable_tensor<std::remove_cvref_t<Out>> &&                                     \
             floating_element<typename X::value_type>)                                        \
  void FN(const X& x, Out&& out) {                                                            \
    using O = std::remove_cvref_t<Out>;                                                       \
    FORMA_RULE_ELEMENTWISE(NAME " (result)", X, O, x, out);                                   \
    FORMA_RULE_HOST(NAME, typename X::device_type);                                           \
    static_assert(same_layout_v<X, O>, NAME ": x and the result must share a layout");        \
    if constexpr (detail::unary_fits_v<X, O>) {                                               \
      using T = typename X::value_type;                                                       \
      kernels::cpu::map(x.data(), forma::view(out).data(), x.size(),                          \
                        [](T value) { return MATH_FN(value); });                              \
    }                                                                                         \
  }                                                                                           \
  template <tensor X>                                                                         \
    requires floating_element<typename X::value_type>                                         \
  Tensor<typename X::value_type, typename X::extents_type, typename X::device_type> FN(        \
      const X& x) {                                                                           \
    static_assert(std::is_same_v<typename X::layout_type, layout_right>,                      \
                  NAME ": x must be row-major for the returning form");                       \
    tensor_t<X> result(uninitialized, x.extents());                                           \
    FN(x, result);                                                                            \
    return result;                                                                            \
  }                                                                                           \
  }

FORMA_DEFINE_ACTIVATION(silu, math::silu, "silu")
FORMA_DEFINE_ACTIVATION(gelu, math::gelu_erf, "gelu")
FORMA_DEFINE_ACTIVATION(gelu_tanh, math::gelu_tanh, "gelu_tanh")

#undef FORMA_DEFINE_ACTIVATION

namespace forma {

// swiglu(gate, up, out): out = silu(gate) ⊙ up.
template <tensor G, tensor U, class Out>
  requires(writable_tensor<std::remove_cvref_t<Out>> && floating_element<typename G::value_type>)
void swiglu(const G& gate, const U& up, Out&& out) {
  using O = std::remove_cvref_t<Out>;
  FORMA_RULE_ELEMENTWISE("swiglu", G, U, gate, up);
  FORMA_RULE_ELEMENTWISE("swiglu (result)", G, O, gate, out);
  FORMA_RULE_HOST("swiglu", typename G::device_type);
  static_assert(same_layout_v<G, U, O>, "swiglu: gate, up and the result must share a layout");
  if constexpr (same_dtype_device_shape_v<G, U> && detail::unary_fits_v<G, O> &&
                same_layout_v<G, U, O>) {
    kernels::cpu::swiglu(gate.data(), up.data(), forma::view(out).data(), gate.size());
  }
}

template <tensor G, tensor U>
  requires floating_element<typename G::value_type>
tensor_t<G> swiglu(const G& gate, const U& up) {
  tensor_t<G> result(uninitialized, gate.extents());
  swiglu(gate, up, result);
  return result;
}

}  // namespace forma
