// forma/ops/reduce.hpp — reductions along the last axis.
//
//   sum / mean / max:  (s..., N) => (s...)     a vector (N) reduces to a scalar
//   argmax:            (s..., N) => (s...) of int64 (first index on ties, first NaN if any)
// max and argmax need N > 0 (checked: static N by the compiler, dynamic N at run time).
#pragma once

#include <cstdint>
#include <type_traits>

#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/reduce.hpp"
#include "forma/ops/common.hpp"

namespace forma {

namespace detail {

// The rows of the reduction: every axis but the last, flattened.
template <class X>
struct reduction_shape {
  using extents_type = typename X::extents_type;
  static constexpr std::size_t rank = extents_type::rank();
  using result_extents = drop_axis_t<extents_type, rank - 1>;
  template <class T>
  using result_t = std::conditional_t<rank == 1, T, Tensor<T, result_extents, host>>;
};

template <class T, class X, class Kernel>
auto reduce_last(const X& x, Kernel kernel) {
  using shape = reduction_shape<X>;
  const std::size_t cols = x.extent(shape::rank - 1);
  if constexpr (shape::rank == 1) {
    T result{};
    kernel(x.data(), &result, 1, cols);
    return result;
  } else {
    Tensor<T, typename shape::result_extents, host> result(uninitialized,
                                                           drop_axis<shape::rank - 1>(x.extents()));
    kernel(x.data(), result.data(), result.size(), cols);
    return result;
  }
}

#define FORMA_RULE_REDUCTION(OP_NAME, X_TYPE)                                                 \
  (FORMA_RULE_HOST(OP_NAME, typename X_TYPE::device_type),                                    \
   []<class layout_type>() {                                                                  \
     static_assert(std::is_same_v<layout_type, ::forma::layout_right>,                        \
                   OP_NAME ": the tensor must be row-major (materialize a transposed view "   \
                           "with forma::copy)");                                              \
   }.template operator()<typename X_TYPE::layout_type>())

#define FORMA_RULE_NONEMPTY_LAST_AXIS(OP_NAME, X_TYPE, x_value)                              \
  FORMA_RULE_LESS(OP_NAME ": the last axis is empty (0 < N fails)", 0,                        \
                  ::forma::last_static_extent<typename X_TYPE::extents_type>, 0,              \
                  (x_value).extent(X_TYPE::extents_type::rank() - 1))

template <class X>
inline constexpr bool reducible_v = std::is_same_v<typename X::device_type, host> &&
                                    std::is_same_v<typename X::layout_type, layout_right>;

}  // namespace detail

// Sum along the last axis (accumulated in double for float inputs).
template <tensor X>
  requires(X::extents_type::rank() >= 1 && arithmetic_element<typename X::value_type>)
auto sum(const X& x) -> typename detail::reduction_shape<X>::template result_t<typename X::value_type> {
  using T = typename X::value_type;
  FORMA_RULE_REDUCTION("sum", X);
  if constexpr (detail::reducible_v<X>) {
    return detail::reduce_last<T>(x, [](const T* in, T* out, std::size_t rows, std::size_t cols) {
      kernels::cpu::sum_rows(in, out, rows, cols);
    });
  } else {
    return {};
  }
}

// Mean along the last axis.
template <tensor X>
  requires(X::extents_type::rank() >= 1 && floating_element<typename X::value_type>)
auto mean(const X& x) -> typename detail::reduction_shape<X>::template result_t<typename X::value_type> {
  using T = typename X::value_type;
  FORMA_RULE_NONEMPTY_LAST_AXIS("mean", X, x);
  auto total = sum(x);
  const T count = static_cast<T>(x.extent(X::extents_type::rank() - 1));
  if constexpr (X::extents_type::rank() == 1) {
    return total / count;
  } else {
    for (T& value : total) value /= count;
    return total;
  }
}

// Largest element along the last axis.
template <tensor X>
  requires(X::extents_type::rank() >= 1 && arithmetic_element<typename X::value_type>)
auto max(const X& x) -> typename detail::reduction_shape<X>::template result_t<typename X::value_type> {
  using T = typename X::value_type;
  FORMA_RULE_REDUCTION("max", X);
  FORMA_RULE_NONEMPTY_LAST_AXIS("max", X, x);
  if constexpr (detail::reducible_v<X>) {
    return detail::reduce_last<T>(x, [](const T* in, T* out, std::size_t rows, std::size_t cols) {
      kernels::cpu::max_rows(in, out, rows, cols);
    });
  } else {
    return {};
  }
}

// Index of the largest element along the last axis.
template <tensor X>
  requires(X::extents_type::rank() >= 1 && arithmetic_element<typename X::value_type>)
auto argmax(const X& x) -> typename detail::reduction_shape<X>::template result_t<std::int64_t> {
  using T = typename X::value_type;
  FORMA_RULE_REDUCTION("argmax", X);
  FORMA_RULE_NONEMPTY_LAST_AXIS("argmax", X, x);
  if constexpr (detail::reducible_v<X>) {
    return detail::reduce_last<std::int64_t>(
        x, [](const T* in, std::int64_t* out, std::size_t rows, std::size_t cols) {
          kernels::cpu::argmax_rows(in, out, rows, cols);
        });
  } else {
    return {};
  }
}

}  // namespace forma
