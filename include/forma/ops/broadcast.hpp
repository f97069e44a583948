// forma/ops/broadcast.hpp — a row vector broadcast over the leading axes (a bias add).
//
//   add_bias:  x (s..., C), bias (C)  => (s..., C)      out[..., c] = x[..., c] + bias[c]
#pragma once

#include <type_traits>

#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/elementwise.hpp"
#include "forma/kernels/math.hpp"
#include "forma/ops/common.hpp"

namespace forma {

namespace detail {
template <class X, class Bias>
inline constexpr bool bias_fits_v =
    std::is_same_v<typename X::value_type, typename Bias::value_type> &&
    std::is_same_v<typename X::device_type, typename Bias::device_type> &&
    std::is_same_v<typename X::device_type, host> &&
    std::is_same_v<typename X::layout_type, layout_right> &&
    rules::same_extent<last_static_extent<typename X::extents_type>,
                       Bias::extents_type::static_extent(0)>;

#define FORMA_RULE_BIAS(X_TYPE, BIAS_TYPE, x_value, bias_value)                               \
  (FORMA_RULE_SAME_TYPE("add_bias: element types differ (x and bias must have the same dtype)", \
                        typename X_TYPE::value_type, typename BIAS_TYPE::value_type),         \
   FORMA_RULE_SAME_TYPE("add_bias: x and bias live on different devices",                     \
                        typename X_TYPE::device_type, typename BIAS_TYPE::device_type),       \
   FORMA_RULE_HOST("add_bias", typename X_TYPE::device_type),                                 \
   FORMA_RULE_SAME_EXTENT("add_bias: bias length differs from the last axis of x "            \
                          "(x is (..., C), bias is (C))",                                     \
                          ::forma::last_static_extent<typename X_TYPE::extents_type>,         \
                          BIAS_TYPE::extents_type::static_extent(0),                          \
                          (x_value).extent(X_TYPE::extents_type::rank() - 1),                 \
                          (bias_value).extent(0)))
}  // namespace detail

// The rule of add_bias as a concept.
template <class X, class Bias>
concept bias_compatible = tensor<X> && vector<Bias> && X::extents_type::rank() >= 1 &&
                          detail::bias_fits_v<X, Bias>;

// add_bias(x, bias, out): out = x + bias broadcast over the rows.
template <tensor X, vector Bias, class Out>
  requires(writable_tensor<std::remove_cvref_t<Out>> && X::extents_type::rank() >= 1)
void add_bias(const X& x, const Bias& bias, Out&& out) {
  using O = std::remove_cvref_t<Out>;
  static_assert(std::is_same_v<typename X::layout_type, layout_right>,
                "add_bias: x must be row-major (materialize a transposed view with forma::copy)");
  FORMA_RULE_BIAS(X, Bias, x, bias);
  FORMA_RULE_ELEMENTWISE("add_bias (result)", X, O, x, out);
  if constexpr (detail::bias_fits_v<X, Bias> && same_dtype_device_shape_v<X, O> &&
                std::is_same_v<typename O::layout_type, layout_right>) {
    const std::size_t cols = x.extent(X::extents_type::rank() - 1);
    const std::size_t rows = cols == 0 ? 0 : x.extents().size() / cols;
    kernels::cpu::broadcast_rows(x.data(), bias.data(), forma::view(out).data(), rows, cols,
                                 math::add{});
  }
}

// add_bias(x, bias): a new tensor x + bias.
template <tensor X, vector Bias>
  requires(X::extents_type::rank() >= 1)
tensor_t<X> add_bias(const X& x, const Bias& bias) {
  tensor_t<X> result(uninitialized, x.extents());
  add_bias(x, bias, result);
  return result;
}

}  // namespace forma
