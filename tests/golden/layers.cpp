// Golden tests: the nn layers a block is built from, each alone against PyTorch — Linear (bias or
// not, T = 1 and T > 1) against torch.nn.Linear, SwiGLU and GELU MLPs (tanh and erf) against
// nn.Linear + F.silu / F.gelu, and Attention against the Llama attention in torch (GQA 4/2, RoPE)
// and against torch.nn.MultiheadAttention (MHA, biases) — on static and dynamic extents.
#include <doctest/doctest.h>

#include <array>
#include <string>
#include <type_traits>

#include <forma/forma.hpp>

#include "golden_support.hpp"

using forma::dyn;
using forma::extents;
using forma::Tensor;
namespace nn = forma::nn;

namespace {

using Vec = Tensor<float, forma::dextents<1>>;
using Mat = Tensor<float, forma::dextents<2>>;

// A fixture matrix as Matrix<float, R, C> (Static) or with dynamic extents.
template <bool Static, std::size_t R, std::size_t C>
using MatrixOf = std::conditional_t<Static, forma::Matrix<float, R, C>, Mat>;
template <bool Static, std::size_t N>
using VectorOf = std::conditional_t<Static, forma::Vector<float, N>, Vec>;

constexpr std::size_t pick(bool is_static, std::size_t value) { return is_static ? value : dyn; }
constexpr const char* kind(bool is_static) { return is_static ? "static" : "dynamic"; }

template <bool Static, std::size_t In, std::size_t Out, bool Bias>
void check_linear(const std::string& name, std::size_t rows) {
  const std::string fixture = "linear/" + name;
  const auto weight = golden::load<MatrixOf<Static, Out, In>>(fixture, "weight");
  const auto x = golden::load_dyn<2>(fixture, "x");
  const auto y = golden::load_dyn<2>(fixture, "y");
  REQUIRE(x.extent(0) == rows);
  const std::string detail = name + ", " + kind(Static);
  const auto run = [&](const auto& layer) {
    golden::check("nn::Linear", detail, layer.forward(x), y, 1e-5);
    if (rows == 1) {  // the vector form (D) => (Out) takes the matrix-vector kernel
      golden::check("nn::Linear", detail + ", vector form", layer.forward(x[0]), y, 1e-5);
    }
  };
  if constexpr (Bias) {
    const auto bias = golden::load<VectorOf<Static, Out>>(fixture, "bias");
    run(nn::Linear<pick(Static, In), pick(Static, Out), true>(weight, bias));
  } else {
    run(nn::Linear<pick(Static, In), pick(Static, Out)>(weight));
  }
}

template <bool Static>
void check_feed_forward() {
  constexpr std::size_t D = 72, Hidden = 172;
  constexpr std::size_t SD = pick(Static, D), SH = pick(Static, Hidden);
  nn::FeedForwardScratch<SH, dyn> scratch(Hidden, 5);
  nn::FeedForwardScratch<SH, dyn> one_row(Hidden, 1);  // five chunks of one row
  {
    const auto x = golden::load_dyn<2>("feed_forward/swiglu", "x");
    const auto y = golden::load_dyn<2>("feed_forward/swiglu", "y");
    const auto w1 = golden::load<MatrixOf<Static, Hidden, D>>("feed_forward/swiglu", "w1");
    const auto w2 = golden::load<MatrixOf<Static, D, Hidden>>("feed_forward/swiglu", "w2");
    const auto w3 = golden::load<MatrixOf<Static, Hidden, D>>("feed_forward/swiglu", "w3");
    const nn::SwiGLU<SD, SH> ffn(w1, w2, w3);
    Mat out(x.extent(0), D), chunked(x.extent(0), D);
    ffn.forward(x, out, scratch);
    ffn.forward(x, chunked, one_row);
    golden::check("nn::SwiGLU", std::string("D 72, hidden 172, ") + kind(Static), out, y, 1e-5);
    golden::check("nn::SwiGLU", std::string("D 72, hidden 172, by rows, ") + kind(Static), chunked,
                  y, 1e-5);
  }
  const auto gelu_mlp = [&](const char* name, auto activation) {
    const std::string fixture = std::string("feed_forward/") + name;
    const auto x = golden::load_dyn<2>(fixture, "x");
    const auto y = golden::load_dyn<2>(fixture, "y");
    const auto fc = golden::load<MatrixOf<Static, Hidden, D>>(fixture, "fc");
    const auto fc_bias = golden::load<VectorOf<Static, Hidden>>(fixture, "fc_bias");
    const auto proj = golden::load<MatrixOf<Static, D, Hidden>>(fixture, "proj");
    const auto proj_bias = golden::load<VectorOf<Static, D>>(fixture, "proj_bias");
    const nn::GeluMLP<SD, SH, decltype(activation)::value> mlp(fc, fc_bias, proj, proj_bias);
    Mat out(x.extent(0), D);
    mlp.forward(x, out, scratch);
    golden::check(std::string("nn::GeluMLP (") + name + ")",
                  std::string("D 72, hidden 172, ") + kind(Static), out, y, 1e-5);
  };
  gelu_mlp("gelu_tanh", std::integral_constant<nn::ffn_kind, nn::ffn_kind::gelu_tanh>{});
  gelu_mlp("gelu_erf", std::integral_constant<nn::ffn_kind, nn::ffn_kind::gelu_erf>{});
}

// Runs `attention` over x (T, D) at positions 0 .. T−1 as one prefill and one position at a time,
// and checks both against y.
template <nn::TransformerConfig C, class A>
void run_attention(const char* op, const std::string& detail, const A& attention,
                   const nn::TransformerShape& s, const Mat& x, const Mat& y) {
  using Cache = forma::KVCache<C.layers, C.max_seq, C.kv_heads, C.head_dim()>;
  const auto cache_extents = typename Cache::extents_type(
      std::array{s.layers, s.max_seq, s.kv_heads, s.head_dim()});
  const std::size_t T = x.extent(0);
  Mat prefill(T, s.dim), decode(T, s.dim);
  Cache cache(cache_extents);
  nn::AttentionScratch<C, dyn> rows(s, T);
  (void)cache.append(T).value();
  attention.forward(x, 0, cache, 0, rows, prefill).value();
  golden::check(op, detail + ", prefill", prefill, y, 1e-5);

  Cache decode_cache(cache_extents);
  nn::AttentionScratch<C, dyn> one(s, 1);
  for (std::size_t t = 0; t < T; ++t) {
    (void)decode_cache.append().value();
    attention.forward(x[t], t, decode_cache, 0, one, decode[t]).value();
  }
  golden::check(op, detail + ", decode", decode, y, 1e-5);
}

using golden::dynamic_of;
using golden::with_flash;

// The Llama attention (no biases, interleaved RoPE): D 72, H 4, KVH 2 (head_dim 18), T 9.
constexpr nn::TransformerConfig llama_attention{.dim = 72, .hidden = 172, .layers = 1, .heads = 4,
                                                .kv_heads = 2, .max_seq = 9};
// GPT-2's attention (biases, no RoPE): D 72, H 8 (head_dim 9), T 11.
constexpr nn::TransformerConfig mha_attention = nn::gpt2_block_config(72, 8, 1, 11, 288);

template <nn::TransformerConfig C>
void check_llama_attention(const std::string& variant) {
  const std::string fixture = "attention_layer/llama_d72_4_2";
  const nn::TransformerShape s = nn::static_shape<llama_attention>();
  using A = nn::Attention<C>;
  const auto wq = golden::load_dyn<2>(fixture, "wq"), wk = golden::load_dyn<2>(fixture, "wk"),
             wv = golden::load_dyn<2>(fixture, "wv"), wo = golden::load_dyn<2>(fixture, "wo");
  const A attention(typename A::query_projection(wq), typename A::kv_projection(wk),
                    typename A::kv_projection(wv), typename A::query_projection(wo), s);
  run_attention<C>("nn::Attention (Llama: GQA, RoPE)", "H 4 / KVH 2, D 72, T 9, " + variant,
                   attention, s, golden::load_dyn<2>(fixture, "x"), golden::load_dyn<2>(fixture, "y"));
}

template <nn::TransformerConfig C>
void check_mha_attention(const std::string& variant) {
  const std::string fixture = "attention_layer/mha_d72_h8_bias";
  const nn::TransformerShape s = nn::static_shape<mha_attention>();
  using A = nn::Attention<C>;
  const auto d1 = [&](const char* n) { return golden::load_dyn<1>(fixture, n); };
  const auto d2 = [&](const char* n) { return golden::load_dyn<2>(fixture, n); };
  const auto wq = d2("wq"), wk = d2("wk"), wv = d2("wv"), wo = d2("wo");
  const auto bq = d1("bq"), bk = d1("bk"), bv = d1("bv"), bo = d1("bo");
  const A attention(typename A::query_projection(wq, bq), typename A::kv_projection(wk, bk),
                    typename A::kv_projection(wv, bv), typename A::query_projection(wo, bo), s);
  run_attention<C>("nn::Attention (GPT-2: MHA, biases)", "H 8, D 72, T 11, " + variant, attention,
                   s, d2("x"), d2("y"));
}

}  // namespace

TEST_CASE("nn::Linear matches torch.nn.Linear (bias or not, one row or several)") {
  check_linear<true, 72, 172, true>("d72_172_bias", 5);
  check_linear<false, 72, 172, true>("d72_172_bias", 5);
  check_linear<true, 72, 172, true>("d72_172_bias_t1", 1);
  check_linear<false, 72, 172, true>("d72_172_bias_t1", 1);
  check_linear<true, 172, 72, false>("d172_72", 3);
  check_linear<false, 172, 72, false>("d172_72", 3);
}

TEST_CASE("nn::SwiGLU and nn::GeluMLP (tanh and erf) match nn.Linear with F.silu and F.gelu") {
  check_feed_forward<true>();
  check_feed_forward<false>();
}

TEST_CASE("nn::Attention matches the Llama attention in torch and torch.nn.MultiheadAttention") {
  check_llama_attention<llama_attention>("static");
  check_llama_attention<with_flash(llama_attention, 4)>("static flash<4>");
  check_llama_attention<dynamic_of(llama_attention)>("dynamic");
  check_llama_attention<dynamic_of(with_flash(llama_attention, 2))>("dynamic flash<2>");
  check_mha_attention<mha_attention>("static");
  check_mha_attention<with_flash(mha_attention, 4)>("static flash<4>");
  check_mha_attention<dynamic_of(mha_attention)>("dynamic");
  check_mha_attention<dynamic_of(with_flash(mha_attention, 3))>("dynamic flash<3>");
}
