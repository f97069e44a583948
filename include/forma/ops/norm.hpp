// forma/ops/norm.hpp — normalization over the last axis, shape-checked.
//
//   rmsnorm:   x (s..., D), weight (D)            => (s..., D)   llama2.c semantics, eps 1e-5
//   layernorm: x (s..., D), weight (D), bias (D)  => (s..., D)   biased variance, as PyTorch
// `out` may be `x` itself. Host tensors run kernels/cpu/norm.hpp; cuda tensors (f32, in a file
// nvcc compiles) run kernels/cuda/norm.cuh.
#pragma once

#include <type_traits>

#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/norm.hpp"
#include "forma/ops/common.hpp"
#if FORMA_CUDA_KERNELS
#include "forma/kernels/cuda/norm.cuh"
#endif

namespace forma {

namespace detail {
template <class X>
inline constexpr std::size_t last_static_v = last_static_extent<typename X::extents_type>;

template <class X>
std::size_t last_extent(const X& x) {
  return x.extent(X::extents_type::rank() - 1);
}

template <class X, class W>
inline constexpr bool norm_fits_v =
    std::is_same_v<typename X::value_type, typename W::value_type> &&
    std::is_same_v<typename X::device_type, typename W::device_type> &&
    (std::is_same_v<typename X::device_type, host> ||
     (FORMA_CUDA_KERNELS && std::is_same_v<typename X::device_type, cuda>)) &&
    std::is_same_v<typename X::layout_type, layout_right> &&
    rules::same_extent<last_static_v<X>, W::extents_type::static_extent(0)>;
}  // namespace detail

#define FORMA_RULE_NORM_WEIGHT(OP_NAME, PARAM, X_TYPE, W_TYPE, x_value, w_value)              \
  (FORMA_RULE_SAME_TYPE(OP_NAME ": element types differ (x and " PARAM " must have the same dtype)", \
                        typename X_TYPE::value_type, typename W_TYPE::value_type),            \
   FORMA_RULE_SAME_TYPE(OP_NAME ": operands live on different devices (copy explicitly)",      \
                        typename X_TYPE::device_type, typename W_TYPE::device_type),          \
   FORMA_RULE_DEVICE_KERNELS(OP_NAME, typename X_TYPE::device_type),                          \
   FORMA_RULE_SAME_EXTENT(OP_NAME ": " PARAM " length differs from the last axis of x "        \
                                  "(x is (..., D), " PARAM " is (D))",                        \
                          ::forma::detail::last_static_v<X_TYPE>,                             \
                          W_TYPE::extents_type::static_extent(0),                             \
                          ::forma::detail::last_extent(x_value), (w_value).extent(0)))

// rmsnorm(x, weight, out, eps): out = weight ⊙ x / sqrt(mean(x²) + eps), row by row.
template <tensor X, vector W, class Out>
  requires(writable_tensor<std::remove_cvref_t<Out>> && X::extents_type::rank() >= 1 &&
           floating_element<typename X::value_type>)
void rmsnorm(const X& x, const W& weight, Out&& out, typename X::value_type eps = 1e-5f) {
  using O = std::remove_cvref_t<Out>;
  static_assert(std::is_same_v<typename X::layout_type, layout_right>, "rmsnorm: x must be row-major");
  FORMA_RULE_NORM_WEIGHT("rmsnorm", "weight", X, W, x, weight);
  FORMA_RULE_ELEMENTWISE("rmsnorm (result)", X, O, x, out);
  if constexpr (detail::norm_fits_v<X, W> && same_dtype_device_shape_v<X, O>) {
    const std::size_t n = detail::last_extent(x);
    if constexpr (std::is_same_v<typename X::device_type, host>) {
      kernels::cpu::rmsnorm_rows(x.data(), weight.data(), forma::view(out).data(),
                                 n == 0 ? 0 : x.size() / n, n, eps);
    } else {
#if FORMA_CUDA_KERNELS
      static_assert(std::is_same_v<typename X::value_type, float>, "rmsnorm: the CUDA kernel takes f32");
      kernels::cuda::rmsnorm_rows(x.data(), weight.data(), forma::view(out).data(),
                                  n == 0 ? 0 : x.size() / n, n, eps);
#endif
    }
  }
}

template <tensor X, vector W>
  requires(X::extents_type::rank() >= 1 && floating_element<typename X::value_type>)
tensor_t<X> rmsnorm(const X& x, const W& weight, typename X::value_type eps = 1e-5f) {
  tensor_t<X> result(uninitialized, x.extents());
  rmsnorm(x, weight, result, eps);
  return result;
}

// layernorm(x, weight, bias, out, eps): out = weight ⊙ (x − mean) / sqrt(var + eps) + bias.
template <tensor X, vector W, vector B, class Out>
  requires(writable_tensor<std::remove_cvref_t<Out>> && X::extents_type::rank() >= 1 &&
           floating_element<typename X::value_type>)
void layernorm(const X& x, const W& weight, const B& bias, Out&& out,
               typename X::value_type eps = 1e-5f) {
  using O = std::remove_cvref_t<Out>;
  static_assert(std::is_same_v<typename X::layout_type, layout_right>, "layernorm: x must be row-major");
  FORMA_RULE_NORM_WEIGHT("layernorm", "weight", X, W, x, weight);
  FORMA_RULE_NORM_WEIGHT("layernorm", "bias", X, B, x, bias);
  FORMA_RULE_ELEMENTWISE("layernorm (result)", X, O, x, out);
  if constexpr (detail::norm_fits_v<X, W> && detail::norm_fits_v<X, B> &&
                same_dtype_device_shape_v<X, O>) {
    const std::size_t n = detail::last_extent(x);
    if constexpr (std::is_same_v<typename X::device_type, host>) {
      kernels::cpu::layernorm_rows(x.data(), weight.data(), bias.data(), forma::view(out).data(),
                                   n == 0 ? 0 : x.size() / n, n, eps);
    } else {
#if FORMA_CUDA_KERNELS
      static_assert(std::is_same_v<typename X::value_type, float>, "layernorm: the CUDA kernel takes f32");
      kernels::cuda::layernorm_rows(x.data(), weight.data(), bias.data(), forma::view(out).data(),
                                    n == 0 ? 0 : x.size() / n, n, eps);
#endif
    }
  }
}

template <tensor X, vector W, vector B>
  requires(X::extents_type::rank() >= 1 && floating_element<typename X::value_type>)
tensor_t<X> layernorm(const X& x, const W& weight, const B& bias,
                      typename X::value_type eps = 1e-5f) {
  tensor_t<X> result(uninitialized, x.extents());
  layernorm(x, weight, bias, result, eps);
  return result;
}

}  // namespace forma
