// Unit tests: Linear, RMSNorm, LayerNorm, Embedding, PositionEmbedding, SwiGLU and GeluMLP on
// static and dynamic extents, against float64 references; their shape rules at run time.
#include <doctest/doctest.h>

#include <cstdint>
#include <cmath>
#include <cstring>
#include <vector>

#include <forma/forma.hpp>

#include "block_fixture.hpp"

using forma::dyn;
using forma::Matrix;
using forma::Vector;
namespace nn = forma::nn;
namespace ref = forma::testing::reference;

namespace {
template <std::size_t In, std::size_t Out>
struct Widths {
  static constexpr std::size_t in = In, out = Out;
};
}  // namespace

TEST_CASE_TEMPLATE("Linear maps (In) and (T, In), with and without bias", W, Widths<72, 40>,
                   Widths<dyn, dyn>, Widths<72, dyn>) {
  Matrix<float, dyn, dyn> weight(40, 72);
  Vector<float, dyn> bias(40);
  forma::testing::fill_uniform(weight, 1);
  forma::testing::fill_uniform(bias, 2);
  const nn::Linear<W::in, W::out> plain(weight);
  const nn::Linear<W::in, W::out, true> biased(weight, bias);
  CHECK(plain.in_features() == 72);
  CHECK(plain.out_features() == 40);
  Matrix<float, dyn, 72> x(5);
  forma::testing::fill_uniform(x, 3);
  const auto y = plain.forward(x);
  const auto yb = biased.forward(x);
  CHECK(ref::max_abs_diff(y, ref::linear(ref::to_doubles(x), ref::to_doubles(weight), {}, 72, 40)) <= 1e-5);
  CHECK(ref::max_abs_diff(yb, ref::linear(ref::to_doubles(x), ref::to_doubles(weight),
                                          ref::to_doubles(bias), 72, 40)) <= 1e-5);
  // One row through the vector form (the GEMV kernel) gives the row of the matrix form (the
  // packed GEMM) to rounding with fast_sum, bit for bit with ordered_sum; a (1, In) matrix takes
  // the GEMV kernel too.
  const auto row = biased.forward(x[2]);
  for (std::size_t j = 0; j < 40; ++j) CHECK(std::abs(row(j) - yb(2, j)) <= 1e-5f);
  Matrix<float, 1, 72> single;
  forma::copy(x[2], single[0]);
  const auto one = biased.forward(single);
  CHECK(std::memcmp(one.data(), row.data(), 40 * sizeof(float)) == 0);
  const auto ordered_rows = biased.forward(x, forma::ordered_sum);
  const auto ordered_row = biased.forward(x[2], forma::ordered_sum);
  CHECK(std::memcmp(ordered_row.data(), ordered_rows.data() + 2 * 40, 40 * sizeof(float)) == 0);
}

TEST_CASE("Linear checks its weight and its input at run time") {
  Matrix<float, dyn, dyn> weight(40, 72);
  CHECK_THROWS_WITH_AS((nn::Linear<72, 41>(weight)),
                       "Linear: the weight's rows differ from the layer's outputs (weight is (Out, "
                       "In)): 40 != 41",
                       forma::shape_error);
  Vector<float, dyn> short_bias(39);
  CHECK_THROWS_WITH_AS((nn::Linear<dyn, dyn, true>(weight, short_bias)),
                       "Linear: the bias length differs from the layer's outputs (bias is (Out), "
                       "weight is (Out, In)): 39 != 40",
                       forma::shape_error);
  const nn::Linear<dyn, dyn> layer(weight);
  Matrix<float, dyn, dyn> x(2, 71), y(2, 40);
  CHECK_THROWS_WITH_AS(layer.forward(x, y),
                       "Linear: the input width differs from the layer's (x is (..., In), weight "
                       "is (Out, In)): 71 != 72",
                       forma::shape_error);
}

TEST_CASE_TEMPLATE("RMSNorm and LayerNorm layers apply their weights", V, Vector<float, 72>,
                   Vector<float, dyn>) {
  V w = forma::testing::make<V>(72), b = forma::testing::make<V>(72);
  forma::testing::fill_uniform(w, 4, 0.5, 1.5);
  forma::testing::fill_uniform(b, 5);
  Matrix<float, 3, 72> x;
  forma::testing::fill_uniform(x, 6, -2.0, 2.0);
  const nn::RMSNorm<V::static_extent(0)> rms(w, 1e-6f);
  const nn::LayerNorm<V::static_extent(0)> ln(w, b);
  CHECK(rms.width() == 72);
  CHECK(ref::max_abs_diff(rms.forward(x), ref::rmsnorm(ref::to_doubles(x), ref::to_doubles(w), 1e-6)) <= 1e-6);
  CHECK(ref::max_abs_diff(ln.forward(x), ref::layernorm(ref::to_doubles(x), ref::to_doubles(w),
                                                       ref::to_doubles(b), 1e-5)) <= 2e-6);
  Vector<float, dyn> short_bias(71);
  CHECK_THROWS_AS((nn::LayerNorm<dyn>(w, short_bias)), forma::shape_error);
}

TEST_CASE_TEMPLATE("Embedding looks tokens up, PositionEmbedding adds learned positions", M,
                   Matrix<float, 20, 72>, Matrix<float, dyn, dyn>) {
  M table = forma::testing::make<M>(20, 72);
  forma::testing::fill_uniform(table, 7);
  const nn::Embedding<M::static_extent(0), M::static_extent(1)> tokens(table);
  const nn::PositionEmbedding<M::static_extent(0), M::static_extent(1)> positions(table);
  const std::vector<std::int32_t> ids{3, 19, 0};
  Matrix<float, dyn, 72> x(3);
  tokens.forward(ids, x).value();
  for (std::size_t j = 0; j < 72; ++j) CHECK(x(1, j) == table(19, j));
  positions.forward(17, x).value();  // positions 17, 18, 19
  for (std::size_t j = 0; j < 72; ++j) CHECK(x(2, j) == table(0, j) + table(19, j));
  Vector<float, 72> one;
  tokens.forward(5, one).value();
  CHECK(one(4) == table(5, 4));
  const auto past = positions.forward(18, x);  // 18, 19, 20: one past the table
  REQUIRE_FALSE(past);
  CHECK(past.error().code == forma::errc::capacity);
  const auto bad = tokens.forward(20, one);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == forma::errc::out_of_range);
  if constexpr (!M::extents_type::is_static()) {  // a static table is checked by the compiler
    CHECK_THROWS_WITH_AS((nn::Embedding<20, 64>(table)),
                         "Embedding: the table's width differs from the model width (table is (V, "
                         "D)): 72 != 64",
                         forma::shape_error);
  }
}

TEST_CASE("SwiGLU and GeluMLP match their formulas, chunked rows agree (ordered_sum: the same bits)") {
  const nn::TransformerShape s{72, 172, 1, 4, 4, 8};
  const auto w = forma::testing::random_weights(s, 9);
  const nn::SwiGLU<72, 172> swiglu(w.w1, w.w2, w.w3);
  const nn::GeluMLP<dyn, dyn> mlp(w.w1, w.b1, w.w2, w.b2);
  const nn::GeluMLP<72, 172, nn::ffn_kind::gelu_erf> exact(w.w1, w.b1, w.w2, w.b2);
  Matrix<float, 5, 72> x;
  forma::testing::fill_uniform(x, 10);
  nn::FeedForwardScratch<172, 5> big;
  nn::FeedForwardScratch<dyn, dyn> small(172, 2);
  Matrix<float, 5, 72> a, b, c, d;
  swiglu.forward(x, a, big);
  swiglu.forward(x, b, small);
  mlp.forward(x, c, small);
  exact.forward(x, d, big);
  // Chunks of 2, 2 and 1 rows: the 1-row chunk takes the GEMV kernel (rounding apart with
  // fast_sum); with ordered_sum the same bits.
  CHECK(ref::max_abs_diff(a, ref::to_doubles(b)) <= 1e-5);
  Matrix<float, 5, 72> ordered_a, ordered_b;
  swiglu.forward(x, ordered_a, big, forma::ordered_sum);
  swiglu.forward(x, ordered_b, small, forma::ordered_sum);
  CHECK(std::memcmp(ordered_a.data(), ordered_b.data(), ordered_a.size_bytes()) == 0);
  const auto none = std::vector<double>{};
  const auto h = [&](const auto& t) { return ref::to_doubles(t); };
  auto gate = ref::linear(h(x), h(w.w1), none, 72, 172);
  const auto up = ref::linear(h(x), h(w.w3), none, 72, 172);
  auto hidden = ref::linear(h(x), h(w.w1), h(w.b1), 72, 172);
  auto hidden_erf = hidden;
  for (std::size_t i = 0; i < gate.size(); ++i) {
    gate[i] = ref::silu(gate[i]) * up[i];
    hidden[i] = ref::gelu_tanh(hidden[i]);
    hidden_erf[i] = ref::gelu_erf(hidden_erf[i]);
  }
  CHECK(ref::max_abs_diff(a, ref::linear(gate, h(w.w2), none, 172, 72)) <= 1e-5);
  CHECK(ref::max_abs_diff(c, ref::linear(hidden, h(w.w2), h(w.b2), 172, 72)) <= 1e-5);
  CHECK(ref::max_abs_diff(d, ref::linear(hidden_erf, h(w.w2), h(w.b2), 172, 72)) <= 1e-5);
  // Deduced from the weights: SwiGLU<D, hidden> of static views.
  Matrix<float, 172, 72> w1, w3;
  Matrix<float, 72, 172> w2;
  const nn::SwiGLU deduced(w1, w2, w3);
  static_assert(std::is_same_v<decltype(deduced), const nn::SwiGLU<72, 172>>);
  // Weights of dynamic extents that disagree fail at run time with the rule's words.
  Matrix<float, dyn, dyn> w2_wrong(72, 160);
  CHECK_THROWS_WITH_AS((nn::SwiGLU<dyn, dyn>(w.w1, w2_wrong, w.w3)),
                       "FeedForward: w2's columns differ from w1's rows (w1 is (hidden, D), w2 is "
                       "(D, hidden)): 160 != 172",
                       forma::shape_error);
}
