// forma/ops/activation_backward.hpp — the gradients of the activations, shape-checked.
//
//   silu_backward, gelu_backward (erf), gelu_tanh_backward:
//              x (s...), dy (s...)                 => dx (s...) = dy ⊙ f'(x)
//   swiglu_backward:
//              gate (s...), up (s...), dy (s...)   => dgate = dy ⊙ up ⊙ silu'(gate),
//                                                     dup   = dy ⊙ silu(gate)
// Each takes the forward's inputs; the outputs are overwritten and may be dy.
#pragma once

#include <tuple>
#include <type_traits>

#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/activation_backward.hpp"
#include "forma/kernels/math.hpp"
#include "forma/ops/backward_common.hpp"

namespace forma::detail {
template <class T, class... Views>
inline constexpr bool elementwise_backward_fits_v =
    backward_operands_v<T, Views...> &&
    (rules::same_shape<typename std::tuple_element_t<0, std::tuple<Views...>>::extents_type,
                       typename Views::extents_type> &&
     ...);
}  // namespace forma::detail

// Defines FN(x, dy, dx) and FN(x, dy) for the derivative MATH_GRAD.
#define FORMA_DEFINE_ACTIVATION_BACKWARD(FN, MATH_GRAD, NAME)                                 \
  namespace forma {                                                                           \
  template <tensor X, tensor DY, class DX>                                                    \
    requires(writable_tensor<std::remove_cvref_t<DX>> &&                                      \
             floating_element<typename X::value_type>)                                        \
  void FN(const X& x, const DY& dy, DX&& dx) {                                                \
    using DXT = std::remove_cvref_t<DX>;                                                      \
    using T = std::remove_cv_t<typename X::value_type>;                                       \
    FORMA_RULE_BACKWARD_OPERAND(NAME, "x", T, X);                                             \
    FORMA_RULE_BACKWARD_OPERAND(NAME, "dy", T, DY);                                           \
    FORMA_RULE_BACKWARD_OPERAND(NAME, "dx", T, DXT);                                          \
    FORMA_RULE_SAME_SHAPE(NAME ": dy must have the shape of x", extents_of_t<X>,              \
                          extents_of_t<DY>, x.extents(), dy.extents());                       \
    FORMA_RULE_SAME_SHAPE(NAME ": dx must have the shape of x", extents_of_t<X>,              \
                          extents_of_t<DXT>, x.extents(), dx.extents());                      \
    if constexpr (detail::elementwise_backward_fits_v<T, X, DY, DXT>) {                       \
      kernels::cpu::activation_backward(x.data(), dy.data(), forma::view(dx).data(), x.size(), \
                                        [](T value) { return MATH_GRAD(value); });            \
    }                                                                                         \
  }                                                                                           \
  template <tensor X, tensor DY>                                                              \
    requires floating_element<typename X::value_type>                                         \
  tensor_t<X> FN(const X& x, const DY& dy) {                                                  \
    tensor_t<X> dx(uninitialized, x.extents());                                               \
    FN(x, dy, dx);                                                                            \
    return dx;                                                                                \
  }                                                                                           \
  }

FORMA_DEFINE_ACTIVATION_BACKWARD(silu_backward, math::silu_grad, "silu_backward")
FORMA_DEFINE_ACTIVATION_BACKWARD(gelu_backward, math::gelu_erf_grad, "gelu_backward")
FORMA_DEFINE_ACTIVATION_BACKWARD(gelu_tanh_backward, math::gelu_tanh_grad, "gelu_tanh_backward")

#undef FORMA_DEFINE_ACTIVATION_BACKWARD

namespace forma {

// swiglu_backward(gate, up, dy, dgate, dup)
template <tensor G, tensor U, tensor DY, class DG, class DU>
  requires(writable_tensor<std::remove_cvref_t<DG>> && writable_tensor<std::remove_cvref_t<DU>> &&
           floating_element<typename G::value_type>)
void swiglu_backward(const G& gate, const U& up, const DY& dy, DG&& dgate, DU&& dup) {
  using DGT = std::remove_cvref_t<DG>;
  using DUT = std::remove_cvref_t<DU>;
  using T = std::remove_cv_t<typename G::value_type>;
  FORMA_RULE_BACKWARD_OPERAND("swiglu_backward", "gate", T, G);
  FORMA_RULE_BACKWARD_OPERAND("swiglu_backward", "up", T, U);
  FORMA_RULE_BACKWARD_OPERAND("swiglu_backward", "dy", T, DY);
  FORMA_RULE_BACKWARD_OPERAND("swiglu_backward", "dgate", T, DGT);
  FORMA_RULE_BACKWARD_OPERAND("swiglu_backward", "dup", T, DUT);
  FORMA_RULE_SAME_SHAPE("swiglu_backward: up must have the shape of gate", extents_of_t<G>,
                        extents_of_t<U>, gate.extents(), up.extents());
  FORMA_RULE_SAME_SHAPE("swiglu_backward: dy must have the shape of gate", extents_of_t<G>,
                        extents_of_t<DY>, gate.extents(), dy.extents());
  FORMA_RULE_SAME_SHAPE("swiglu_backward: dgate must have the shape of gate", extents_of_t<G>,
                        extents_of_t<DGT>, gate.extents(), dgate.extents());
  FORMA_RULE_SAME_SHAPE("swiglu_backward: dup must have the shape of gate", extents_of_t<G>,
                        extents_of_t<DUT>, gate.extents(), dup.extents());
  if constexpr (detail::elementwise_backward_fits_v<T, G, U, DY, DGT, DUT>) {
    kernels::cpu::swiglu_backward(gate.data(), up.data(), dy.data(), forma::view(dgate).data(),
                                  forma::view(dup).data(), gate.size());
  }
}

}  // namespace forma
