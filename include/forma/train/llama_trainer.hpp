// forma/train/llama_trainer.hpp — training a Llama-family decoder (llama2.c's model) on the CPU:
// parameters, gradients, AdamW moments and saved activations in one allocation whose size is a
// constexpr function of the config, the batch and the sequence.
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
// Any extent may be forma::dyn — a config field (forma::presets::any_llama: the shape of a
// checkpoint read at run time), the batch B or the sequence T — and is then given to the
// constructor: LlamaTrainer<any_llama, dyn, dyn> trainer(header.shape(), batch, seq). Static and
// dynamic trainers run the same kernels with the same sizes and give the same bits.
//
// Activation recomputation (checkpointing): LlamaTrainer<C, B, T, recompute::layers> keeps only
// each layer's input from the forward pass and recomputes the layer's other activations during
// the backward, one layer at a time: L + 1 (N, D) inputs and one layer's activations instead of L
// layers' (N = B·T). The recomputed forward is the same arithmetic, so the loss, the gradients and
// every step are bit-identical to recompute::none; a step costs one more forward of every layer.
// state_bytes<C, B, T, recompute::layers>() gives the smaller figure.
//
// The model is llama2.c's: RMSNorm, interleaved RoPE, GQA (kv_heads divides heads), SwiGLU, no
// biases, the classifier tied to the token embedding (classifier_kind::shared, or any with a
// shared run-time shape) or its own (separate). Parameters are stored in llama2.c's layout,
// per-layer tensors stacked on a first axis (models/llama_weights.hpp): token_embedding (V, D),
// rms_att (L, D), wq (L, D, D), wk, wv (L, KV, D), wo (L, D, D), rms_ffn (L, D), w1, w3 (L, H, D),
// w2 (L, D, H), rms_final (D), then classifier (V, D) when separate. Gradients, AdamW's m and v
// follow in the same layout.
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

#include "forma/core/contract.hpp"
#include "forma/core/error.hpp"
#include "forma/core/extents.hpp"
#include "forma/core/shape_rules.hpp"
#include "forma/core/storage.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/gemm_packed.hpp"
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

// Whether the backward reads every layer's activations saved by the forward (none) or recomputes
// them from each layer's saved input (layers).
enum class recompute : unsigned char { none, layers };

// Where everything lives in the state's one float array (offsets and sizes in floats), for a
// run-time shape, batch and sequence. A constexpr function of them: state_bytes<C, B, T>() of a
// static config is a compile-time constant.
struct llama_state_layout {
  std::size_t D = 0, H = 0, L = 0, NH = 0, KV = 0, V = 0, B = 0, T = 0, N = 0;
  bool shared = true, recomputed = false;

  // Parameters (llama2.c's order).
  std::size_t token_embedding = 0, rms_att = 0, wq = 0, wk = 0, wv = 0, wo = 0, rms_ffn = 0,
              w1 = 0, w2 = 0, w3 = 0, rms_final = 0, classifier = 0, params = 0;

  // One layer's saved activations besides its input, each (N, width), at these offsets within
  // the layer's block.
  std::size_t a_xn_att = 0;  // rmsnorm(x, rms_att) (D)
  std::size_t a_q = 0;       // q after RoPE (D)
  std::size_t a_k = 0;       // k after RoPE (KV)
  std::size_t a_v = 0;       // v (KV)
  std::size_t a_o = 0;       // attention output (D)
  std::size_t a_lse = 0;     // log-sum-exp (NH)
  std::size_t a_mid = 0;     // x + attention (D)
  std::size_t a_xn_ffn = 0;  // rmsnorm(mid, rms_ffn) (D)
  std::size_t a_h1 = 0;      // w1·xn (H)
  std::size_t a_h3 = 0;      // w3·xn (H)
  std::size_t a_hg = 0;      // silu(h1) ⊙ h3 (H)
  std::size_t layer_activations = 0;

  // The state: params, grads, m, v; the L + 1 layer inputs (the last is the final norm's input);
  // the layer blocks (L, or 1 when recomputed); then the head's activations and the backward's
  // scratch.
  std::size_t grads = 0, adam_m = 0, adam_v = 0, inputs = 0, blocks = 0, block_count = 0,
              xn_final = 0, logits = 0, s_dx = 0, s_dxn = 0, s_tmp = 0, s_dq = 0, s_do = 0, s_dk = 0,
              s_dv = 0, s_dhg = 0, s_dh1 = 0, s_dh3 = 0, total = 0;

  static constexpr llama_state_layout of(const LlamaShape& s, std::size_t batch, std::size_t seq,
                                         recompute r) noexcept {
    llama_state_layout a;
    a.D = s.dim, a.H = s.hidden, a.L = s.layers, a.NH = s.heads, a.KV = s.kv_dim(), a.V = s.vocab;
    a.B = batch, a.T = seq, a.N = batch * seq;
    a.shared = s.shared_classifier, a.recomputed = r == recompute::layers;
    const std::size_t D = a.D, H = a.H, L = a.L, KV = a.KV, V = a.V, N = a.N;
    a.token_embedding = 0;
    a.rms_att = a.token_embedding + V * D;
    a.wq = a.rms_att + L * D;
    a.wk = a.wq + L * D * D;
    a.wv = a.wk + L * KV * D;
    a.wo = a.wv + L * KV * D;
    a.rms_ffn = a.wo + L * D * D;
    a.w1 = a.rms_ffn + L * D;
    a.w2 = a.w1 + L * H * D;
    a.w3 = a.w2 + L * D * H;
    a.rms_final = a.w3 + L * H * D;
    a.classifier = a.shared ? a.token_embedding : a.rms_final + D;
    a.params = a.rms_final + D + (a.shared ? 0 : V * D);

    a.a_xn_att = 0;
    a.a_q = a.a_xn_att + N * D;
    a.a_k = a.a_q + N * D;
    a.a_v = a.a_k + N * KV;
    a.a_o = a.a_v + N * KV;
    a.a_lse = a.a_o + N * D;
    a.a_mid = a.a_lse + N * a.NH;
    a.a_xn_ffn = a.a_mid + N * D;
    a.a_h1 = a.a_xn_ffn + N * D;
    a.a_h3 = a.a_h1 + N * H;
    a.a_hg = a.a_h3 + N * H;
    a.layer_activations = a.a_hg + N * H;

    a.grads = a.params;
    a.adam_m = 2 * a.params;
    a.adam_v = 3 * a.params;
    a.inputs = 4 * a.params;
    a.blocks = a.inputs + (L + 1) * N * D;
    a.block_count = a.recomputed ? (L > 0 ? 1 : 0) : L;
    a.xn_final = a.blocks + a.block_count * a.layer_activations;  // (N, D)
    a.logits = a.xn_final + N * D;                                // (N, V)
    a.s_dx = a.logits + N * V;                                    // (N, D)
    a.s_dxn = a.s_dx + N * D;                                     // (N, D)
    a.s_tmp = a.s_dxn + N * D;                                    // (N, D)
    a.s_dq = a.s_tmp + N * D;                                     // (N, D)
    a.s_do = a.s_dq + N * D;                                      // (N, D)
    a.s_dk = a.s_do + N * D;                                      // (N, KV)
    a.s_dv = a.s_dk + N * KV;                                     // (N, KV)
    a.s_dhg = a.s_dv + N * KV;                                    // (N, H)
    a.s_dh1 = a.s_dhg + N * H;                                    // (N, H)
    a.s_dh3 = a.s_dh1 + N * H;                                    // (N, H)
    a.total = a.s_dh3 + N * H;
    return a;
  }

  // Bytes of the saved activations (layer inputs, layer blocks, the head's), without the
  // parameters, gradients, moments and the backward's scratch.
  constexpr std::size_t activation_bytes() const noexcept {
    return (s_dx - inputs) * sizeof(float);
  }
};

// The exact number of bytes a LlamaTrainer<C, B, T, R> allocates (one aligned allocation).
template <LlamaConfig C, std::size_t B, std::size_t T, recompute R = recompute::none>
  requires(C.is_static() && B != dyn && T != dyn)
constexpr std::size_t state_bytes() {
  return llama_state_layout::of(static_shape<C>(), B, T, R).total * sizeof(float);
}

// The same figure for a run-time shape (a trainer with dynamic extents).
constexpr std::size_t state_bytes(const LlamaShape& shape, std::size_t batch, std::size_t seq,
                                  recompute r = recompute::none) noexcept {
  return llama_state_layout::of(shape, batch, seq, r).total * sizeof(float);
}

// One parameter tensor of the state: its name (llama2.c's), offset and size in floats, and
// whether weight decay applies (2-D per layer: matrices and embeddings; not the norm weights).
struct ParamSlot {
  std::string_view name;
  std::size_t offset = 0;
  std::size_t size = 0;
  bool decay = false;
};

// The parameter tensors of a layout, in llama2.c's order (the classifier last, only when separate).
struct ParamSlots {
  std::array<ParamSlot, 12> slot{};
  std::size_t count = 0;
  constexpr const ParamSlot* begin() const noexcept { return slot.data(); }
  constexpr const ParamSlot* end() const noexcept { return slot.data() + count; }
  constexpr std::size_t size() const noexcept { return count; }
  constexpr const ParamSlot& operator[](std::size_t i) const noexcept { return slot[i]; }
};

constexpr ParamSlots llama_param_slots(const llama_state_layout& a) noexcept {
  const std::size_t D = a.D, H = a.H, L = a.L, KV = a.KV, V = a.V;
  return {{{
              {"token_embedding", a.token_embedding, V * D, true},
              {"rms_att", a.rms_att, L * D, false},
              {"wq", a.wq, L * D * D, true},
              {"wk", a.wk, L * KV * D, true},
              {"wv", a.wv, L * KV * D, true},
              {"wo", a.wo, L * D * D, true},
              {"rms_ffn", a.rms_ffn, L * D, false},
              {"w1", a.w1, L * H * D, true},
              {"w2", a.w2, L * D * H, true},
              {"w3", a.w3, L * H * D, true},
              {"rms_final", a.rms_final, D, false},
              {"classifier", a.classifier, a.shared ? 0 : V * D, true},
          }},
          a.shared ? std::size_t{11} : std::size_t{12}};
}

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

template <LlamaConfig C, std::size_t B, std::size_t T, recompute R = recompute::none>
class LlamaTrainer {
  // The static extents (dyn where given at run time).
  static constexpr std::size_t SD = C.dim, SH = C.hidden, SL = C.layers, SNH = C.heads,
                               SKVH = C.kv_heads, SKV = C.kv_dim(), SV = C.vocab,
                               SHD = C.head_dim();
  static constexpr std::size_t SN = B == dyn || T == dyn ? dyn : B * T;
  static constexpr bool fully_static = C.is_static() && B != dyn && T != dyn;
  static_assert(B != 0 && T != 0, "LlamaTrainer: batch and sequence must be positive");
  static_assert(T == dyn || C.max_seq == dyn || T <= C.max_seq,
                "LlamaTrainer: the sequence T must not exceed the config's max_seq");
  static_assert(!C.is_static() ||
                    (C.dim % C.heads == 0 && C.heads % C.kv_heads == 0 && C.head_dim() % 2 == 0),
                "LlamaTrainer: heads must divide dim, kv_heads divide heads, head_dim be even");

 public:
  static constexpr LlamaConfig config = C;
  static constexpr std::size_t batch = B, sequence = T;
  static constexpr recompute recomputation = R;

  using tokens_view = TensorView<const std::int32_t, extents<B, T>>;
  using logits_view = TensorView<const float, extents<SN, SV>>;

  // Allocates the whole state (state_bytes<C, B, T, R>() bytes, zeroed): parameters all zero.
  LlamaTrainer()
    requires(fully_static)
      : LlamaTrainer(static_shape<C>(), B, T) {}

  // A trainer for a run-time shape (the static fields of C, B and T must equal it: else, or when
  // the shape breaks a config rule or seq exceeds max_seq, forma::shape_error).
  explicit LlamaTrainer(const LlamaShape& shape, std::size_t batch_size = B,
                        std::size_t seq = T)
      : shape_(checked(shape, batch_size, seq)),
        a_(llama_state_layout::of(shape_, batch_size, seq, R)),
        state_(a_.total, true) {}

  const LlamaShape& shape() const noexcept { return shape_; }
  std::size_t batch_size() const noexcept { return a_.B; }
  std::size_t sequence_length() const noexcept { return a_.T; }
  const llama_state_layout& layout() const noexcept { return a_; }
  // Bytes allocated for the state: state_bytes(shape(), batch_size(), sequence_length(), R).
  std::size_t bytes() const noexcept { return a_.total * sizeof(float); }
  std::size_t parameter_count() const noexcept { return a_.params; }
  bool shared_classifier() const noexcept { return a_.shared; }

  // The parameter tensors, in llama2.c's order (classifier last, only when separate).
  ParamSlots slots() const noexcept { return llama_param_slots(a_); }

  // llama2.c train.py's initialization from `seed`: normal(0, 0.02) for the embedding and the
  // projections, 0.02/√(2L) for wo and w3 (its residual projections), 1 for the norm weights.
  // Moments and the step count reset. The same seed gives the same bits on every platform.
  void init(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    const double residual_std = 0.02 / std::sqrt(2.0 * static_cast<double>(a_.L));
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
    std::memset(state_.data() + a_.adam_m, 0, 2 * a_.params * sizeof(float));
    step_ = 0;
  }

  // Flat arrays in the layout of slots().
  std::span<float> parameters() noexcept { return {state_.data(), a_.params}; }
  std::span<const float> parameters() const noexcept { return {state_.data(), a_.params}; }
  std::span<float> gradients() noexcept { return {state_.data() + a_.grads, a_.params}; }
  std::span<const float> gradients() const noexcept {
    return {state_.data() + a_.grads, a_.params};
  }
  // AdamW's first and second moments (SGD's momentum buffer is the first).
  std::span<float> first_moments() noexcept { return {state_.data() + a_.adam_m, a_.params}; }
  std::span<const float> first_moments() const noexcept {
    return {state_.data() + a_.adam_m, a_.params};
  }
  std::span<float> second_moments() noexcept { return {state_.data() + a_.adam_v, a_.params}; }
  std::span<const float> second_moments() const noexcept {
    return {state_.data() + a_.adam_v, a_.params};
  }

  // Views of each tensor: parameters, gradients, AdamW's first and second moments.
  LlamaParams<C> params() noexcept { return views(0); }
  LlamaParams<C> grads() noexcept { return views(a_.grads); }
  LlamaParams<C> adam_m() noexcept { return views(a_.adam_m); }
  LlamaParams<C> adam_v() noexcept { return views(a_.adam_v); }

  // Read-only LlamaWeights of the parameters, for forma::Llama<C> (valid while *this lives).
  LlamaWeights<C> weights() const noexcept {
    const float* p = state_.data();
    const std::size_t D = a_.D, H = a_.H, L = a_.L, KV = a_.KV, V = a_.V;
    LlamaWeights<C> w;
    w.shape = shape_;
    w.token_embedding = tv<SV, SD>(p + a_.token_embedding, V, D);
    w.rms_att = tv<SL, SD>(p + a_.rms_att, L, D);
    w.wq = tv<SL, SD, SD>(p + a_.wq, L, D, D);
    w.wk = tv<SL, SKV, SD>(p + a_.wk, L, KV, D);
    w.wv = tv<SL, SKV, SD>(p + a_.wv, L, KV, D);
    w.wo = tv<SL, SD, SD>(p + a_.wo, L, D, D);
    w.rms_ffn = tv<SL, SD>(p + a_.rms_ffn, L, D);
    w.w1 = tv<SL, SH, SD>(p + a_.w1, L, H, D);
    w.w2 = tv<SL, SD, SH>(p + a_.w2, L, D, H);
    w.w3 = tv<SL, SH, SD>(p + a_.w3, L, H, D);
    w.rms_final = tv<SD>(p + a_.rms_final, D);
    w.classifier = tv<SV, SD>(p + a_.classifier, V, D);
    return w;
  }

  // The forward alone: fills the logits (and the saved activations); an Error for a token id
  // outside [0, V).
  Result<void> forward(tokens_view tokens) {
    check_tokens(tokens, "LlamaTrainer::forward: tokens");
    float* s = state_.data();
    const float* p = s;
    const std::size_t D = a_.D, N = a_.N, V = a_.V;
    for (std::size_t r = 0; r < N; ++r) {
      const std::int32_t id = tokens.data()[r];
      if (id < 0 || static_cast<std::size_t>(id) >= V) {
        return forma::detail::out_of_table("LlamaTrainer::forward", "token id", id, V);
      }
      std::memcpy(input(0) + r * D, p + a_.token_embedding + static_cast<std::size_t>(id) * D,
                  D * sizeof(float));
    }
    for (std::size_t l = 0; l < a_.L; ++l) layer_forward(l);
    kernels::cpu::rmsnorm_rows(input(a_.L), p + a_.rms_final, s + a_.xn_final, N, D, C.norm_eps);
    kernels::cpu::packed::gemm_nt(N, V, D, s + a_.xn_final, D, p + a_.classifier, D,
                                  s + a_.logits, V);
    return {};
  }

  // The logits of the last forward(), row b·T + t for sequence b, position t. forward_backward
  // overwrites them with their gradient.
  logits_view logits() const noexcept {
    return tv<SN, SV>(static_cast<const float*>(state_.data() + a_.logits), a_.N, a_.V);
  }

  // The mean cross-entropy of predicting targets from tokens; every gradient is overwritten.
  Result<float> forward_backward(tokens_view tokens, tokens_view targets) {
    check_tokens(targets, "LlamaTrainer::forward_backward: targets");
    if (auto f = forward(tokens); !f) return f.error();
    float* s = state_.data();
    const float* p = s;
    float* g = s + a_.grads;
    const float eps = C.norm_eps;
    const std::size_t D = a_.D, H = a_.H, KV = a_.KV, V = a_.V, N = a_.N, T_ = a_.T;
    std::memset(g, 0, a_.params * sizeof(float));

    auto dlogits = tv<SN, SV>(s + a_.logits, N, V);
    auto loss = cross_entropy_backward(tv<SN, SV>(static_cast<const float*>(s + a_.logits), N, V),
                                       std::span<const std::int32_t>(targets.data(), N), dlogits);
    if (!loss) return loss.error();

    auto nd = [&](float* ptr) { return tv<SN, SD>(ptr, N, D); };
    auto cnd = [&](const float* ptr) { return tv<SN, SD>(ptr, N, D); };
    auto nh = [&](float* ptr) { return tv<SN, SH>(ptr, N, H); };
    auto cnh = [&](const float* ptr) { return tv<SN, SH>(ptr, N, H); };
    auto nkv = [&](float* ptr) { return tv<SN, SKV>(ptr, N, KV); };
    auto cnkv = [&](const float* ptr) { return tv<SN, SKV>(ptr, N, KV); };
    auto dd = [&](const float* ptr) { return tv<SD, SD>(ptr, D, D); };
    auto gdd = [&](float* ptr) { return tv<SD, SD>(ptr, D, D); };
    auto vec = [&](const float* ptr) { return tv<SD>(ptr, D); };
    auto gvec = [&](float* ptr) { return tv<SD>(ptr, D); };
    float* dx = s + a_.s_dx;
    float* dxn = s + a_.s_dxn;
    float* tmp = s + a_.s_tmp;

    linear_backward(cnd(s + a_.xn_final), tv<SV, SD>(p + a_.classifier, V, D), dlogits.as_const(),
                    nd(dxn), tv<SV, SD>(g + a_.classifier, V, D));
    rmsnorm_backward(cnd(input(a_.L)), vec(p + a_.rms_final), cnd(dxn), nd(dx),
                     gvec(g + a_.rms_final), eps);

    for (std::size_t l = a_.L; l-- > 0;) {
      if constexpr (R == recompute::layers) layer_forward(l);  // this layer's activations again
      // Feed-forward: next = mid + w2 · (silu(w1 · xn) ⊙ w3 · xn), xn = rmsnorm(mid).
      float* dhg = s + a_.s_dhg;
      float* dh1 = s + a_.s_dh1;
      float* dh3 = s + a_.s_dh3;
      linear_backward(cnh(act(l, a_.a_hg)), tv<SD, SH>(p + a_.w2 + l * D * H, D, H), cnd(dx),
                      nh(dhg), tv<SD, SH>(g + a_.w2 + l * D * H, D, H));
      swiglu_backward(cnh(act(l, a_.a_h1)), cnh(act(l, a_.a_h3)), cnh(dhg), nh(dh1), nh(dh3));
      const float* xn2 = act(l, a_.a_xn_ffn);
      linear_backward(cnd(xn2), tv<SH, SD>(p + a_.w1 + l * H * D, H, D), cnh(dh1), nd(dxn),
                      tv<SH, SD>(g + a_.w1 + l * H * D, H, D));
      linear_backward(cnd(xn2), tv<SH, SD>(p + a_.w3 + l * H * D, H, D), cnh(dh3), nd(tmp),
                      tv<SH, SD>(g + a_.w3 + l * H * D, H, D));
      add_into(dxn, tmp, N * D);
      rmsnorm_backward(cnd(act(l, a_.a_mid)), vec(p + a_.rms_ffn + l * D), cnd(dxn), nd(tmp),
                       gvec(g + a_.rms_ffn + l * D), eps);
      add_into(dx, tmp, N * D);

      // Attention: mid = x + wo · attention(rope(wq · xn), rope(wk · xn), wv · xn).
      float* dq = s + a_.s_dq;
      float* d_o = s + a_.s_do;
      float* dk = s + a_.s_dk;
      float* dv = s + a_.s_dv;
      linear_backward(cnd(act(l, a_.a_o)), dd(p + a_.wo + l * D * D), cnd(dx), nd(d_o),
                      gdd(g + a_.wo + l * D * D));
      const float* q = act(l, a_.a_q);
      const float* k = act(l, a_.a_k);
      const float* v = act(l, a_.a_v);
      const float* o = act(l, a_.a_o);
      const float* lse = act(l, a_.a_lse);
      for (std::size_t b = 0; b < a_.B; ++b) {
        attention_backward(heads<SNH>(q, b, a_.NH), heads<SKVH>(k, b, shape_.kv_heads),
                           heads<SKVH>(v, b, shape_.kv_heads), heads<SNH>(o, b, a_.NH),
                           tv<T, SNH>(lse + b * T_ * a_.NH, T_, a_.NH), heads<SNH>(d_o, b, a_.NH),
                           heads<SNH>(dq, b, a_.NH), heads<SKVH>(dk, b, shape_.kv_heads),
                           heads<SKVH>(dv, b, shape_.kv_heads));
        rope_backward<rope_layout::interleaved>(heads<SNH>(dq, b, a_.NH), 0, C.rope_theta);
        rope_backward<rope_layout::interleaved>(heads<SKVH>(dk, b, shape_.kv_heads), 0,
                                                C.rope_theta);
      }
      const float* xn = act(l, a_.a_xn_att);
      linear_backward(cnd(xn), dd(p + a_.wq + l * D * D), cnd(dq), nd(dxn),
                      gdd(g + a_.wq + l * D * D));
      linear_backward(cnd(xn), tv<SKV, SD>(p + a_.wk + l * KV * D, KV, D), cnkv(dk), nd(tmp),
                      tv<SKV, SD>(g + a_.wk + l * KV * D, KV, D));
      add_into(dxn, tmp, N * D);
      linear_backward(cnd(xn), tv<SKV, SD>(p + a_.wv + l * KV * D, KV, D), cnkv(dv), nd(tmp),
                      tv<SKV, SD>(g + a_.wv + l * KV * D, KV, D));
      add_into(dxn, tmp, N * D);
      rmsnorm_backward(cnd(input(l)), vec(p + a_.rms_att + l * D), cnd(dxn), nd(tmp),
                       gvec(g + a_.rms_att + l * D), eps);
      add_into(dx, tmp, N * D);
      (void)nkv;
    }
    auto embedded = embedding_backward(std::span<const std::int32_t>(tokens.data(), N), cnd(dx),
                                       tv<SV, SD>(g + a_.token_embedding, V, D));
    if (!embedded) return embedded.error();
    return *loss;
  }

  // Gradient clipping over every gradient (torch.nn.utils.clip_grad_norm_); the norm before.
  float clip_grad_norm(float max_norm) noexcept {
    return train::clip_grad_norm(gradients(), max_norm);
  }

  // One AdamW step at learning rate lr: decay on the matrices and embeddings only.
  void adamw_step(double lr, const AdamWOptions& options = {}) noexcept {
    ++step_;
    float* s = state_.data();
    for (const ParamSlot& slot : slots()) {
      adamw_update({s + slot.offset, slot.size}, {s + a_.grads + slot.offset, slot.size},
                   {s + a_.adam_m + slot.offset, slot.size},
                   {s + a_.adam_v + slot.offset, slot.size}, step_, lr, options, slot.decay);
    }
  }

  // One SGD-with-momentum step (the momentum buffer is AdamW's m).
  void sgd_step(double lr, const SGDOptions& options = {}) noexcept {
    ++step_;
    float* s = state_.data();
    for (const ParamSlot& slot : slots()) {
      sgd_update({s + slot.offset, slot.size}, {s + a_.grads + slot.offset, slot.size},
                 {s + a_.adam_m + slot.offset, slot.size}, step_ == 1, lr, options, slot.decay);
    }
  }

  long steps_taken() const noexcept { return step_; }
  // Restores the step count (AdamW's t) of a saved run, with the moments written back.
  void set_steps_taken(long steps) noexcept { step_ = steps; }

 private:
  static LlamaShape checked(const LlamaShape& s, std::size_t batch_size, std::size_t seq) {
    llama_config_rules<C>(s);
    contract::require_same_unless_dyn(C.dim, s.dim, "LlamaTrainer: the shape's dim differs from the config's");
    contract::require_same_unless_dyn(C.hidden, s.hidden, "LlamaTrainer: the shape's hidden differs from the config's");
    contract::require_same_unless_dyn(C.layers, s.layers, "LlamaTrainer: the shape's layers differ from the config's");
    contract::require_same_unless_dyn(C.heads, s.heads, "LlamaTrainer: the shape's heads differ from the config's");
    contract::require_same_unless_dyn(C.kv_heads, s.kv_heads, "LlamaTrainer: the shape's kv_heads differ from the config's");
    contract::require_same_unless_dyn(C.vocab, s.vocab, "LlamaTrainer: the shape's vocab differs from the config's");
    contract::require_same_unless_dyn(C.max_seq, s.max_seq, "LlamaTrainer: the shape's max_seq differs from the config's");
    if (C.classifier != classifier_kind::any) {
      contract::require_same(std::size_t{C.classifier == classifier_kind::shared},
                             std::size_t{s.shared_classifier},
                             "LlamaTrainer: the shape's classifier (1 = shared) differs from the config's");
    }
    contract::require_same_unless_dyn(B, batch_size, "LlamaTrainer: the batch differs from the static B");
    contract::require_same_unless_dyn(T, seq, "LlamaTrainer: the sequence differs from the static T");
    contract::require_less(0, batch_size, "LlamaTrainer: the batch must be positive (0 <");
    contract::require_less(0, seq, "LlamaTrainer: the sequence must be positive (0 <");
    contract::require_less(seq, s.max_seq + 1, "LlamaTrainer: the sequence must not exceed max_seq (seq < max_seq + 1 fails)");
    contract::require_less(0, s.layers, "LlamaTrainer: the model needs at least one layer (0 <");
    return s;
  }

  void check_tokens(tokens_view t, const char* what) const {
    if constexpr (B == dyn) contract::require_same(t.extent(0), a_.B, what);
    if constexpr (T == dyn) contract::require_same(t.extent(1), a_.T, what);
    (void)t, (void)what;
  }

  // Layer l's forward from its input to the next layer's input, saving its activations.
  void layer_forward(std::size_t l) {
    float* s = state_.data();
    const float* p = s;
    const std::size_t D = a_.D, H = a_.H, NH = a_.NH, KV = a_.KV, N = a_.N, T_ = a_.T;
    const std::size_t head_dim = shape_.head_dim(), kv_heads = shape_.kv_heads;
    const float eps = C.norm_eps;
    const float* x = input(l);
    float* xn = act(l, a_.a_xn_att);
    float* q = act(l, a_.a_q);
    float* k = act(l, a_.a_k);
    float* v = act(l, a_.a_v);
    float* o = act(l, a_.a_o);
    float* lse = act(l, a_.a_lse);
    float* mid = act(l, a_.a_mid);
    float* xn2 = act(l, a_.a_xn_ffn);
    float* h1 = act(l, a_.a_h1);
    float* h3 = act(l, a_.a_h3);
    float* hg = act(l, a_.a_hg);
    float* tmp = s + a_.s_tmp;
    using kernels::cpu::packed::gemm_nt;
    kernels::cpu::rmsnorm_rows(x, p + a_.rms_att + l * D, xn, N, D, eps);
    gemm_nt(N, D, D, xn, D, p + a_.wq + l * D * D, D, q, D);
    gemm_nt(N, KV, D, xn, D, p + a_.wk + l * KV * D, D, k, KV);
    gemm_nt(N, KV, D, xn, D, p + a_.wv + l * KV * D, D, v, KV);
    for (std::size_t r = 0; r < N; ++r) {
      using kernels::cpu::rope_layout;
      kernels::cpu::rope_row<rope_layout::interleaved>(q + r * D, NH, head_dim, r % T_,
                                                       C.rope_theta);
      kernels::cpu::rope_row<rope_layout::interleaved>(k + r * KV, kv_heads, head_dim, r % T_,
                                                       C.rope_theta);
    }
    for (std::size_t b = 0; b < a_.B; ++b) {
      attention_forward_lse(heads<SNH>(static_cast<const float*>(q), b, NH),
                            heads<SKVH>(static_cast<const float*>(k), b, kv_heads),
                            heads<SKVH>(static_cast<const float*>(v), b, kv_heads),
                            heads<SNH>(o, b, NH), tv<T, SNH>(lse + b * T_ * NH, T_, NH));
    }
    gemm_nt(N, D, D, o, D, p + a_.wo + l * D * D, D, tmp, D);
    for (std::size_t i = 0; i < N * D; ++i) mid[i] = x[i] + tmp[i];
    kernels::cpu::rmsnorm_rows(mid, p + a_.rms_ffn + l * D, xn2, N, D, eps);
    gemm_nt(N, H, D, xn2, D, p + a_.w1 + l * H * D, D, h1, H);
    gemm_nt(N, H, D, xn2, D, p + a_.w3 + l * H * D, D, h3, H);
    for (std::size_t i = 0; i < N * H; ++i) hg[i] = math::silu(h1[i]) * h3[i];
    // The next layer's input (recomputing layer l during the backward writes the same values
    // there again: layer l + 1 is done with it by then).
    gemm_nt(N, D, H, hg, H, p + a_.w2 + l * D * H, H, tmp, D);
    float* next = input(l + 1);
    for (std::size_t i = 0; i < N * D; ++i) next[i] = mid[i] + tmp[i];
  }

  // Layer l's input (l = L: the final norm's input).
  float* input(std::size_t l) noexcept { return state_.data() + a_.inputs + l * a_.N * a_.D; }
  const float* input(std::size_t l) const noexcept {
    return state_.data() + a_.inputs + l * a_.N * a_.D;
  }
  // One of layer l's saved activations (the one shared block when recomputed).
  float* act(std::size_t layer, std::size_t what) noexcept {
    const std::size_t block = R == recompute::layers ? 0 : layer;
    return state_.data() + a_.blocks + block * a_.layer_activations + what;
  }

  // A view with these static extents (dyn where `sizes` gives the value).
  template <std::size_t... Es, class P, class... S>
  static TensorView<P, extents<Es...>> tv(P* ptr, S... sizes) noexcept {
    return TensorView<P, extents<Es...>>(
        ptr, extents<Es...>(std::array<std::size_t, sizeof...(Es)>{static_cast<std::size_t>(sizes)...}));
  }

  // Sequence b of a (N, heads·head_dim) array as (T, heads, head_dim).
  template <std::size_t Heads, class E>
  TensorView<E, extents<T, Heads, SHD>> heads(E* base, std::size_t b,
                                              std::size_t head_count) const noexcept {
    const std::size_t hd = shape_.head_dim();
    return tv<T, Heads, SHD>(base + b * a_.T * head_count * hd, a_.T, head_count, hd);
  }

  static void add_into(float* to, const float* from, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) to[i] += from[i];
  }

  LlamaParams<C> views(std::size_t base) noexcept {
    float* p = state_.data() + base;
    const std::size_t D = a_.D, H = a_.H, L = a_.L, KV = a_.KV, V = a_.V;
    LlamaParams<C> v;
    v.token_embedding = tv<SV, SD>(p + a_.token_embedding, V, D);
    v.rms_att = tv<SL, SD>(p + a_.rms_att, L, D);
    v.wq = tv<SL, SD, SD>(p + a_.wq, L, D, D);
    v.wk = tv<SL, SKV, SD>(p + a_.wk, L, KV, D);
    v.wv = tv<SL, SKV, SD>(p + a_.wv, L, KV, D);
    v.wo = tv<SL, SD, SD>(p + a_.wo, L, D, D);
    v.rms_ffn = tv<SL, SD>(p + a_.rms_ffn, L, D);
    v.w1 = tv<SL, SH, SD>(p + a_.w1, L, H, D);
    v.w2 = tv<SL, SD, SH>(p + a_.w2, L, D, H);
    v.w3 = tv<SL, SH, SD>(p + a_.w3, L, H, D);
    v.rms_final = tv<SD>(p + a_.rms_final, D);
    v.classifier = tv<SV, SD>(p + a_.classifier, V, D);
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

  LlamaShape shape_;
  llama_state_layout a_;
  aligned_buffer<float, host> state_;
  long step_ = 0;
};

}  // namespace forma::train
