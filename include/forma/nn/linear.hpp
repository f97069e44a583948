// forma/nn/linear.hpp — a fully connected layer holding a typed view of its weights.
//
//   Linear<In, Out, Bias>:  weight (Out, In) — torch.nn.Linear's layout — and, with Bias, bias (Out)
//   forward:  x (In)    => y (Out)        y = W·x (+ b)
//             x (T, In) => y (T, Out)     each row the same
// In and Out may be dyn (taken from the weight). The weights are read-only views of memory the
// caller keeps alive (a checkpoint, an mmapped file, tensors); building a Linear checks their
// shape against In and Out, and forward checks x and y, naming the layer's rule and both numbers.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>

#include "forma/core/summation.hpp"
#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/ops/broadcast.hpp"
#include "forma/ops/matmul.hpp"

namespace forma::nn {

namespace detail {
struct no_bias {};

// The value of an extent for a run-time check: the static one, or the run-time one when dynamic
// (then the check compares the value with itself and accepts anything).
constexpr std::size_t expected_extent(std::size_t static_extent, std::size_t value) noexcept {
  return static_extent == dyn ? value : static_extent;
}

template <class X>
inline constexpr std::size_t last_static_v = last_static_extent<typename X::extents_type>;

template <class X>
constexpr std::size_t last_extent(const X& x) noexcept {
  return x.extent(X::extents_type::rank() - 1);
}

// A read-only row-major float view of `x` with the extents E (checked by the caller's rules).
template <class E, class X>
TensorView<const float, E> const_view_as(const X& x) {
  if constexpr (compatible_v<typename X::extents_type, E>) {
    return TensorView<const float, E>(x.data(), E(x.extents().all()));
  } else {
    return {};
  }
}

template <class E, class... Sizes>
E make_extents(Sizes... sizes) {
  return E(std::array<std::size_t, E::rank()>{static_cast<std::size_t>(sizes)...});
}

// x (D) as a (1, D) view, x (T, D) as itself.
template <class X>
auto as_rows(X&& x) {
  auto v = forma::view(x);
  using V = decltype(v);
  if constexpr (V::rank() == 1) {
    using E = extents<1, V::static_extent(0)>;
    return reshape(v, make_extents<E>(1, v.extent(0)));
  } else {
    return v;
  }
}

#define FORMA_RULE_NN_WEIGHT(OWNER, X_TYPE)                                                   \
  (FORMA_RULE_SAME_TYPE(OWNER ": weights must hold float", typename X_TYPE::value_type, float), \
   FORMA_RULE_HOST(OWNER, typename X_TYPE::device_type),                                      \
   []<class layout_type>() {                                                                  \
     static_assert(std::is_same_v<layout_type, ::forma::layout_right>,                        \
                   OWNER ": weights must be row-major views (not a transposed view)");        \
   }.template operator()<typename X_TYPE::layout_type>())
}  // namespace detail

template <std::size_t In, std::size_t Out, bool Bias = false>
class Linear {
 public:
  using weight_view = TensorView<const float, extents<Out, In>>;
  using bias_view = TensorView<const float, extents<Out>>;
  static constexpr std::size_t in_extent = In;
  static constexpr std::size_t out_extent = Out;
  static constexpr bool has_bias = Bias;

  // Linear(weight): weight (Out, In).
  template <matrix W>
    requires(!Bias)
  explicit Linear(const W& weight) : weight_(checked_weight(weight)) {}

  // Linear(weight, bias): weight (Out, In), bias (Out).
  template <matrix W, vector B>
    requires(Bias)
  Linear(const W& weight, const B& bias)
      : weight_(checked_weight(weight)), bias_(checked_bias(bias, weight.extent(0))) {}

  std::size_t in_features() const noexcept { return weight_.extent(1); }
  std::size_t out_features() const noexcept { return weight_.extent(0); }
  const weight_view& weight() const noexcept { return weight_; }
  const bias_view& bias() const noexcept
    requires(Bias)
  {
    return bias_;
  }

  // forward(x, y): y = W·x (+ b).  x (In) => y (Out);  x (T, In) => y (T, Out). A single row
  // (the decode step) takes the matrix-vector kernel, several rows the GEMM (matmul_nt): with
  // ordered_sum the same bits row for row, with fast_sum the same values to rounding.
  template <tensor X, class Y, summation Sum = fast_sum_t>
    requires(writable_tensor<std::remove_cvref_t<Y>> &&
             (X::extents_type::rank() == 1 || X::extents_type::rank() == 2))
  void forward(const X& x, Y&& y, Sum = {}) const {
    using YT = std::remove_cvref_t<Y>;
    using XE = typename X::extents_type;
    using YE = typename YT::extents_type;
    FORMA_RULE_SAME_EXTENT("Linear: the input width differs from the layer's (x is (..., In), "
                           "weight is (Out, In))",
                           detail::last_static_v<X>, In, detail::last_extent(x), in_features());
    FORMA_RULE_SAME_RANK("Linear: x and the result differ in rank (x is (T, In), y is (T, Out))",
                         XE::rank(), YE::rank());
    FORMA_RULE_SAME_EXTENT("Linear: the result width differs from the layer's (y is (..., Out), "
                           "weight is (Out, In))",
                           detail::last_static_v<YT>, Out, detail::last_extent(y), out_features());
    if constexpr (XE::rank() == 2 && YE::rank() == 2) {
      FORMA_RULE_SAME_EXTENT("Linear: x and the result differ in rows (x is (T, In), y is "
                             "(T, Out))",
                             XE::static_extent(0), YE::static_extent(0), x.extent(0), y.extent(0));
    }
    if constexpr (rules::same_extent<detail::last_static_v<X>, In> && XE::rank() == YE::rank() &&
                  rules::same_extent<detail::last_static_v<YT>, Out>) {
      auto out = forma::view(y);
      if constexpr (XE::rank() == 1) {
        matvec(weight_, x, out, Sum{});
      } else if (x.extent(0) == 1) {
        matvec(weight_, forma::view(x)[0], out[0], Sum{});
      } else {
        matmul_nt(x, weight_, out, Sum{});
      }
      if constexpr (Bias) add_bias(out, bias_, out);
    }
  }

  // forward(x): a new tensor.  x (In) => (Out);  x (T, In) => (T, Out)
  template <tensor X, summation Sum = fast_sum_t>
    requires(X::extents_type::rank() == 1 || X::extents_type::rank() == 2)
  auto forward(const X& x, Sum = {}) const {
    using XE = typename X::extents_type;
    if constexpr (XE::rank() == 1) {
      Tensor<float, extents<Out>> y(uninitialized, extents<Out>(std::array{out_features()}));
      forward(x, y, Sum{});
      return y;
    } else {
      using YE = extents<XE::static_extent(0), Out>;
      Tensor<float, YE> y(uninitialized, YE(std::array{x.extent(0), out_features()}));
      forward(x, y, Sum{});
      return y;
    }
  }

 private:
  template <class W>
  static weight_view checked_weight(const W& w) {
    using WE = typename W::extents_type;
    FORMA_RULE_NN_WEIGHT("Linear", W);
    FORMA_RULE_SAME_EXTENT("Linear: the weight's rows differ from the layer's outputs (weight is "
                           "(Out, In))",
                           WE::static_extent(0), Out, w.extent(0),
                           detail::expected_extent(Out, w.extent(0)));
    FORMA_RULE_SAME_EXTENT("Linear: the weight's columns differ from the layer's inputs (weight "
                           "is (Out, In))",
                           WE::static_extent(1), In, w.extent(1),
                           detail::expected_extent(In, w.extent(1)));
    return detail::const_view_as<typename weight_view::extents_type>(w);
  }

  template <class B>
  static bias_view checked_bias(const B& b, std::size_t outputs) {
    using BE = typename B::extents_type;
    FORMA_RULE_NN_WEIGHT("Linear", B);
    FORMA_RULE_SAME_EXTENT("Linear: the bias length differs from the layer's outputs (bias is "
                           "(Out), weight is (Out, In))",
                           BE::static_extent(0), Out, b.extent(0), outputs);
    return detail::const_view_as<typename bias_view::extents_type>(b);
  }

  weight_view weight_;
  [[no_unique_address]] std::conditional_t<Bias, bias_view, detail::no_bias> bias_{};
};

}  // namespace forma::nn
