// tests/unit/nn/block_fixture.hpp — random weights for a transformer block of any family, the
// block built from them for a static or dynamic config, and a float64 reference of the block
// written from the textbook formulas (tests/unit/ops/transformer_reference.hpp).
#pragma once

#include <cstddef>
#include <vector>

#include <forma/forma.hpp>

#include "../ops/transformer_reference.hpp"
#include "test_support.hpp"

namespace forma::testing {

template <nn::TransformerConfig C>
struct Config {
  static constexpr nn::TransformerConfig value = C;
};

// C with every extent dynamic (the same family and options).
constexpr nn::TransformerConfig dynamic_of(nn::TransformerConfig c) {
  c.dim = c.hidden = c.layers = c.heads = c.kv_heads = c.max_seq = dyn;
  return c;
}

// One block's weights, owned, with dynamic extents. The feed-forward uses w1 (hidden, D),
// w2 (D, hidden), w3 (hidden, D) for SwiGLU and w1 = fc, b1, w2 = proj, b2 for a GELU MLP.
struct BlockWeights {
  using Vec = Tensor<float, dextents<1>>;
  using Mat = Tensor<float, dextents<2>>;
  Vec norm1_w, norm1_b, norm2_w, norm2_b;
  Mat wq, wk, wv, wo;
  Vec bq, bk, bv, bo;
  Mat w1, w2, w3;
  Vec b1, b2;
};

inline BlockWeights random_weights(const nn::TransformerShape& s, unsigned seed) {
  using Vec = BlockWeights::Vec;
  using Mat = BlockWeights::Mat;
  const std::size_t D = s.dim, KVD = s.kv_dim(), Hd = s.hidden;
  BlockWeights w{Vec(D), Vec(D), Vec(D), Vec(D), Mat(D, D), Mat(KVD, D), Mat(KVD, D), Mat(D, D),
                 Vec(D), Vec(KVD), Vec(KVD), Vec(D), Mat(Hd, D), Mat(D, Hd), Mat(Hd, D), Vec(Hd),
                 Vec(D)};
  const double a = 1.0 / std::sqrt(static_cast<double>(D));
  const double b = 1.0 / std::sqrt(static_cast<double>(Hd));
  fill_uniform(w.norm1_w, seed + 1, 0.5, 1.5);
  fill_uniform(w.norm1_b, seed + 2, -0.2, 0.2);
  fill_uniform(w.norm2_w, seed + 3, 0.5, 1.5);
  fill_uniform(w.norm2_b, seed + 4, -0.2, 0.2);
  fill_uniform(w.wq, seed + 5, -a, a);
  fill_uniform(w.wk, seed + 6, -a, a);
  fill_uniform(w.wv, seed + 7, -a, a);
  fill_uniform(w.wo, seed + 8, -a, a);
  fill_uniform(w.bq, seed + 9, -0.1, 0.1);
  fill_uniform(w.bk, seed + 10, -0.1, 0.1);
  fill_uniform(w.bv, seed + 11, -0.1, 0.1);
  fill_uniform(w.bo, seed + 12, -0.1, 0.1);
  fill_uniform(w.w1, seed + 13, -a, a);
  fill_uniform(w.w2, seed + 14, -b, b);
  fill_uniform(w.w3, seed + 15, -a, a);
  fill_uniform(w.b1, seed + 16, -0.1, 0.1);
  fill_uniform(w.b2, seed + 17, -0.1, 0.1);
  return w;
}

template <nn::TransformerConfig C>
nn::TransformerBlock<C> make_block(const BlockWeights& w, const nn::TransformerShape& shape) {
  using B = nn::TransformerBlock<C>;
  using A = typename B::attention_type;
  using QP = typename A::query_projection;
  using KP = typename A::kv_projection;
  using N = typename B::norm_type;
  using F = typename B::feed_forward_type;
  const auto attention = [&] {
    if constexpr (C.bias) {
      return A(QP(w.wq, w.bq), KP(w.wk, w.bk), KP(w.wv, w.bv), QP(w.wo, w.bo), shape);
    } else {
      return A(QP(w.wq), KP(w.wk), KP(w.wv), QP(w.wo), shape);
    }
  }();
  const auto norm = [&](const BlockWeights::Vec& weight, const BlockWeights::Vec& bias) {
    if constexpr (C.norm == nn::norm_kind::rms) {
      (void)bias;
      return N(weight, C.norm_eps);
    } else {
      return N(weight, bias, C.norm_eps);
    }
  };
  const auto feed_forward = [&] {
    if constexpr (C.ffn == nn::ffn_kind::swiglu) {
      return F(w.w1, w.w2, w.w3);
    } else {
      return F(w.w1, w.b1, w.w2, w.b2);
    }
  }();
  return B(norm(w.norm1_w, w.norm1_b), attention, norm(w.norm2_w, w.norm2_b), feed_forward);
}

// The block in float64 on x (T, D) at positions 0 .. T−1.
template <nn::TransformerConfig C>
std::vector<double> reference_block(const BlockWeights& w, const nn::TransformerShape& s,
                                    const std::vector<double>& x) {
  namespace ref = reference;
  const std::size_t D = s.dim, T = x.size() / D, H = s.heads, KVH = s.kv_heads, Dh = s.head_dim();
  const auto d = [](const auto& t) { return ref::to_doubles(t); };
  const auto none = std::vector<double>{};
  const auto norm = [&](const std::vector<double>& v, const auto& weight, const auto& bias) {
    if constexpr (C.norm == nn::norm_kind::rms) {
      return ref::rmsnorm(v, d(weight), C.norm_eps);
    } else {
      return ref::layernorm(v, d(weight), d(bias), C.norm_eps);
    }
  };
  const auto bias = [&](const auto& b) { return C.bias ? d(b) : none; };
  auto h = norm(x, w.norm1_w, w.norm1_b);
  auto q = ref::linear(h, d(w.wq), bias(w.bq), D, D);
  auto k = ref::linear(h, d(w.wk), bias(w.bk), D, KVH * Dh);
  const auto v = ref::linear(h, d(w.wv), bias(w.bv), D, KVH * Dh);
  if constexpr (C.position != nn::position_kind::learned) {
    const bool interleaved = C.position == nn::position_kind::rope_interleaved;
    for (std::size_t t = 0; t < T; ++t) {
      const std::vector<double> qt(q.begin() + static_cast<std::ptrdiff_t>(t * D),
                                   q.begin() + static_cast<std::ptrdiff_t>((t + 1) * D));
      const std::vector<double> kt(k.begin() + static_cast<std::ptrdiff_t>(t * KVH * Dh),
                                   k.begin() + static_cast<std::ptrdiff_t>((t + 1) * KVH * Dh));
      const auto qr = ref::rope(qt, H, Dh, t, C.rope_theta, interleaved);
      const auto kr = ref::rope(kt, KVH, Dh, t, C.rope_theta, interleaved);
      std::copy(qr.begin(), qr.end(), q.begin() + static_cast<std::ptrdiff_t>(t * D));
      std::copy(kr.begin(), kr.end(), k.begin() + static_cast<std::ptrdiff_t>(t * KVH * Dh));
    }
  }
  const auto attended = ref::attention(q, k, v, T, H, KVH, Dh, 0);
  const auto projected = ref::linear(attended, d(w.wo), bias(w.bo), D, D);
  std::vector<double> x1(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) x1[i] = x[i] + projected[i];
  const auto h2 = norm(x1, w.norm2_w, w.norm2_b);
  std::vector<double> ffn;
  if constexpr (C.ffn == nn::ffn_kind::swiglu) {
    auto gate = ref::linear(h2, d(w.w1), none, D, s.hidden);
    const auto up = ref::linear(h2, d(w.w3), none, D, s.hidden);
    for (std::size_t i = 0; i < gate.size(); ++i) gate[i] = ref::silu(gate[i]) * up[i];
    ffn = ref::linear(gate, d(w.w2), none, s.hidden, D);
  } else {
    auto hidden = ref::linear(h2, d(w.w1), d(w.b1), D, s.hidden);
    for (double& e : hidden) {
      e = C.ffn == nn::ffn_kind::gelu_tanh ? ref::gelu_tanh(e) : ref::gelu_erf(e);
    }
    ffn = ref::linear(hidden, d(w.w2), d(w.b2), s.hidden, D);
  }
  for (std::size_t i = 0; i < x1.size(); ++i) x1[i] += ffn[i];
  return x1;
}

}  // namespace forma::testing
