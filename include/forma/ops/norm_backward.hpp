// forma/ops/norm_backward.hpp — the gradients of RMSNorm and LayerNorm, shape-checked.
//
//   rmsnorm_backward:    x (s..., D), weight (D), dy (s..., D)
//                        => dx (s..., D) (overwritten), dweight (D) += Σ dy ⊙ x̂
//   layernorm_backward:  x (s..., D), weight (D), dy (s..., D)
//                        => dx (s..., D), dweight (D) += Σ dy ⊙ x̂, dbias (D) += Σ dy
// The statistics are recomputed from x with the forward's eps (default 1e-5). dx may be dy.
#pragma once

#include <cstddef>
#include <type_traits>

#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/norm_backward.hpp"
#include "forma/ops/backward_common.hpp"

namespace forma {

namespace detail {
template <class X>
inline constexpr std::size_t norm_width_v = last_static_extent<typename X::extents_type>;

template <class X>
std::size_t norm_width(const X& x) {
  return x.extent(X::extents_type::rank() - 1);
}

template <class X, class W, class DY, class DX, class DW>
inline constexpr bool norm_backward_fits_v =
    backward_operands_v<std::remove_cv_t<typename X::value_type>, X, W, DY, DX, DW> &&
    rules::same_shape<typename X::extents_type, typename DY::extents_type> &&
    rules::same_shape<typename X::extents_type, typename DX::extents_type> &&
    rules::same_extent<norm_width_v<X>, W::extents_type::static_extent(0)> &&
    rules::same_extent<norm_width_v<X>, DW::extents_type::static_extent(0)>;
}  // namespace detail

// The rules of both: every operand of x's dtype, row-major, on the host; dy and dx of x's shape;
// weight and dweight of x's width.
#define FORMA_RULE_NORM_BACKWARD(OP_NAME, X, W, DY, DX, DW, x, w, dy, dx, dw)                 \
  (FORMA_RULE_BACKWARD_OPERAND(OP_NAME, "x", std::remove_cv_t<typename X::value_type>, X),     \
   FORMA_RULE_BACKWARD_OPERAND(OP_NAME, "weight", std::remove_cv_t<typename X::value_type>, W), \
   FORMA_RULE_BACKWARD_OPERAND(OP_NAME, "dy", std::remove_cv_t<typename X::value_type>, DY),   \
   FORMA_RULE_BACKWARD_OPERAND(OP_NAME, "dx", std::remove_cv_t<typename X::value_type>, DX),   \
   FORMA_RULE_BACKWARD_OPERAND(OP_NAME, "dweight", std::remove_cv_t<typename X::value_type>, DW), \
   FORMA_RULE_SAME_SHAPE(OP_NAME ": dy must have the shape of x", ::forma::extents_of_t<X>,    \
                         ::forma::extents_of_t<DY>, (x).extents(), (dy).extents()),           \
   FORMA_RULE_SAME_SHAPE(OP_NAME ": dx must have the shape of x", ::forma::extents_of_t<X>,    \
                         ::forma::extents_of_t<DX>, (x).extents(), (dx).extents()),           \
   FORMA_RULE_SAME_EXTENT(OP_NAME ": weight length differs from the last axis of x (x is "     \
                                  "(..., D), weight is (D))",                                 \
                          ::forma::detail::norm_width_v<X>, W::extents_type::static_extent(0), \
                          ::forma::detail::norm_width(x), (w).extent(0)),                     \
   FORMA_RULE_SAME_EXTENT(OP_NAME ": dweight length differs from the last axis of x (x is "    \
                                  "(..., D), dweight is (D))",                                \
                          ::forma::detail::norm_width_v<X>, DW::extents_type::static_extent(0), \
                          ::forma::detail::norm_width(x), (dw).extent(0)))

// rmsnorm_backward(x, weight, dy, dx, dweight, eps): dx overwritten, dweight accumulated.
template <tensor X, vector W, tensor DY, class DX, class DW>
  requires(writable_tensor<std::remove_cvref_t<DX>> && writable_tensor<std::remove_cvref_t<DW>> &&
           vector<std::remove_cvref_t<DW>> && X::extents_type::rank() >= 1 &&
           floating_element<typename X::value_type>)
void rmsnorm_backward(const X& x, const W& weight, const DY& dy, DX&& dx, DW&& dweight,
                      std::remove_cv_t<typename X::value_type> eps = 1e-5f) {
  using DXT = std::remove_cvref_t<DX>;
  using DWT = std::remove_cvref_t<DW>;
  FORMA_RULE_NORM_BACKWARD("rmsnorm_backward", X, W, DY, DXT, DWT, x, weight, dy, dx, dweight);
  if constexpr (detail::norm_backward_fits_v<X, W, DY, DXT, DWT>) {
    const std::size_t n = detail::norm_width(x);
    kernels::cpu::rmsnorm_backward_rows(x.data(), weight.data(), dy.data(), forma::view(dx).data(),
                                        forma::view(dweight).data(), n == 0 ? 0 : x.size() / n, n,
                                        eps);
  }
}

// layernorm_backward(x, weight, dy, dx, dweight, dbias, eps): dx overwritten, dweight and dbias
// accumulated.
template <tensor X, vector W, tensor DY, class DX, class DW, class DB>
  requires(writable_tensor<std::remove_cvref_t<DX>> && writable_tensor<std::remove_cvref_t<DW>> &&
           vector<std::remove_cvref_t<DW>> && writable_tensor<std::remove_cvref_t<DB>> &&
           vector<std::remove_cvref_t<DB>> && X::extents_type::rank() >= 1 &&
           floating_element<typename X::value_type>)
void layernorm_backward(const X& x, const W& weight, const DY& dy, DX&& dx, DW&& dweight,
                        DB&& dbias, std::remove_cv_t<typename X::value_type> eps = 1e-5f) {
  using DXT = std::remove_cvref_t<DX>;
  using DWT = std::remove_cvref_t<DW>;
  using DBT = std::remove_cvref_t<DB>;
  FORMA_RULE_NORM_BACKWARD("layernorm_backward", X, W, DY, DXT, DWT, x, weight, dy, dx, dweight);
  FORMA_RULE_BACKWARD_OPERAND("layernorm_backward", "dbias",
                              std::remove_cv_t<typename X::value_type>, DBT);
  FORMA_RULE_SAME_EXTENT("layernorm_backward: dbias length differs from the last axis of x (x "
                         "is (..., D), dbias is (D))",
                         detail::norm_width_v<X>, DBT::extents_type::static_extent(0),
                         detail::norm_width(x), dbias.extent(0));
  if constexpr (detail::norm_backward_fits_v<X, W, DY, DXT, DWT> &&
                detail::backward_operands_v<std::remove_cv_t<typename X::value_type>, DBT> &&
                rules::same_extent<detail::norm_width_v<X>, DBT::extents_type::static_extent(0)>) {
    const std::size_t n = detail::norm_width(x);
    kernels::cpu::layernorm_backward_rows(x.data(), weight.data(), dy.data(),
                                          forma::view(dx).data(), forma::view(dweight).data(),
                                          forma::view(dbias).data(), n == 0 ? 0 : x.size() / n,
                                          n, eps);
  }
}

}  // namespace forma
