// forma/ops/common.hpp — what every shape-checked op front shares: result shapes, the device
// rule, and the loop that walks tensors of different layouts together.
#pragma once

#include <array>
#include <tuple>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "forma/core/device.hpp"
#include "forma/core/extents.hpp"
#include "forma/core/shape_rules.hpp"
#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"

// FORMA_CUDA_KERNELS: 1 where nvcc compiles this translation unit, whose ops then include their
// CUDA kernels (forma/kernels/cuda/*.cuh) and run them on cuda tensors (device memory:
// memory.cuh); 0 in a host-only build, which never sees a CUDA header.
#if defined(__CUDACC__)
#define FORMA_CUDA_KERNELS 1
#include "forma/kernels/cuda/memory.cuh"
#else
#define FORMA_CUDA_KERNELS 0
#endif

namespace forma {

// Per axis: the static extent where either shape has one, else dyn (the shape of a result of an
// op whose operands must agree).
namespace detail {
template <class A, class B, class Seq>
struct common_extents_impl;
template <class A, class B, std::size_t... Axis>
struct common_extents_impl<A, B, std::index_sequence<Axis...>> {
  using type = extents<(A::static_extent(Axis) != dyn ? A::static_extent(Axis)
                                                      : B::static_extent(Axis))...>;
};
}  // namespace detail

template <extents_type A, extents_type B>
using common_extents_t =
    typename detail::common_extents_impl<A, B, std::make_index_sequence<A::rank()>>::type;

// The run-time value of common_extents_t (taken from `a`, which agrees with `b` once checked).
template <extents_type A, extents_type B>
constexpr common_extents_t<A, B> common_extents(const A& a, const B&) {
  if constexpr (common_extents_t<A, B>::rank_dynamic() == 0) {
    return {};
  } else {
    return common_extents_t<A, B>(a.all());
  }
}

// Calls f(index) for every multi-index of `e`, last axis fastest.
template <extents_type E, class F>
constexpr void for_each_index(const E& e, F&& f) {
  if constexpr (E::rank() == 0) {
    f(std::array<std::size_t, 0>{});
  } else {
    if (e.size() == 0) return;
    std::array<std::size_t, E::rank()> index{};
    while (true) {
      f(std::as_const(index));
      std::size_t axis = E::rank();
      while (axis-- > 0) {
        if (++index[axis] < e.extent(axis)) break;
        index[axis] = 0;
        if (axis == 0) return;
      }
    }
  }
}

// True when all the tensors share one layout, so equal flat offsets mean equal multi-indices.
template <class... Views>
inline constexpr bool same_layout_v =
    sizeof...(Views) <= 1 ||
    (std::is_same_v<typename std::tuple_element_t<0, std::tuple<Views...>>::layout_type,
                    typename Views::layout_type> &&
     ...);

// The compile-time gate after an op's checks: the op's body is only compiled when this holds,
// so a failed rule shows its own message and nothing from deeper down.
template <class A, class B>
inline constexpr bool same_dtype_device_shape_v =
    std::is_same_v<typename A::value_type, typename B::value_type> &&
    std::is_same_v<typename A::device_type, typename B::device_type> &&
    compatible_v<typename A::extents_type, typename B::extents_type>;

// Element-wise operands: same dtype, same device, same shape (where static). The ops are not
// SFINAE-friendly on shapes on purpose — a shape error is a hard error with a message — so
// generic code asks these concepts instead of `requires { a + b; }`.
template <class A, class B>
concept elementwise_compatible = tensor<A> && tensor<B> && same_dtype_device_shape_v<A, B>;

}  // namespace forma


// True when the op has a kernel for device D in this translation unit (see FORMA_CUDA_KERNELS).
#define FORMA_HAS_DEVICE_KERNELS(DEVICE_TYPE)                                                 \
  (std::is_same_v<DEVICE_TYPE, ::forma::host> ||                                              \
   (FORMA_CUDA_KERNELS && std::is_same_v<DEVICE_TYPE, ::forma::cuda>))

// FORMA_RULE_DEVICE_KERNELS(op_name, D): the op has a kernel for device D here — host always,
// cuda where nvcc compiles the file.
#define FORMA_RULE_DEVICE_KERNELS(OP_NAME, DEVICE_TYPE)                                       \
  []<class device_type>() {                                                                   \
    static_assert(std::is_same_v<device_type, ::forma::host> ||                               \
                      (FORMA_CUDA_KERNELS && std::is_same_v<device_type, ::forma::cuda>),      \
                  OP_NAME ": no CUDA kernel in this translation unit (compile it with nvcc, "  \
                          "or copy the tensors to the host)");                                \
  }.template operator()<DEVICE_TYPE>()

// FORMA_RULE_HOST(op_name, X): the op has only a CPU kernel.
#define FORMA_RULE_HOST(OP_NAME, DEVICE_TYPE)                                                 \
  FORMA_RULE_SAME_TYPE(OP_NAME ": this op takes host tensors (copy device tensors to the "     \
                               "host first)",                                                 \
                       DEVICE_TYPE, ::forma::host)

// FORMA_RULE_ELEMENTWISE(op_name, A, B, a, b): same dtype, same device, same shape.
#define FORMA_RULE_ELEMENTWISE(OP_NAME, A_TYPE, B_TYPE, a_value, b_value)                     \
  (FORMA_RULE_SAME_TYPE(OP_NAME ": element types differ (A and B must have the same dtype)",   \
                        typename A_TYPE::value_type, typename B_TYPE::value_type),            \
   FORMA_RULE_SAME_TYPE(OP_NAME ": operands live on different devices (copy explicitly)",      \
                        typename A_TYPE::device_type, typename B_TYPE::device_type),          \
   FORMA_RULE_SAME_SHAPE(OP_NAME ": shapes differ (A and B must have the same shape)",         \
                         ::forma::extents_of_t<A_TYPE>, ::forma::extents_of_t<B_TYPE>,        \
                         (a_value).extents(), (b_value).extents()))
