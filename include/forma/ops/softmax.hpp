// forma/ops/softmax.hpp — numerically stable softmax along the last axis, shape-checked.
//
//   softmax:         x (s..., N) => (s..., N)      every row sums to 1
//   softmax_causal:  x (T, N)    => (T, N)         row r keeps its first r + offset + 1 entries
//                                                   (the query at position r + offset), the rest 0
//   softmax_valid:   x (s..., N) => (s..., N)      each row keeps its first `valid` entries
// `out` may be `x` itself. Host tensors run kernels/cpu/softmax.hpp; cuda tensors (f32, in a file
// nvcc compiles) run kernels/cuda/softmax.cuh.
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "forma/core/contract.hpp"
#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/softmax.hpp"
#include "forma/ops/common.hpp"
#if FORMA_CUDA_KERNELS
#include "forma/kernels/cuda/softmax.cuh"
#endif

namespace forma {

namespace detail {
// Which entries of a row survive: all, the first `valid`, or causal (row r keeps r + offset + 1).
struct softmax_mask {
  enum class kind : unsigned char { all, valid, causal } mode = kind::all;
  std::size_t count = 0;  // valid, or the causal offset
};

template <class X, class Out, class Kernel>
void softmax_checked(const X& x, Out&& out, Kernel kernel, softmax_mask mask) {
  using O = std::remove_cvref_t<Out>;
  FORMA_RULE_ELEMENTWISE("softmax (result)", X, O, x, out);
  FORMA_RULE_DEVICE_KERNELS("softmax", typename X::device_type);
  static_assert(std::is_same_v<typename X::layout_type, layout_right> &&
                    std::is_same_v<typename O::layout_type, layout_right>,
                "softmax: x and the result must be row-major");
  if constexpr (same_dtype_device_shape_v<X, O> && std::is_same_v<typename X::device_type, host>) {
    auto result = forma::view(out);
    if (result.data() != x.data()) std::copy_n(x.data(), x.size(), result.data());
    const std::size_t n = x.extent(X::extents_type::rank() - 1);
    kernel(result.data(), n == 0 ? 0 : x.size() / n, n);
  } else if constexpr (same_dtype_device_shape_v<X, O>) {
    (void)kernel;
#if FORMA_CUDA_KERNELS
    static_assert(std::is_same_v<typename X::value_type, float>, "softmax: the CUDA kernel takes f32");
    auto result = forma::view(out);
    const std::size_t n = x.extent(X::extents_type::rank() - 1);
    const std::size_t rows = n == 0 ? 0 : x.size() / n;
    if (mask.mode == softmax_mask::kind::all) {
      kernels::cuda::softmax_rows(x.data(), result.data(), rows, n);
      return;
    }
    if (result.data() != x.data()) {
      device_allocator<cuda>::copy(result.data(), x.data(), x.size() * sizeof(float));
    }
    if (mask.mode == softmax_mask::kind::causal) {
      kernels::cuda::softmax_rows_causal(result.data(), rows, n, mask.count);
    } else {
      kernels::cuda::softmax_rows_valid(result.data(), rows, n, mask.count);
    }
#else
    (void)mask;
#endif
  }
}
}  // namespace detail

// softmax(x, out): out = softmax of each row of x.
template <tensor X, class Out>
  requires(writable_tensor<std::remove_cvref_t<Out>> && X::extents_type::rank() >= 1 &&
           floating_element<typename X::value_type>)
void softmax(const X& x, Out&& out) {
  using T = typename X::value_type;
  detail::softmax_checked(x, out, [](T* data, std::size_t rows, std::size_t n) {
    kernels::cpu::softmax_rows(data, rows, n);
  }, {});
}

template <tensor X>
  requires(X::extents_type::rank() >= 1 && floating_element<typename X::value_type>)
tensor_t<X> softmax(const X& x) {
  tensor_t<X> result(uninitialized, x.extents());
  softmax(x, result);
  return result;
}

// softmax_causal(x, out, offset): row r is the query at position r + offset; it attends to the
// first r + offset + 1 columns and the rest become 0.
template <matrix X, class Out>
  requires(writable_tensor<std::remove_cvref_t<Out>> && floating_element<typename X::value_type>)
void softmax_causal(const X& x, Out&& out, std::size_t offset = 0) {
  using T = typename X::value_type;
  detail::softmax_checked(x, out, [offset](T* data, std::size_t rows, std::size_t n) {
    kernels::cpu::softmax_rows_causal(data, rows, n, offset);
  }, {detail::softmax_mask::kind::causal, offset});
}

// softmax_valid(x, out, valid): each row keeps its first `valid` entries (valid ≤ N).
template <tensor X, class Out>
  requires(writable_tensor<std::remove_cvref_t<Out>> && X::extents_type::rank() >= 1 &&
           floating_element<typename X::value_type>)
void softmax_valid(const X& x, Out&& out, std::size_t valid) {
  using T = typename X::value_type;
  contract::require_less(valid, x.extent(X::extents_type::rank() - 1) + 1,
                         "softmax_valid: the valid length exceeds the row (valid <= N fails)");
  detail::softmax_checked(x, out, [valid](T* data, std::size_t rows, std::size_t n) {
    parallel_for(rows, n, [&](std::size_t r) { kernels::cpu::softmax_row(data + r * n, n, valid); });
  }, {detail::softmax_mask::kind::valid, valid});
}

}  // namespace forma
