// forma/nn/feed_forward.hpp — the position-wise feed-forward layers, holding views of their weights.
//
//   SwiGLU<D, Hidden>:  w1 (hidden, D), w2 (D, hidden), w3 (hidden, D)
//                       out = w2·(silu(w1·x) ⊙ w3·x)                      (Llama)
//   GeluMLP<D, Hidden, Activation>:  fc (hidden, D) + fc_bias (hidden), proj (D, hidden) + proj_bias (D)
//                       out = proj·gelu(fc·x + fc_bias) + proj_bias       (GPT-2: tanh GELU)
//   forward:            x (T, D) or (D)  => out (same shape), the hidden activations in a
//                       FeedForwardScratch (rows processed in chunks of its rows; no allocation)
//   FeedForward<C>:     the one a TransformerConfig names.
// Built from views whose shapes must agree — w1 and w3 alike, w2 their transpose's shape — which
// the compiler checks for static extents (naming the weights and both numbers) and the
// constructor checks at run time for dynamic ones. `SwiGLU ffn(w1, w2, w3)` deduces D and hidden.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>

#include "forma/core/contract.hpp"
#include "forma/core/summation.hpp"
#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/nn/config.hpp"
#include "forma/nn/linear.hpp"
#include "forma/ops/activation.hpp"

namespace forma::nn {

// The hidden activations of a feed-forward layer for up to Rows positions (Rows may be dyn).
template <std::size_t Hidden, std::size_t Rows = 1>
class FeedForwardScratch {
 public:
  static constexpr std::size_t rows_extent = Rows;
  using extents_type = extents<Rows, Hidden>;

  FeedForwardScratch()
    requires(Hidden != dyn && Rows != dyn)
      : FeedForwardScratch(Hidden, Rows) {}
  explicit FeedForwardScratch(std::size_t hidden, std::size_t rows = Rows)
      : gate_(extents_type(std::array{rows, hidden})), up_(extents_type(std::array{rows, hidden})) {
    contract::require_less(0, rows, "FeedForwardScratch: it needs at least one row");
  }

  std::size_t rows() const noexcept { return gate_.extent(0); }
  std::size_t hidden() const noexcept { return gate_.extent(1); }
  auto gate() noexcept { return gate_.view(); }
  auto up() noexcept { return up_.view(); }

 private:
  Tensor<float, extents_type> gate_;
  Tensor<float, extents_type> up_;
};

namespace detail {
// Runs chunk(x_rows, out_rows) over x (T, D) / (D) in chunks of `rows`.
template <class X, class Out, class Chunk>
void for_each_chunk(const X& x, Out&& out, std::size_t rows, Chunk chunk) {
  auto in = as_rows(x);
  auto result = as_rows(out);
  for (std::size_t done = 0; done < in.extent(0); done += rows) {
    const std::size_t n = in.extent(0) - done < rows ? in.extent(0) - done : rows;
    chunk(slice(in, done, n), slice(result, done, n));
  }
}
}  // namespace detail

#define FORMA_RULE_FFN_IO(OWNER, X_TYPE, O_TYPE, x_value, out_value, width)                   \
  (FORMA_RULE_SAME_EXTENT(OWNER ": the input width differs from the layer's (x is (..., D))",  \
                          ::forma::nn::detail::last_static_v<X_TYPE>, D,                      \
                          ::forma::nn::detail::last_extent(x_value), (width)),                \
   FORMA_RULE_SAME_SHAPE(OWNER ": the result must have the shape of x",                       \
                         ::forma::extents_of_t<X_TYPE>, ::forma::extents_of_t<O_TYPE>,        \
                         (x_value).extents(), (out_value).extents()))

#define FORMA_RULE_FFN_SCRATCH(OWNER, SCRATCH_HIDDEN, scratch_value, hidden_value)            \
  FORMA_RULE_SAME_EXTENT(OWNER ": the scratch was sized for another hidden width",             \
                         SCRATCH_HIDDEN, Hidden, (scratch_value).hidden(), (hidden_value))

template <std::size_t D, std::size_t Hidden>
class SwiGLU {
 public:
  static constexpr std::size_t dim_extent = D;
  static constexpr std::size_t hidden_extent = Hidden;
  using up_projection = Linear<D, Hidden>;    // w1, w3
  using down_projection = Linear<Hidden, D>;  // w2

  // SwiGLU(w1, w2, w3): w1 (hidden, D), w2 (D, hidden), w3 (hidden, D).
  template <matrix W1, matrix W2, matrix W3>
  SwiGLU(const W1& w1, const W2& w2, const W3& w3)
      : w1_(checked(w1, w2, w3)), w2_(w2), w3_(w3) {}

  std::size_t dim() const noexcept { return w1_.in_features(); }
  std::size_t hidden() const noexcept { return w1_.out_features(); }
  const up_projection& w1() const noexcept { return w1_; }
  const down_projection& w2() const noexcept { return w2_; }
  const up_projection& w3() const noexcept { return w3_; }

  // forward(x, out, scratch): out = w2·(silu(w1·x) ⊙ w3·x).  x (T, D) or (D) => out (same)
  template <tensor X, class Out, std::size_t ScratchHidden, std::size_t Rows,
            summation Sum = fast_sum_t>
    requires(writable_tensor<std::remove_cvref_t<Out>> &&
             (X::extents_type::rank() == 1 || X::extents_type::rank() == 2))
  void forward(const X& x, Out&& out, FeedForwardScratch<ScratchHidden, Rows>& scratch,
               Sum = {}) const {
    using O = std::remove_cvref_t<Out>;
    FORMA_RULE_FFN_IO("SwiGLU", X, O, x, out, dim());
    FORMA_RULE_FFN_SCRATCH("SwiGLU", ScratchHidden, scratch, hidden());
    if constexpr (rules::same_extent<detail::last_static_v<X>, D> &&
                  rules::same_shape<typename X::extents_type, typename O::extents_type> &&
                  rules::same_extent<ScratchHidden, Hidden>) {
      detail::for_each_chunk(x, out, scratch.rows(), [&](auto rows, auto result) {
        auto gate = slice(scratch.gate(), 0, rows.extent(0));
        auto up = slice(scratch.up(), 0, rows.extent(0));
        w1_.forward(rows, gate, Sum{});
        w3_.forward(rows, up, Sum{});
        swiglu(gate, up, gate);
        w2_.forward(gate, result, Sum{});
      });
    }
  }

 private:
  template <class W1, class W2, class W3>
  static const W1& checked(const W1& w1, const W2& w2, const W3& w3) {
    using E1 = typename W1::extents_type;
    using E2 = typename W2::extents_type;
    using E3 = typename W3::extents_type;
    FORMA_RULE_SAME_SHAPE("FeedForward: w1 and w3 differ in shape (both are (hidden, D))", E1, E3,
                          w1.extents(), w3.extents());
    FORMA_RULE_SAME_EXTENT("FeedForward: w2's columns differ from w1's rows (w1 is (hidden, D), "
                           "w2 is (D, hidden))",
                           E2::static_extent(1), E1::static_extent(0), w2.extent(1), w1.extent(0));
    FORMA_RULE_SAME_EXTENT("FeedForward: w2's rows differ from w1's columns (w1 is (hidden, D), "
                           "w2 is (D, hidden))",
                           E2::static_extent(0), E1::static_extent(1), w2.extent(0), w1.extent(1));
    return w1;
  }

  up_projection w1_;
  down_projection w2_;
  up_projection w3_;
};

template <matrix W1, matrix W2, matrix W3>
SwiGLU(const W1&, const W2&, const W3&)
    -> SwiGLU<W1::extents_type::static_extent(1), W1::extents_type::static_extent(0)>;

template <std::size_t D, std::size_t Hidden, ffn_kind Activation = ffn_kind::gelu_tanh>
class GeluMLP {
  static_assert(Activation == ffn_kind::gelu_tanh || Activation == ffn_kind::gelu_erf,
                "GeluMLP: the activation must be gelu_tanh or gelu_erf");

 public:
  static constexpr std::size_t dim_extent = D;
  static constexpr std::size_t hidden_extent = Hidden;
  using up_projection = Linear<D, Hidden, true>;    // fc
  using down_projection = Linear<Hidden, D, true>;  // proj

  // GeluMLP(fc, fc_bias, proj, proj_bias): fc (hidden, D), (hidden); proj (D, hidden), (D).
  template <matrix F, vector FB, matrix P, vector PB>
  GeluMLP(const F& fc, const FB& fc_bias, const P& proj, const PB& proj_bias)
      : fc_(checked(fc, proj), fc_bias), proj_(proj, proj_bias) {}

  std::size_t dim() const noexcept { return fc_.in_features(); }
  std::size_t hidden() const noexcept { return fc_.out_features(); }
  const up_projection& fc() const noexcept { return fc_; }
  const down_projection& proj() const noexcept { return proj_; }

  // forward(x, out, scratch): out = proj·gelu(fc·x + fc_bias) + proj_bias.
  template <tensor X, class Out, std::size_t ScratchHidden, std::size_t Rows,
            summation Sum = fast_sum_t>
    requires(writable_tensor<std::remove_cvref_t<Out>> &&
             (X::extents_type::rank() == 1 || X::extents_type::rank() == 2))
  void forward(const X& x, Out&& out, FeedForwardScratch<ScratchHidden, Rows>& scratch,
               Sum = {}) const {
    using O = std::remove_cvref_t<Out>;
    FORMA_RULE_FFN_IO("GeluMLP", X, O, x, out, dim());
    FORMA_RULE_FFN_SCRATCH("GeluMLP", ScratchHidden, scratch, hidden());
    if constexpr (rules::same_extent<detail::last_static_v<X>, D> &&
                  rules::same_shape<typename X::extents_type, typename O::extents_type> &&
                  rules::same_extent<ScratchHidden, Hidden>) {
      detail::for_each_chunk(x, out, scratch.rows(), [&](auto rows, auto result) {
        auto hidden_rows = slice(scratch.gate(), 0, rows.extent(0));
        fc_.forward(rows, hidden_rows, Sum{});
        if constexpr (Activation == ffn_kind::gelu_tanh) {
          gelu_tanh(hidden_rows, hidden_rows);
        } else {
          gelu(hidden_rows, hidden_rows);
        }
        proj_.forward(hidden_rows, result, Sum{});
      });
    }
  }

 private:
  template <class F, class P>
  static const F& checked(const F& fc, const P& proj) {
    using EF = typename F::extents_type;
    using EP = typename P::extents_type;
    FORMA_RULE_SAME_EXTENT("FeedForward: proj's columns differ from fc's rows (fc is (hidden, D), "
                           "proj is (D, hidden))",
                           EP::static_extent(1), EF::static_extent(0), proj.extent(1), fc.extent(0));
    FORMA_RULE_SAME_EXTENT("FeedForward: proj's rows differ from fc's columns (fc is (hidden, D), "
                           "proj is (D, hidden))",
                           EP::static_extent(0), EF::static_extent(1), proj.extent(0), fc.extent(1));
    return fc;
  }

  up_projection fc_;
  down_projection proj_;
};

template <matrix F, vector FB, matrix P, vector PB>
GeluMLP(const F&, const FB&, const P&, const PB&)
    -> GeluMLP<F::extents_type::static_extent(1), F::extents_type::static_extent(0)>;

// The feed-forward layer a config names: SwiGLU, or a GELU MLP (tanh or exact).
template <TransformerConfig C>
using FeedForward = std::conditional_t<C.ffn == ffn_kind::swiglu, SwiGLU<C.dim, C.hidden>,
                                       GeluMLP<C.dim, C.hidden, C.ffn>>;

}  // namespace forma::nn
