// forma/ops/copy.hpp — moving elements between tensors of one shape.
//
//   copy:   src (s...) → dst (s...)        any layouts (materializes a transposed view)
//   fill:   dst (s...) ← value;  zero: dst ← 0
//   cast:   src (s...) of T → new Tensor (s...) of U   (f16/bf16 round to nearest even)
#pragma once

#include <algorithm>
#include <type_traits>
#include <utility>

#include "forma/core/dtype.hpp"
#include "forma/core/storage.hpp"
#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/ops/common.hpp"

namespace forma {

// copy(src, dst): dst = src; same dtype and shape, host tensors.
template <tensor Src, class Dst>
  requires writable_tensor<std::remove_cvref_t<Dst>>
void copy(const Src& src, Dst&& dst) {
  using D = std::remove_cvref_t<Dst>;
  FORMA_RULE_ELEMENTWISE("copy", Src, D, src, dst);
  FORMA_RULE_HOST("copy", typename Src::device_type);
  if constexpr (same_dtype_device_shape_v<Src, D> &&
                std::is_same_v<typename Src::device_type, host>) {
    auto from = forma::view(src);
    auto to = forma::view(dst);
    if constexpr (same_layout_v<decltype(from), decltype(to)>) {
      std::copy_n(from.data(), from.size(), to.data());
    } else {
      for_each_index(to.extents(), [&](const auto& index) { to[index] = from[index]; });
    }
  }
}

// fill(dst, value): every element = value.
template <class Dst, class Value>
  requires(writable_tensor<std::remove_cvref_t<Dst>> &&
           std::is_convertible_v<Value, value_of_t<Dst>>)
void fill(Dst&& dst, const Value& value) {
  FORMA_RULE_HOST("fill", device_of_t<Dst>);
  auto to = forma::view(dst);
  std::fill(to.begin(), to.end(), static_cast<value_of_t<Dst>>(value));
}

// zero(dst): every element = 0.
template <class Dst>
  requires writable_tensor<std::remove_cvref_t<Dst>>
void zero(Dst&& dst) {
  fill(std::forward<Dst>(dst), value_of_t<Dst>{});
}

// cast<U>(src): a new row-major tensor of U with the same shape.
template <element U, tensor Src>
Tensor<U, typename Src::extents_type, typename Src::device_type> cast(const Src& src) {
  FORMA_RULE_HOST("cast", typename Src::device_type);
  Tensor<U, typename Src::extents_type, typename Src::device_type> result(uninitialized,
                                                                          src.extents());
  if constexpr (std::is_same_v<typename Src::device_type, host>) {
    auto from = forma::view(src);
    for_each_index(src.extents(), [&](const auto& index) {
      result.view()[index] = convert_element<U>(from[index]);
    });
  }
  return result;
}

}  // namespace forma
