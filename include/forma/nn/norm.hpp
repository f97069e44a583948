// forma/nn/norm.hpp — normalization layers holding typed views of their weights.
//
//   RMSNorm<D>:    weight (D), eps        x (..., D) => (..., D)   llama2.c's arithmetic
//   LayerNorm<D>:  weight (D), bias (D), eps    x (..., D) => (..., D)   biased variance, as PyTorch
// D may be dyn (taken from the weight). `out` may be `x` itself.
#pragma once

#include <cstddef>
#include <type_traits>

#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/nn/linear.hpp"
#include "forma/ops/norm.hpp"

namespace forma::nn {

#define FORMA_RULE_NN_NORM_INPUT(OWNER, X_TYPE, x_value, width)                              \
  FORMA_RULE_SAME_EXTENT(OWNER ": the input width differs from the norm's (x is (..., D), "   \
                               "weight is (D))",                                              \
                         ::forma::nn::detail::last_static_v<X_TYPE>, D,                       \
                         ::forma::nn::detail::last_extent(x_value), (width))

template <std::size_t D>
class RMSNorm {
 public:
  using weight_view = TensorView<const float, extents<D>>;
  static constexpr std::size_t width_extent = D;

  template <vector W>
  explicit RMSNorm(const W& weight, float eps = 1e-5f) : weight_(checked(weight)), eps_(eps) {}

  std::size_t width() const noexcept { return weight_.extent(0); }
  float eps() const noexcept { return eps_; }
  const weight_view& weight() const noexcept { return weight_; }

  // out = weight ⊙ x / sqrt(mean(x²) + eps), row by row.
  template <tensor X, class Out>
    requires writable_tensor<std::remove_cvref_t<Out>>
  void forward(const X& x, Out&& out) const {
    FORMA_RULE_NN_NORM_INPUT("RMSNorm", X, x, width());
    if constexpr (rules::same_extent<detail::last_static_v<X>, D>) {
      rmsnorm(x, weight_, out, eps_);
    }
  }
  template <tensor X>
  tensor_t<X> forward(const X& x) const {
    tensor_t<X> out(uninitialized, x.extents());
    forward(x, out);
    return out;
  }

 private:
  template <class W>
  static weight_view checked(const W& w) {
    FORMA_RULE_NN_WEIGHT("RMSNorm", W);
    FORMA_RULE_SAME_EXTENT("RMSNorm: the weight's length differs from the norm's width (weight "
                           "is (D))",
                           W::extents_type::static_extent(0), D, w.extent(0),
                           detail::expected_extent(D, w.extent(0)));
    return detail::const_view_as<extents<D>>(w);
  }

  weight_view weight_;
  float eps_;
};

template <std::size_t D>
class LayerNorm {
 public:
  using weight_view = TensorView<const float, extents<D>>;
  static constexpr std::size_t width_extent = D;

  template <vector W, vector B>
  LayerNorm(const W& weight, const B& bias, float eps = 1e-5f)
      : weight_(checked(weight, weight.extent(0))), bias_(checked(bias, weight.extent(0))), eps_(eps) {}

  std::size_t width() const noexcept { return weight_.extent(0); }
  float eps() const noexcept { return eps_; }
  const weight_view& weight() const noexcept { return weight_; }
  const weight_view& bias() const noexcept { return bias_; }

  // out = weight ⊙ (x − mean) / sqrt(var + eps) + bias, row by row.
  template <tensor X, class Out>
    requires writable_tensor<std::remove_cvref_t<Out>>
  void forward(const X& x, Out&& out) const {
    FORMA_RULE_NN_NORM_INPUT("LayerNorm", X, x, width());
    if constexpr (rules::same_extent<detail::last_static_v<X>, D>) {
      layernorm(x, weight_, bias_, out, eps_);
    }
  }
  template <tensor X>
  tensor_t<X> forward(const X& x) const {
    tensor_t<X> out(uninitialized, x.extents());
    forward(x, out);
    return out;
  }

 private:
  template <class W>
  static weight_view checked(const W& w, std::size_t width) {
    FORMA_RULE_NN_WEIGHT("LayerNorm", W);
    FORMA_RULE_SAME_EXTENT("LayerNorm: a parameter's length differs from the norm's width "
                           "(weight and bias are (D))",
                           W::extents_type::static_extent(0), D, w.extent(0),
                           detail::expected_extent(D, width));
    return detail::const_view_as<extents<D>>(w);
  }

  weight_view weight_;
  weight_view bias_;
  float eps_;
};

}  // namespace forma::nn
