// forma/ops/elementwise.hpp — element-wise arithmetic.
//
//   add / sub / mul / div:  (s...) ⊙ (s...)  => (s...)    same shape, same dtype, same device
//                           (s...) ⊙ scalar  => (s...)    scalar ⊙ (s...) => (s...)
// Each comes as a named op writing into `out`, a named op returning a new Tensor, the operator
// (+ − * /) and its compound form (+= −= *= /=) on a writable tensor or view. `*` is the
// element-wise (Hadamard) product; the matrix product is forma::matmul. Tensor ⊙ tensor runs on
// cuda tensors too (row-major, in a file nvcc compiles: kernels/cuda/elementwise.cuh); the scalar
// forms take host tensors.
#pragma once

#include <type_traits>
#include <utility>

#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/elementwise.hpp"
#include "forma/kernels/math.hpp"
#include "forma/ops/common.hpp"
#if FORMA_CUDA_KERNELS
#include "forma/kernels/cuda/elementwise.cuh"
#endif

namespace forma {

// A scalar operand of an element-wise op: any arithmetic value, converted to the tensor's dtype.
template <class S>
concept scalar = std::is_arithmetic_v<std::remove_cvref_t<S>>;

namespace detail {

template <class Op, class VA, class VB, class VOut>
void elementwise_into(VA a, VB b, VOut out, Op op) {
  if constexpr (std::is_same_v<typename VOut::device_type, cuda>) {
#if FORMA_CUDA_KERNELS
    static_assert(same_layout_v<VA, VB, VOut> && std::is_same_v<typename VOut::layout_type, layout_right>,
                  "element-wise ops on cuda tensors take row-major operands");
    kernels::cuda::binary(a.data(), b.data(), out.data(), out.size(), op);
#endif
  } else if constexpr (same_layout_v<VA, VB, VOut>) {
    kernels::cpu::binary(a.data(), b.data(), out.data(), out.size(), op);
  } else {
    for_each_index(out.extents(), [&](const auto& index) { out[index] = op(a[index], b[index]); });
  }
}

template <class Op, class VA, class T, class VOut>
void elementwise_scalar_into(VA a, T s, VOut out, Op op, bool scalar_first) {
  if constexpr (same_layout_v<VA, VOut>) {
    if (scalar_first) {
      kernels::cpu::scalar_binary(s, a.data(), out.data(), out.size(), op);
    } else {
      kernels::cpu::binary_scalar(a.data(), s, out.data(), out.size(), op);
    }
  } else {
    for_each_index(out.extents(), [&](const auto& index) {
      out[index] = scalar_first ? op(s, a[index]) : op(a[index], s);
    });
  }
}

}  // namespace detail
}  // namespace forma

// Defines the family of one element-wise op; NAME is the op's name in diagnostics.
#define FORMA_DEFINE_ELEMENTWISE(FN, OPERATOR, COMPOUND, MATH_OP, NAME)                        \
  namespace forma {                                                                           \
  /* FN(a, b, out): out = a ⊙ b.  (s...), (s...) => (s...) */                                 \
  template <tensor A, tensor B, class Out>                                                    \
    requires writable_tensor<std::remove_cvref_t<Out>>                                        \
  void FN(const A& a, const B& b, Out&& out) {                                                \
    using O = std::remove_cvref_t<Out>;                                                       \
    FORMA_RULE_ELEMENTWISE(NAME, A, B, a, b);                                                 \
    FORMA_RULE_ELEMENTWISE(NAME " (result)", A, O, a, out);                                   \
    FORMA_RULE_DEVICE_KERNELS(NAME, typename A::device_type);                                 \
    if constexpr (same_dtype_device_shape_v<A, B> && same_dtype_device_shape_v<A, O> &&       \
                  FORMA_HAS_DEVICE_KERNELS(typename A::device_type)) {                        \
      detail::elementwise_into(forma::view(a), forma::view(b), forma::view(out), MATH_OP{});  \
    }                                                                                         \
  }                                                                                           \
  /* FN(a, b): a new tensor a ⊙ b. */                                                         \
  template <tensor A, tensor B>                                                               \
  auto FN(const A& a, const B& b)                                                             \
      -> Tensor<typename A::value_type,                                                       \
                common_extents_t<typename A::extents_type, typename B::extents_type>,         \
                typename A::device_type> {                                                    \
    using R = Tensor<typename A::value_type,                                                  \
                     common_extents_t<typename A::extents_type, typename B::extents_type>,    \
                     typename A::device_type>;                                                \
    FORMA_RULE_ELEMENTWISE(NAME, A, B, a, b);                                                 \
    FORMA_RULE_DEVICE_KERNELS(NAME, typename A::device_type);                                 \
    if constexpr (same_dtype_device_shape_v<A, B> &&                                          \
                  FORMA_HAS_DEVICE_KERNELS(typename A::device_type)) {                        \
      R result(uninitialized, common_extents(a.extents(), b.extents()));                      \
      detail::elementwise_into(forma::view(a), forma::view(b), result.view(), MATH_OP{});     \
      return result;                                                                          \
    } else {                                                                                  \
      return R();                                                                             \
    }                                                                                         \
  }                                                                                           \
  /* FN(a, s, out) and FN(a, s): with a scalar on the right. */                               \
  template <tensor A, scalar S, class Out>                                                    \
    requires writable_tensor<std::remove_cvref_t<Out>>                                        \
  void FN(const A& a, S s, Out&& out) {                                                       \
    using O = std::remove_cvref_t<Out>;                                                       \
    FORMA_RULE_ELEMENTWISE(NAME " (result)", A, O, a, out);                                   \
    FORMA_RULE_HOST(NAME, typename A::device_type);                                           \
    if constexpr (same_dtype_device_shape_v<A, O> &&                                          \
                  std::is_same_v<typename A::device_type, host>) {                            \
      detail::elementwise_scalar_into(forma::view(a), static_cast<typename A::value_type>(s), \
                                      forma::view(out), MATH_OP{}, false);                    \
    }                                                                                         \
  }                                                                                           \
  template <tensor A, scalar S>                                                               \
  tensor_t<A> FN(const A& a, S s) {                                                           \
    tensor_t<A> result(uninitialized, a.extents());                                           \
    FN(a, s, result);                                                                         \
    return result;                                                                            \
  }                                                                                           \
  /* Operators. */                                                                            \
  template <tensor A, tensor B>                                                               \
  auto operator OPERATOR(const A& a, const B& b) -> decltype(FN(a, b)) {                      \
    return FN(a, b);                                                                          \
  }                                                                                           \
  template <tensor A, scalar S>                                                               \
  tensor_t<A> operator OPERATOR(const A& a, S s) {                                            \
    return FN(a, s);                                                                          \
  }                                                                                           \
  template <scalar S, tensor A>                                                               \
  tensor_t<A> operator OPERATOR(S s, const A& a) {                                            \
    FORMA_RULE_HOST(NAME, typename A::device_type);                                           \
    tensor_t<A> result(uninitialized, a.extents());                                           \
    if constexpr (std::is_same_v<typename A::device_type, host>) {                            \
      detail::elementwise_scalar_into(forma::view(a), static_cast<typename A::value_type>(s), \
                                      result.view(), MATH_OP{}, true);                        \
    }                                                                                         \
    return result;                                                                            \
  }                                                                                           \
  /* Compound assignment on a writable tensor or view (which may be a temporary view). */     \
  template <class X, tensor B>                                                                \
    requires writable_tensor<std::remove_cvref_t<X>>                                          \
  X&& operator COMPOUND(X&& x, const B& b) {                                                  \
    FN(x, b, x);                                                                              \
    return std::forward<X>(x);                                                                \
  }                                                                                           \
  template <class X, scalar S>                                                                \
    requires writable_tensor<std::remove_cvref_t<X>>                                          \
  X&& operator COMPOUND(X&& x, S s) {                                                         \
    FN(x, s, x);                                                                              \
    return std::forward<X>(x);                                                                \
  }                                                                                           \
  }

FORMA_DEFINE_ELEMENTWISE(add, +, +=, math::add, "add")
FORMA_DEFINE_ELEMENTWISE(sub, -, -=, math::subtract, "sub")
FORMA_DEFINE_ELEMENTWISE(mul, *, *=, math::multiply, "mul")
FORMA_DEFINE_ELEMENTWISE(div, /, /=, math::divide, "div")

#undef FORMA_DEFINE_ELEMENTWISE
