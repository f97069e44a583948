// forma/ops/linear_backward.hpp — the gradients of the Linear layer y = x · wᵀ (+ b), shape-checked.
//
//   linear_backward:  x (T, In), w (Out, In), dy (T, Out)
//                     => dx (T, In)    = dy · w          (overwritten)
//                        dw (Out, In) += dyᵀ · x          (accumulated)
//                        db (Out)     += Σ_t dy           (accumulated; the form without db skips it)
// The same product rule as matmul_nt's backward (A = x, B = w). A gradient of the wrong shape is a
// compile error when its extents are static, a forma::shape_error otherwise.
#pragma once

#include <cstddef>
#include <type_traits>

#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/linear_backward.hpp"
#include "forma/ops/backward_common.hpp"

namespace forma {

namespace detail {
template <class X, class W, class DY, class DX, class DW>
inline constexpr bool linear_backward_fits_v =
    floating_element<typename X::value_type> &&
    backward_operands_v<std::remove_cv_t<typename X::value_type>, X, W, DY, DX, DW> &&
    rules::same_extent<X::extents_type::static_extent(1), W::extents_type::static_extent(1)> &&
    rules::same_extent<DY::extents_type::static_extent(1), W::extents_type::static_extent(0)> &&
    rules::same_extent<DY::extents_type::static_extent(0), X::extents_type::static_extent(0)> &&
    rules::same_shape<typename X::extents_type, typename DX::extents_type> &&
    rules::same_shape<typename W::extents_type, typename DW::extents_type>;
}  // namespace detail

#define FORMA_RULE_LINEAR_BACKWARD(X, W, DY, DX, DW, x, w, dy, dx, dw)                        \
  (FORMA_RULE_BACKWARD_OPERAND("linear_backward", "x", std::remove_cv_t<typename X::value_type>, X), \
   FORMA_RULE_BACKWARD_OPERAND("linear_backward", "w", std::remove_cv_t<typename X::value_type>, W), \
   FORMA_RULE_BACKWARD_OPERAND("linear_backward", "dy", std::remove_cv_t<typename X::value_type>, DY), \
   FORMA_RULE_BACKWARD_OPERAND("linear_backward", "dx", std::remove_cv_t<typename X::value_type>, DX), \
   FORMA_RULE_BACKWARD_OPERAND("linear_backward", "dw", std::remove_cv_t<typename X::value_type>, DW), \
   FORMA_RULE_SAME_EXTENT("linear_backward: x's width differs from w's inputs (x is (T, In), "  \
                          "w is (Out, In))",                                                  \
                          X::extents_type::static_extent(1), W::extents_type::static_extent(1), \
                          (x).extent(1), (w).extent(1)),                                      \
   FORMA_RULE_SAME_EXTENT("linear_backward: dy's width differs from w's outputs (dy is "       \
                          "(T, Out), w is (Out, In))",                                        \
                          DY::extents_type::static_extent(1), W::extents_type::static_extent(0), \
                          (dy).extent(1), (w).extent(0)),                                     \
   FORMA_RULE_SAME_EXTENT("linear_backward: dy's rows differ from x's (x is (T, In), dy is "   \
                          "(T, Out))",                                                        \
                          DY::extents_type::static_extent(0), X::extents_type::static_extent(0), \
                          (dy).extent(0), (x).extent(0)),                                     \
   FORMA_RULE_SAME_SHAPE("linear_backward: dx must have the shape of x (T, In)",              \
                         ::forma::extents_of_t<X>, ::forma::extents_of_t<DX>, (x).extents(),  \
                         (dx).extents()),                                                     \
   FORMA_RULE_SAME_SHAPE("linear_backward: dw must have the shape of w (Out, In)",            \
                         ::forma::extents_of_t<W>, ::forma::extents_of_t<DW>, (w).extents(),  \
                         (dw).extents()))

// linear_backward(x, w, dy, dx, dw): dx = dy · w, dw += dyᵀ · x.
template <matrix X, matrix W, matrix DY, class DX, class DW>
  requires(writable_tensor<std::remove_cvref_t<DX>> && matrix<std::remove_cvref_t<DX>> &&
           writable_tensor<std::remove_cvref_t<DW>> && matrix<std::remove_cvref_t<DW>>)
void linear_backward(const X& x, const W& w, const DY& dy, DX&& dx, DW&& dw) {
  using DXT = std::remove_cvref_t<DX>;
  using DWT = std::remove_cvref_t<DW>;
  FORMA_RULE_LINEAR_BACKWARD(X, W, DY, DXT, DWT, x, w, dy, dx, dw);
  if constexpr (detail::linear_backward_fits_v<X, W, DY, DXT, DWT>) {
    kernels::cpu::linear_backward(x.data(), w.data(), dy.data(), forma::view(dx).data(),
                                  forma::view(dw).data(),
                                  static_cast<std::remove_cv_t<typename X::value_type>*>(nullptr),
                                  x.extent(0), x.extent(1), w.extent(0));
  }
}

// linear_backward(x, w, dy, dx, dw, db): and db += Σ_t dy (the bias's gradient).
template <matrix X, matrix W, matrix DY, class DX, class DW, class DB>
  requires(writable_tensor<std::remove_cvref_t<DX>> && matrix<std::remove_cvref_t<DX>> &&
           writable_tensor<std::remove_cvref_t<DW>> && matrix<std::remove_cvref_t<DW>> &&
           writable_tensor<std::remove_cvref_t<DB>> && vector<std::remove_cvref_t<DB>>)
void linear_backward(const X& x, const W& w, const DY& dy, DX&& dx, DW&& dw, DB&& db) {
  using DXT = std::remove_cvref_t<DX>;
  using DWT = std::remove_cvref_t<DW>;
  using DBT = std::remove_cvref_t<DB>;
  FORMA_RULE_LINEAR_BACKWARD(X, W, DY, DXT, DWT, x, w, dy, dx, dw);
  FORMA_RULE_BACKWARD_OPERAND("linear_backward", "db", std::remove_cv_t<typename X::value_type>, DBT);
  FORMA_RULE_SAME_EXTENT("linear_backward: db's length differs from w's outputs (w is "
                         "(Out, In), db is (Out))",
                         DBT::extents_type::static_extent(0), W::extents_type::static_extent(0),
                         db.extent(0), w.extent(0));
  if constexpr (detail::linear_backward_fits_v<X, W, DY, DXT, DWT> &&
                detail::backward_operands_v<std::remove_cv_t<typename X::value_type>, DBT> &&
                rules::same_extent<DBT::extents_type::static_extent(0),
                                   W::extents_type::static_extent(0)>) {
    kernels::cpu::linear_backward(x.data(), w.data(), dy.data(), forma::view(dx).data(),
                                  forma::view(dw).data(), forma::view(db).data(), x.extent(0),
                                  x.extent(1), w.extent(0));
  }
}

}  // namespace forma
