// forma/ops/softmax_backward.hpp — the gradient of a row-wise softmax, shape-checked.
//
//   softmax_backward:  y (s..., N) = softmax(x), dy (s..., N)  => dx (s..., N) = y ⊙ (dy − Σ dy ⊙ y)
// Takes the forward's output (a masked entry of softmax_causal / softmax_valid is 0 there, so
// those rows work too). dx may be dy or y.
#pragma once

#include <cstddef>
#include <type_traits>

#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/softmax_backward.hpp"
#include "forma/ops/backward_common.hpp"

namespace forma {

// softmax_backward(y, dy, dx)
template <tensor Y, tensor DY, class DX>
  requires(writable_tensor<std::remove_cvref_t<DX>> && Y::extents_type::rank() >= 1 &&
           floating_element<typename Y::value_type>)
void softmax_backward(const Y& y, const DY& dy, DX&& dx) {
  using DXT = std::remove_cvref_t<DX>;
  using T = std::remove_cv_t<typename Y::value_type>;
  FORMA_RULE_BACKWARD_OPERAND("softmax_backward", "y", T, Y);
  FORMA_RULE_BACKWARD_OPERAND("softmax_backward", "dy", T, DY);
  FORMA_RULE_BACKWARD_OPERAND("softmax_backward", "dx", T, DXT);
  FORMA_RULE_SAME_SHAPE("softmax_backward: dy must have the shape of y", extents_of_t<Y>,
                        extents_of_t<DY>, y.extents(), dy.extents());
  FORMA_RULE_SAME_SHAPE("softmax_backward: dx must have the shape of y", extents_of_t<Y>,
                        extents_of_t<DXT>, y.extents(), dx.extents());
  if constexpr (detail::backward_operands_v<T, Y, DY, DXT> &&
                rules::same_shape<typename Y::extents_type, typename DY::extents_type> &&
                rules::same_shape<typename Y::extents_type, typename DXT::extents_type>) {
    const std::size_t n = y.extent(Y::extents_type::rank() - 1);
    kernels::cpu::softmax_backward_rows(y.data(), dy.data(), forma::view(dx).data(),
                                        n == 0 ? 0 : y.size() / n, n);
  }
}

// softmax_backward(y, dy): a new dx.
template <tensor Y, tensor DY>
  requires(Y::extents_type::rank() >= 1 && floating_element<typename Y::value_type>)
tensor_t<Y> softmax_backward(const Y& y, const DY& dy) {
  tensor_t<Y> dx(uninitialized, y.extents());
  softmax_backward(y, dy, dx);
  return dx;
}

}  // namespace forma
