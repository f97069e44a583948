// forma/train/llama_trainer.hpp — training a Llama-family decoder (llama2.c's model) on the CPU:
// parameters, gradients, AdamW moments and saved activations in one allocation, sized at compile
// time.
//
//   constexpr forma::LlamaConfig Tiny{.dim = 32, .hidden = 64, .layers = 2, .heads = 4,
//                                     .kv_heads = 2, .vocab = 64, .max_seq = 8,
//                                     .classifier = forma::classifier_kind::shared};
//   static_assert(forma::train::state_bytes<Tiny, 2, 8>() <= 4 << 20);
//   forma::train::LlamaTrainer<Tiny, 2, 8> trainer;   // B = 2 sequences of T = 8 tokens
//   trainer.init(seed);                                // llama2.c's initialization
//   auto loss = trainer.forward_backward(tokens, targets);   // (B, T) int32 each
//   trainer.clip_grad_norm(1.0f);
//   trainer.adamw_step(lr, {.weight_decay = 0.1f});   // or sgd_step(lr, {.momentum = 0.9f})
//   forma::Llama<Tiny> model(trainer.weights());       // inference on the trained parameters
//
// The model is llama2.c's: RMSNorm, interleaved RoPE, GQA (kv_heads divides heads), SwiGLU, no
// biases, the classifier tied to the token embedding (classifier_kind::shared or any) or its own
// (separate). Parameters are stored in llama2.c's layout, per-layer tensors stacked on a first
// axis (models/llama_weights.hpp): token_embedding (V, D), rms_att (L, D), wq (L, D, D),
// wk, wv (L, KV, D), wo (L, D, D), rms_ffn (L, D), w1, w3 (L, H, D), w2 (L, D, H), rms_final (D),
// then classifier (V, D) when separate. Gradients, AdamW's m and v follow in the same layout.
//
// forward_backward runs the forward over the B·T tokens, saving for each layer its input, the
// normalized inputs, q and k after RoPE, v, the attention output and its log-sum-exp, the
// mid-layer residual, and w1·x, w3·x, silu(w1·x) ⊙ w3·x; then the backward ops of ops/*_backward
// (cross_entropy_backward, linear_backward, rmsnorm_backward, swiglu_backward, attention_backward,
// rope_backward, embedding_backward). The gradients are overwritten (zeroed, then accumulated: a
// tied embedding gets both the classifier's and the lookup's). The loss is the mean cross-entropy
// over the B·T targets, as torch.nn.functional.cross_entropy on logits.view(-1, V).
//
// Nothing depends on the number of threads: every kernel used splits its work so that each
// output is summed by one thread in a fixed order, and the optimizer loops are serial.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <string_view>

#include "forma/core/error.hpp"
#include "forma/core/extents.hpp"
#include "forma/core/storage.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/gemm.hpp"
#include "forma/kernels/cpu/norm.hpp"
#include "forma/kernels/cpu/rope.hpp"
#include "forma/kernels/math.hpp"
#include "forma/models/llama_config.hpp"
#include "forma/models/llama_weights.hpp"
#include "forma/ops/activation_backward.hpp"
#include "forma/ops/attention_backward.hpp"
#include "forma/ops/cross_entropy_backward.hpp"
#include "forma/ops/embedding_backward.hpp"
#include "forma/ops/linear_backward.hpp"
#include "forma/ops/norm_backward.hpp"
#include "forma/ops/rope_backward.hpp"
#include "forma/train/optim.hpp"

namespace forma::train {

// Where everything lives in the state's one float array (offsets and sizes in floats).
template <LlamaConfig C, std::size_t B, std::size_t T>
  requires(C.is_static())
struct llama_state_layout {
  static constexpr std::size_t D = C.dim, H = C.hidden, L = C.layers, NH = C.heads,
                               KV = C.kv_dim(), V = C.vocab, N = B * T;
  static constexpr bool shared = C.classifier != classifier_kind::separate;

  // Parameters (llama2.c's order).
  static constexpr std::size_t token_embedding = 0;
  static constexpr std::size_t rms_att = token_embedding + V * D;
  static constexpr std::size_t wq = rms_att + L * D;
  static constexpr std::size_t wk = wq + L * D * D;
  static constexpr std::size_t wv = wk + L * KV * D;
  static constexpr std::size_t wo = wv + L * KV * D;
  static constexpr std::size_t rms_ffn = wo + L * D * D;
  static constexpr std::size_t w1 = rms_ffn + L * D;
  static constexpr std::size_t w2 = w1 + L * H * D;
  static constexpr std::size_t w3 = w2 + L * D * H;
  static constexpr std::size_t rms_final = w3 + L * H * D;
  static constexpr std::size_t classifier = shared ? token_embedding : rms_final + D;
  static constexpr std::size_t params = rms_final + D + (shared ? 0 : V * D);

  // Saved activations of one layer, each (N, width).
  static constexpr std::size_t a_x = 0;               // the layer's input (D)
  static constexpr std::size_t a_xn_att = a_x + N * D;  // rmsnorm(x, rms_att) (D)
  static constexpr std::size_t a_q = a_xn_att + N * D;  // q after RoPE (D)
  static constexpr std::size_t a_k = a_q + N * D;       // k after RoPE (KV)
  static constexpr std::size_t a_v = a_k + N * KV;      // v (KV)
  static constexpr std::size_t a_o = a_v + N * KV;      // attention output (D)
  static constexpr std::size_t a_lse = a_o + N * D;     // log-sum-exp (NH)
  static constexpr std::size_t a_mid = a_lse + N * NH;  // x + attention (D)
  static constexpr std::size_t a_xn_ffn = a_mid + N * D;  // rmsnorm(mid, rms_ffn) (D)
  static constexpr std::size_t a_h1 = a_xn_ffn + N * D;   // w1·xn (H)
  static constexpr std::size_t a_h3 = a_h1 + N * H;       // w3·xn (H)
  static constexpr std::size_t a_hg = a_h3 + N * H;       // silu(h1) ⊙ h3 (H)
  static constexpr std::size_t layer_activations = a_hg + N * H;

  // The state: params, grads, m, v, then the activations and the backward's scratch.
  static constexpr std::size_t grads = params;
  static constexpr std::size_t adam_m = 2 * params;
  static constexpr std::size_t adam_v = 3 * params;
  static constexpr std::size_t layers_start = 4 * params;
  static constexpr std::size_t x_final = layers_start + L * layer_activations;  // (N, D)
  static constexpr std::size_t xn_final = x_final + N * D;                       // (N, D)
  static constexpr std::size_t logits = xn_final + N * D;                        // (N, V)
  static constexpr std::size_t s_dx = logits + N * V;                            // (N, D)
  static constexpr std::size_t s_dxn = s_dx + N * D;                             // (N, D)
  static constexpr std::size_t s_tmp = s_dxn + N * D;                            // (N, D)
  static constexpr std::size_t s_dq = s_tmp + N * D;                             // (N, D)
  static constexpr std::size_t s_do = s_dq + N * D;                              // (N, D)
  static constexpr std::size_t s_dk = s_do + N * D;                              // (N, KV)
  static constexpr std::size_t s_dv = s_dk + N * KV;                             // (N, KV)
  static constexpr std::size_t s_dhg = s_dv + N * KV;                            // (N, H)
  static constexpr std::size_t s_dh1 = s_dhg + N * H;                            // (N, H)
  static constexpr std::size_t s_dh3 = s_dh1 + N * H;                            // (N, H)
  static constexpr std::size_t total = s_dh3 + N * H;
};

// The exact number of bytes a LlamaTrainer<C, B, T> allocates (one aligned allocation).
template <LlamaConfig C, std::size_t B, std::size_t T>
constexpr std::size_t state_bytes() {
  return llama_state_layout<C, B, T>::total * sizeof(float);
}

// One parameter tensor of the state: its name (llama2.c's), offset and size in floats, and
// whether weight decay applies (2-D per layer: matrices and embeddings; not the norm weights).
struct ParamSlot {
  std::string_view name;
  std::size_t offset = 0;
  std::size_t size = 0;
  bool decay = false;
};

// Mutable views of parameters (or of their gradients or moments) in llama2.c's layout.
template <LlamaConfig C>
struct LlamaParams {
  template <std::size_t... Es>
  using view = TensorView<float, extents<Es...>>;
  view<C.vocab, C.dim> token_embedding;
  view<C.layers, C.dim> rms_att;
  view<C.layers, C.dim, C.dim> wq;
  view<C.layers, C.kv_dim(), C.dim> wk;
  view<C.layers, C.kv_dim(), C.dim> wv;
  view<C.layers, C.dim, C.dim> wo;
  view<C.layers, C.dim> rms_ffn;
  view<C.layers, C.hidden, C.dim> w1;
  view<C.layers, C.dim, C.hidden> w2;
  view<C.layers, C.hidden, C.dim> w3;
  view<C.dim> rms_final;
  view<C.vocab, C.dim> classifier;  // the token embedding when shared
};

template <LlamaConfig C, std::size_t B, std::size_t T>
  requires(C.is_static())
class LlamaTrainer {
  using layout = llama_state_layout<C, B, T>;
  static constexpr std::size_t D = layout::D, H = layout::H, L = layout::L, NH = layout::NH,
                               KV = layout::KV, V = layout::V, N = layout::N;
  static constexpr std::size_t head_dim = C.head_dim(), kv_heads = C.kv_heads;
  static_assert(B > 0 && T > 0, "LlamaTrainer: batch and sequence must be positive");
  static_assert(T <= C.max_seq, "LlamaTrainer: the sequence T must not exceed the config's max_seq");
  static_assert(C.dim % C.heads == 0 && C.heads % C.kv_heads == 0 && C.head_dim() % 2 == 0,
                "LlamaTrainer: heads must divide dim, kv_heads divide heads, head_dim be even");

 public:
  static constexpr LlamaConfig config = C;
  static constexpr std::size_t batch = B, sequence = T;
  static constexpr std::size_t parameter_count = layout::params;
  static constexpr bool shared_classifier = layout::shared;

  using tokens_view = TensorView<const std::int32_t, extents<B, T>>;
  using logits_view = TensorView<const float, extents<B * T, C.vocab>>;

  // Allocates the whole state (state_bytes<C, B, T>() bytes, zeroed): parameters all zero.
  LlamaTrainer() : state_(layout::total, true) {}

  // The parameter tensors, in llama2.c's order.
  static constexpr auto slots() {
    std::array<ParamSlot, layout::shared ? 11 : 12> s{{
        {"token_embedding", layout::token_embedding, V * D, true},
        {"rms_att", layout::rms_att, L * D, false},
        {"wq", layout::wq, L * D * D, true},
        {"wk", layout::wk, L * KV * D, true},
        {"wv", layout::wv, L * KV * D, true},
        {"wo", layout::wo, L * D * D, true},
        {"rms_ffn", layout::rms_ffn, L * D, false},
        {"w1", layout::w1, L * H * D, true},
        {"w2", layout::w2, L * D * H, true},
        {"w3", layout::w3, L * H * D, true},
        {"rms_final", layout::rms_final, D, false},
    }};
    if constexpr (!layout::shared) s[11] = {"classifier", layout::classifier, V * D, true};
    return s;
  }

  // llama2.c train.py's initialization from `seed`: normal(0, 0.02) for the embedding and the
  // projections, 0.02/√(2L) for wo and w3 (its residual projections), 1 for the norm weights.
  // Moments and the step count reset. The same seed gives the same bits on every platform.
  void init(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    const double residual_std = 0.02 / std::sqrt(2.0 * static_cast<double>(L));
    for (const ParamSlot& s : slots()) {
      float* p = state_.data() + s.offset;
      if (!s.decay) {
        for (std::size_t i = 0; i < s.size; ++i) p[i] = 1.0f;
        continue;
      }
      const double std_dev = s.name == "wo" || s.name == "w3" ? residual_std : 0.02;
      for (std::size_t i = 0; i < s.size; ++i) p[i] = static_cast<float>(std_dev * normal(rng));
    }
    reset_optimizer();
  }

  void reset_optimizer() noexcept {
    std::memset(state_.data() + layout::adam_m, 0, 2 * layout::params * sizeof(float));
    step_ = 0;
  }

  // Flat arrays in the layout of slots().
  std::span<float> parameters() noexcept { return {state_.data(), layout::params}; }
  std::span<const float> parameters() const noexcept { return {state_.data(), layout::params}; }
  std::span<float> gradients() noexcept { return {state_.data() + layout::grads, layout::params}; }
  std::span<const float> gradients() const noexcept {
    return {state_.data() + layout::grads, layout::params};
  }

  // Views of each tensor: parameters, gradients, AdamW's first and second moments.
  LlamaParams<C> params() noexcept { return views(0); }
  LlamaParams<C> grads() noexcept { return views(layout::grads); }
  LlamaParams<C> adam_m() noexcept { return views(layout::adam_m); }
  LlamaParams<C> adam_v() noexcept { return views(layout::adam_v); }

  // Read-only LlamaWeights of the parameters, for forma::Llama<C> (valid while *this lives).
  LlamaWeights<C> weights() const noexcept {
    const float* p = state_.data();
    LlamaWeights<C> w;
    w.shape = static_shape<C>();
    w.token_embedding = typename LlamaWeights<C>::template weight<V, D>(p + layout::token_embedding);
    w.rms_att = typename LlamaWeights<C>::template weight<L, D>(p + layout::rms_att);
    w.wq = typename LlamaWeights<C>::template weight<L, D, D>(p + layout::wq);
    w.wk = typename LlamaWeights<C>::template weight<L, KV, D>(p + layout::wk);
    w.wv = typename LlamaWeights<C>::template weight<L, KV, D>(p + layout::wv);
    w.wo = typename LlamaWeights<C>::template weight<L, D, D>(p + layout::wo);
    w.rms_ffn = typename LlamaWeights<C>::template weight<L, D>(p + layout::rms_ffn);
    w.w1 = typename LlamaWeights<C>::template weight<L, H, D>(p + layout::w1);
    w.w2 = typename LlamaWeights<C>::template weight<L, D, H>(p + layout::w2);
    w.w3 = typename LlamaWeights<C>::template weight<L, H, D>(p + layout::w3);
    w.rms_final = typename LlamaWeights<C>::template weight<D>(p + layout::rms_final);
    w.classifier = typename LlamaWeights<C>::template weight<V, D>(p + layout::classifier);
    return w;
  }

  // The forward alone: fills the logits (and the saved activations); an Error for a token id
  // outside [0, V).
  Result<void> forward(tokens_view tokens) {
    float* s = state_.data();
    const float* p = s;
    const float eps = C.norm_eps;
    for (std::size_t r = 0; r < N; ++r) {
      const std::int32_t id = tokens.data()[r];
      if (id < 0 || static_cast<std::size_t>(id) >= V) {
        return forma::detail::out_of_table("LlamaTrainer::forward", "token id", id, V);
      }
      std::memcpy(act(0, layout::a_x) + r * D, p + layout::token_embedding + static_cast<std::size_t>(id) * D,
                  D * sizeof(float));
    }
    using kernels::cpu::gemm_nt;
    for (std::size_t l = 0; l < L; ++l) {
      float* x = act(l, layout::a_x);
      float* xn = act(l, layout::a_xn_att);
      float* q = act(l, layout::a_q);
      float* k = act(l, layout::a_k);
      float* v = act(l, layout::a_v);
      float* o = act(l, layout::a_o);
      float* lse = act(l, layout::a_lse);
      float* mid = act(l, layout::a_mid);
      float* xn2 = act(l, layout::a_xn_ffn);
      float* h1 = act(l, layout::a_h1);
      float* h3 = act(l, layout::a_h3);
      float* hg = act(l, layout::a_hg);
      float* tmp = s + layout::s_tmp;
      kernels::cpu::rmsnorm_rows(x, p + layout::rms_att + l * D, xn, N, D, eps);
      gemm_nt(N, D, D, xn, D, p + layout::wq + l * D * D, D, q, D);
      gemm_nt(N, KV, D, xn, D, p + layout::wk + l * KV * D, D, k, KV);
      gemm_nt(N, KV, D, xn, D, p + layout::wv + l * KV * D, D, v, KV);
      for (std::size_t r = 0; r < N; ++r) {
        using kernels::cpu::rope_layout;
        kernels::cpu::rope_row<rope_layout::interleaved>(q + r * D, NH, head_dim, r % T, C.rope_theta);
        kernels::cpu::rope_row<rope_layout::interleaved>(k + r * KV, kv_heads, head_dim, r % T,
                                                         C.rope_theta);
      }
      for (std::size_t b = 0; b < B; ++b) {
        attention_forward_lse(heads_view<const float, NH>(q, b), heads_view<const float, kv_heads>(k, b),
                              heads_view<const float, kv_heads>(v, b), heads_view<float, NH>(o, b),
                              TensorView<float, extents<T, NH>>(lse + b * T * NH));
      }
      gemm_nt(N, D, D, o, D, p + layout::wo + l * D * D, D, tmp, D);
      for (std::size_t i = 0; i < N * D; ++i) mid[i] = x[i] + tmp[i];
      kernels::cpu::rmsnorm_rows(mid, p + layout::rms_ffn + l * D, xn2, N, D, eps);
      gemm_nt(N, H, D, xn2, D, p + layout::w1 + l * H * D, D, h1, H);
      gemm_nt(N, H, D, xn2, D, p + layout::w3 + l * H * D, D, h3, H);
      for (std::size_t i = 0; i < N * H; ++i) hg[i] = math::silu(h1[i]) * h3[i];
      gemm_nt(N, D, H, hg, H, p + layout::w2 + l * D * H, H, tmp, D);
      float* next = l + 1 < L ? act(l + 1, layout::a_x) : s + layout::x_final;
      for (std::size_t i = 0; i < N * D; ++i) next[i] = mid[i] + tmp[i];
    }
    kernels::cpu::rmsnorm_rows(s + layout::x_final, p + layout::rms_final, s + layout::xn_final, N,
                               D, eps);
    gemm_nt(N, V, D, s + layout::xn_final, D, p + layout::classifier, D, s + layout::logits, V);
    return {};
  }

  // The logits of the last forward(), row b·T + t for sequence b, position t. forward_backward
  // overwrites them with their gradient.
  logits_view logits() const noexcept { return logits_view(state_.data() + layout::logits); }

  // The mean cross-entropy of predicting targets from tokens; every gradient is overwritten.
  Result<float> forward_backward(tokens_view tokens, tokens_view targets) {
    if (auto f = forward(tokens); !f) return f.error();
    float* s = state_.data();
    const float* p = s;
    float* g = s + layout::grads;
    const float eps = C.norm_eps;
    std::memset(g, 0, layout::params * sizeof(float));

    TensorView<float, extents<N, V>> dlogits(s + layout::logits);
    auto loss = cross_entropy_backward(TensorView<const float, extents<N, V>>(s + layout::logits),
                                       std::span<const std::int32_t>(targets.data(), N), dlogits);
    if (!loss) return loss.error();

    auto nd = [&](float* ptr) { return TensorView<float, extents<N, D>>(ptr); };
    auto cnd = [&](const float* ptr) { return TensorView<const float, extents<N, D>>(ptr); };
    float* dx = s + layout::s_dx;
    float* dxn = s + layout::s_dxn;
    float* tmp = s + layout::s_tmp;

    linear_backward(cnd(s + layout::xn_final),
                    TensorView<const float, extents<V, D>>(p + layout::classifier), dlogits,
                    nd(dxn), TensorView<float, extents<V, D>>(g + layout::classifier));
    rmsnorm_backward(cnd(s + layout::x_final), TensorView<const float, extents<D>>(p + layout::rms_final),
                     cnd(dxn), nd(dx), TensorView<float, extents<D>>(g + layout::rms_final), eps);

    for (std::size_t l = L; l-- > 0;) {
      // Feed-forward: next = mid + w2 · (silu(w1 · xn) ⊙ w3 · xn), xn = rmsnorm(mid).
      auto nh = [&](float* ptr) { return TensorView<float, extents<N, H>>(ptr); };
      auto cnh = [&](const float* ptr) { return TensorView<const float, extents<N, H>>(ptr); };
      float* dhg = s + layout::s_dhg;
      float* dh1 = s + layout::s_dh1;
      float* dh3 = s + layout::s_dh3;
      linear_backward(cnh(act(l, layout::a_hg)),
                      TensorView<const float, extents<D, H>>(p + layout::w2 + l * D * H), cnd(dx),
                      nh(dhg), TensorView<float, extents<D, H>>(g + layout::w2 + l * D * H));
      swiglu_backward(cnh(act(l, layout::a_h1)), cnh(act(l, layout::a_h3)), cnh(dhg), nh(dh1),
                      nh(dh3));
      const float* xn2 = act(l, layout::a_xn_ffn);
      linear_backward(cnd(xn2), TensorView<const float, extents<H, D>>(p + layout::w1 + l * H * D),
                      cnh(dh1), nd(dxn), TensorView<float, extents<H, D>>(g + layout::w1 + l * H * D));
      linear_backward(cnd(xn2), TensorView<const float, extents<H, D>>(p + layout::w3 + l * H * D),
                      cnh(dh3), nd(tmp), TensorView<float, extents<H, D>>(g + layout::w3 + l * H * D));
      add_into(dxn, tmp, N * D);
      rmsnorm_backward(cnd(act(l, layout::a_mid)),
                       TensorView<const float, extents<D>>(p + layout::rms_ffn + l * D), cnd(dxn),
                       nd(tmp), TensorView<float, extents<D>>(g + layout::rms_ffn + l * D), eps);
      add_into(dx, tmp, N * D);

      // Attention: mid = x + wo · attention(rope(wq · xn), rope(wk · xn), wv · xn).
      float* dq = s + layout::s_dq;
      float* d_o = s + layout::s_do;
      float* dk = s + layout::s_dk;
      float* dv = s + layout::s_dv;
      linear_backward(cnd(act(l, layout::a_o)),
                      TensorView<const float, extents<D, D>>(p + layout::wo + l * D * D), cnd(dx),
                      nd(d_o), TensorView<float, extents<D, D>>(g + layout::wo + l * D * D));
      const float* q = act(l, layout::a_q);
      const float* k = act(l, layout::a_k);
      const float* v = act(l, layout::a_v);
      const float* o = act(l, layout::a_o);
      const float* lse = act(l, layout::a_lse);
      for (std::size_t b = 0; b < B; ++b) {
        attention_backward(heads_view<const float, NH>(q, b), heads_view<const float, kv_heads>(k, b),
                           heads_view<const float, kv_heads>(v, b), heads_view<const float, NH>(o, b),
                           TensorView<const float, extents<T, NH>>(lse + b * T * NH),
                           heads_view<const float, NH>(d_o, b), heads_view<float, NH>(dq, b),
                           heads_view<float, kv_heads>(dk, b), heads_view<float, kv_heads>(dv, b));
        rope_backward<rope_layout::interleaved>(heads_view<float, NH>(dq, b), 0, C.rope_theta);
        rope_backward<rope_layout::interleaved>(heads_view<float, kv_heads>(dk, b), 0, C.rope_theta);
      }
      auto nkv = [&](float* ptr) { return TensorView<float, extents<N, KV>>(ptr); };
      const float* xn = act(l, layout::a_xn_att);
      linear_backward(cnd(xn), TensorView<const float, extents<D, D>>(p + layout::wq + l * D * D),
                      cnd(dq), nd(dxn), TensorView<float, extents<D, D>>(g + layout::wq + l * D * D));
      linear_backward(cnd(xn), TensorView<const float, extents<KV, D>>(p + layout::wk + l * KV * D),
                      nkv(dk).as_const(), nd(tmp),
                      TensorView<float, extents<KV, D>>(g + layout::wk + l * KV * D));
      add_into(dxn, tmp, N * D);
      linear_backward(cnd(xn), TensorView<const float, extents<KV, D>>(p + layout::wv + l * KV * D),
                      nkv(dv).as_const(), nd(tmp),
                      TensorView<float, extents<KV, D>>(g + layout::wv + l * KV * D));
      add_into(dxn, tmp, N * D);
      rmsnorm_backward(cnd(act(l, layout::a_x)),
                       TensorView<const float, extents<D>>(p + layout::rms_att + l * D), cnd(dxn),
                       nd(tmp), TensorView<float, extents<D>>(g + layout::rms_att + l * D), eps);
      add_into(dx, tmp, N * D);
    }
    auto embedded = embedding_backward(std::span<const std::int32_t>(tokens.data(), N), cnd(dx),
                                       TensorView<float, extents<V, D>>(g + layout::token_embedding));
    if (!embedded) return embedded.error();
    return *loss;
  }

  // Gradient clipping over every gradient (torch.nn.utils.clip_grad_norm_); the norm before.
  float clip_grad_norm(float max_norm) noexcept { return train::clip_grad_norm(gradients(), max_norm); }

  // One AdamW step at learning rate lr: decay on the matrices and embeddings only.
  void adamw_step(double lr, const AdamWOptions& options = {}) noexcept {
    ++step_;
    float* s = state_.data();
    for (const ParamSlot& slot : slots()) {
      adamw_update({s + slot.offset, slot.size}, {s + layout::grads + slot.offset, slot.size},
                   {s + layout::adam_m + slot.offset, slot.size},
                   {s + layout::adam_v + slot.offset, slot.size}, step_, lr, options, slot.decay);
    }
  }

  // One SGD-with-momentum step (the momentum buffer is AdamW's m).
  void sgd_step(double lr, const SGDOptions& options = {}) noexcept {
    ++step_;
    float* s = state_.data();
    for (const ParamSlot& slot : slots()) {
      sgd_update({s + slot.offset, slot.size}, {s + layout::grads + slot.offset, slot.size},
                 {s + layout::adam_m + slot.offset, slot.size}, step_ == 1, lr, options, slot.decay);
    }
  }

  long steps_taken() const noexcept { return step_; }
  // Restores the step count (AdamW's t) of a saved run, with moments() written back.
  void set_steps_taken(long steps) noexcept { step_ = steps; }

  // AdamW's first and second moments as flat arrays in the layout of slots().
  std::span<float> first_moments() noexcept { return {state_.data() + layout::adam_m, layout::params}; }
  std::span<float> second_moments() noexcept { return {state_.data() + layout::adam_v, layout::params}; }

 private:
  float* act(std::size_t layer, std::size_t what) noexcept {
    return state_.data() + layout::layers_start + layer * layout::layer_activations + what;
  }

  // Sequence b of a (N, heads·head_dim) array as (T, heads, head_dim).
  template <class E, std::size_t Heads>
  static TensorView<E, extents<T, Heads, C.head_dim()>> heads_view(E* base, std::size_t b) noexcept {
    return TensorView<E, extents<T, Heads, C.head_dim()>>(base + b * T * Heads * head_dim);
  }

  static void add_into(float* to, const float* from, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) to[i] += from[i];
  }

  LlamaParams<C> views(std::size_t base) noexcept {
    float* p = state_.data() + base;
    LlamaParams<C> v;
    v.token_embedding = decltype(v.token_embedding)(p + layout::token_embedding);
    v.rms_att = decltype(v.rms_att)(p + layout::rms_att);
    v.wq = decltype(v.wq)(p + layout::wq);
    v.wk = decltype(v.wk)(p + layout::wk);
    v.wv = decltype(v.wv)(p + layout::wv);
    v.wo = decltype(v.wo)(p + layout::wo);
    v.rms_ffn = decltype(v.rms_ffn)(p + layout::rms_ffn);
    v.w1 = decltype(v.w1)(p + layout::w1);
    v.w2 = decltype(v.w2)(p + layout::w2);
    v.w3 = decltype(v.w3)(p + layout::w3);
    v.rms_final = decltype(v.rms_final)(p + layout::rms_final);
    v.classifier = decltype(v.classifier)(p + layout::classifier);
    return v;
  }

  // A standard normal deviate by Box–Muller on the generator's raw bits (portable, unlike
  // std::normal_distribution).
  static double normal(std::mt19937_64& rng) noexcept {
    constexpr double two_pi = 6.28318530717958647692;
    const double u1 = (static_cast<double>(rng() >> 11) + 1.0) * 0x1.0p-53;
    const double u2 = static_cast<double>(rng() >> 11) * 0x1.0p-53;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(two_pi * u2);
  }

  aligned_buffer<float, host> state_;
  long step_ = 0;
};

}  // namespace forma::train
