// Golden tests: whole transformer blocks against PyTorch — Llama blocks (RMSNorm, RoPE in both
// layouts, GQA 8/4, MQA 8/1, MHA, D = 72, hidden = 172, T = 1 and full capacity) and GPT-2 blocks
// (token + learned position embeddings, LayerNorm, nn.MultiheadAttention, GELU MLP), each with
// static and dynamic configs, plain and flash attention, as one prefill and token by token.
#include <doctest/doctest.h>

#include <string>

#include <forma/forma.hpp>

#include "golden_support.hpp"

using forma::dyn;
using forma::Matrix;
namespace nn = forma::nn;

namespace {

using Vec = forma::Tensor<float, forma::dextents<1>>;
using Mat = forma::Tensor<float, forma::dextents<2>>;

using golden::dynamic_of;
using golden::with_flash;

// "H 8 / KVH 4, D 64, hidden 172, max_seq 12": the block's shape, for the report.
std::string describe(const nn::TransformerShape& s) {
  return "H " + std::to_string(s.heads) + " / KVH " + std::to_string(s.kv_heads) + ", D " +
         std::to_string(s.dim) + ", hidden " + std::to_string(s.hidden) + ", max_seq " +
         std::to_string(s.max_seq);
}

// Runs `block` over x (T, D) at positions 0 .. T−1: as one prefill, and one position at a time.
// Returns both results.
template <nn::TransformerConfig C, class Block>
std::pair<Mat, Mat> run(const Block& block, const nn::TransformerShape& s, const Mat& x) {
  const std::size_t T = x.extent(0);
  auto make_cache = [&] {
    return forma::KVCache<C.layers, C.max_seq, C.kv_heads, C.head_dim()>(
        typename forma::KVCache<C.layers, C.max_seq, C.kv_heads, C.head_dim()>::extents_type(
            std::array{s.layers, s.max_seq, s.kv_heads, s.head_dim()}));
  };
  Mat prefill = x;
  auto cache = make_cache();
  nn::BlockScratch<C, dyn> rows(s, T);
  (void)cache.append(T).value();
  block.forward(prefill, 0, cache, 0, rows).value();

  Mat decode = x;
  auto decode_cache = make_cache();
  nn::BlockScratch<C, dyn> one(s, 1);
  for (std::size_t t = 0; t < T; ++t) {
    (void)decode_cache.append().value();
    block.forward(decode[t], t, decode_cache, 0, one).value();
  }
  return {prefill, decode};
}

template <class Case, nn::TransformerConfig C>
void check_llama(const std::string& variant) {
  const std::string fixture = std::string("llama_block/") + Case::name;
  const nn::TransformerShape s = nn::static_shape<Case::config>();
  using B = nn::TransformerBlock<C>;
  using A = typename B::attention_type;
  using QP = typename A::query_projection;
  using KP = typename A::kv_projection;
  const auto d1 = [&](const char* n) { return golden::load_dyn<1>(fixture, n); };
  const auto d2 = [&](const char* n) { return golden::load_dyn<2>(fixture, n); };
  const auto attention_norm = d1("attention_norm"), ffn_norm = d1("ffn_norm");
  const auto wq = d2("wq"), wk = d2("wk"), wv = d2("wv"), wo = d2("wo");
  const auto w1 = d2("w1"), w2 = d2("w2"), w3 = d2("w3");
  const B block(typename B::norm_type(attention_norm, C.norm_eps),
                A(QP(wq), KP(wk), KP(wv), QP(wo), s), typename B::norm_type(ffn_norm, C.norm_eps),
                typename B::feed_forward_type(w1, w2, w3));
  const auto x = d2("x");
  const auto y = d2("y");
  const auto [prefill, decode] = run<C>(block, s, x);
  const std::string detail = std::string(Case::name) + " (" + describe(s) + "), " + variant;
  golden::check("Llama TransformerBlock", detail + ", prefill", prefill, y, 1e-4);
  golden::check("Llama TransformerBlock", detail + ", decode", decode, y, 1e-4);
}

struct GQA {
  static constexpr const char* name = "gqa_8_4";
  static constexpr nn::TransformerConfig config{.dim = 64, .hidden = 172, .layers = 1, .heads = 8,
                                                .kv_heads = 4, .max_seq = 12};
};
struct MQA {
  static constexpr const char* name = "mqa_8_1";
  static constexpr nn::TransformerConfig config{.dim = 64, .hidden = 172, .layers = 1, .heads = 8,
                                                .kv_heads = 1, .max_seq = 12};
};
struct MHAOneToken {
  static constexpr const char* name = "mha_8_8_t1";
  static constexpr nn::TransformerConfig config{.dim = 64, .hidden = 172, .layers = 1, .heads = 8,
                                                .kv_heads = 8, .max_seq = 4};
};
struct Width72 {
  static constexpr const char* name = "d72_4_2";
  static constexpr nn::TransformerConfig config{.dim = 72, .hidden = 172, .layers = 1, .heads = 4,
                                                .kv_heads = 2, .max_seq = 9};
};
struct HalfRope {
  static constexpr const char* name = "half_theta500k";
  static constexpr nn::TransformerConfig config{.dim = 64, .hidden = 96, .layers = 1, .heads = 4,
                                                .kv_heads = 2, .max_seq = 10,
                                                .position = nn::position_kind::rope_half,
                                                .rope_theta = 500000.0f};
};

struct GPT2Wide {
  static constexpr const char* name = "d72_h8";
  static constexpr nn::TransformerConfig config = nn::gpt2_block_config(72, 8, 1, 16, 172);
  static constexpr std::size_t vocab = 60;
};
struct GPT2OneToken {
  static constexpr const char* name = "d64_h4_t1";
  static constexpr nn::TransformerConfig config = nn::gpt2_block_config(64, 4, 1, 8, 256);
  static constexpr std::size_t vocab = 40;
};

template <class Case, nn::TransformerConfig C>
void check_gpt2(const std::string& variant) {
  const std::string fixture = std::string("gpt2_block/") + Case::name;
  const nn::TransformerShape s = nn::static_shape<Case::config>();
  const auto d1 = [&](const char* n) { return golden::load_dyn<1>(fixture, n); };
  const auto d2 = [&](const char* n) { return golden::load_dyn<2>(fixture, n); };
  // Token + learned position embeddings.
  const auto wte = d2("wte"), wpe = d2("wpe");
  const nn::Embedding<C.dim == dyn ? dyn : Case::vocab, C.dim> tokens(wte);
  const nn::PositionEmbedding<C.max_seq, C.dim> positions(wpe);
  const auto ids = golden::load_ids(fixture, "tokens");
  Mat x(ids.size(), s.dim);
  tokens.forward(ids, x).value();
  positions.forward(0, x).value();
  const std::string detail = std::string(Case::name) + " (" + describe(s) + "), " + variant;
  golden::check_exact("nn::Embedding + nn::PositionEmbedding", detail, x, d2("x"));
  // The block.
  using B = nn::TransformerBlock<C>;
  using A = typename B::attention_type;
  using QP = typename A::query_projection;
  using KP = typename A::kv_projection;
  const auto ln1_w = d1("ln_1_weight"), ln1_b = d1("ln_1_bias"), ln2_w = d1("ln_2_weight"),
             ln2_b = d1("ln_2_bias");
  const auto wq = d2("wq"), wk = d2("wk"), wv = d2("wv"), wo = d2("wo");
  const auto bq = d1("bq"), bk = d1("bk"), bv = d1("bv"), bo = d1("bo");
  const auto fc = d2("fc"), proj = d2("proj");
  const auto fc_bias = d1("fc_bias"), proj_bias = d1("proj_bias");
  const B block(typename B::norm_type(ln1_w, ln1_b, C.norm_eps),
                A(QP(wq, bq), KP(wk, bk), KP(wv, bv), QP(wo, bo), s),
                typename B::norm_type(ln2_w, ln2_b, C.norm_eps),
                typename B::feed_forward_type(fc, fc_bias, proj, proj_bias));
  const auto [prefill, decode] = run<C>(block, s, x);
  const auto y = d2("y");
  golden::check("GPT-2 TransformerBlock", detail + ", prefill", prefill, y, 1e-4);
  golden::check("GPT-2 TransformerBlock", detail + ", decode", decode, y, 1e-4);
}

}  // namespace

TEST_CASE_TEMPLATE("Llama blocks match PyTorch (static and dynamic config, plain and flash)", Case,
                   GQA, MQA, MHAOneToken, Width72, HalfRope) {
  check_llama<Case, Case::config>("static");
  check_llama<Case, with_flash(Case::config, 4)>("static flash<4>");
  check_llama<Case, dynamic_of(Case::config)>("dynamic");
  check_llama<Case, dynamic_of(with_flash(Case::config, 3))>("dynamic flash<3>");
}

TEST_CASE_TEMPLATE("GPT-2 blocks match PyTorch (static and dynamic config, plain and flash)", Case,
                   GPT2Wide, GPT2OneToken) {
  check_gpt2<Case, Case::config>("static");
  check_gpt2<Case, with_flash(Case::config, 4)>("static flash<4>");
  check_gpt2<Case, dynamic_of(Case::config)>("dynamic");
  check_gpt2<Case, dynamic_of(with_flash(Case::config, 3))>("dynamic flash<3>");
}
