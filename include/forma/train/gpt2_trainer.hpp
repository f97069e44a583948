// forma/train/gpt2_trainer.hpp — training a GPT-2-family decoder (llm.c's model) on the CPU:
// parameters, gradients, AdamW moments and saved activations in one allocation whose size is a
// constexpr function of the config, the batch and the sequence.
//
//   constexpr forma::GPT2Config Tiny{.dim = 32, .layers = 2, .heads = 4, .vocab = 64,
//                                    .max_seq = 16};
//   static_assert(forma::train::state_bytes<Tiny, 2, 8>() <= 4 << 20);
//   forma::train::GPT2Trainer<Tiny, 2, 8> trainer;   // B = 2 sequences of T = 8 tokens
//   trainer.init(seed);                               // GPT-2's initialization
//   auto loss = trainer.forward_backward(tokens, targets);   // (B, T) int32 each
//   trainer.clip_grad_norm(1.0f);
//   trainer.adamw_step(lr, {.weight_decay = 0.1f});  // or sgd_step(lr, {.momentum = 0.9f})
//   forma::Decoder<forma::gpt2_decoder(Tiny)> model(trainer.weights());   // inference
//
// Any extent may be forma::dyn — a config field (forma::GPT2Config{}: every extent at run time),
// the batch B or the sequence T — and is then given to the constructor as a DecoderShape (what
// io::llmc's Header::shape() and DecoderWeights carry): GPT2Trainer<GPT2Config{}, dyn, dyn>
// trainer(shape, batch, seq). Static and dynamic trainers run the same kernels with the same
// sizes and give the same bits. A config's norm_eps of forma::from_checkpoint takes the shape's.
//
// Activation recomputation (checkpointing): GPT2Trainer<C, B, T, recompute::layers> keeps only
// each layer's input from the forward pass and recomputes the layer's other activations during
// the backward, one layer at a time (as LlamaTrainer does): the loss, the gradients and every
// step are bit-identical to recompute::none; state_bytes<C, B, T, recompute::layers>() gives the
// smaller figure.
//
// The model is GPT-2's (llm.c train_gpt2.c, nanoGPT): learned token and position embeddings,
// per layer x += c_proj(attention(c_attn(ln_1(x)))), x += c_proj(gelu(c_fc(ln_2(x)))) with
// LayerNorm (weight and bias), causal multi-head attention (heads divide dim, no RoPE), biases
// on every projection and the tanh GELU; a final LayerNorm; the classifier tied to the token
// embedding. Parameters are stored in llm.c's ParameterTensors order and layout, per-layer
// tensors stacked on a first axis, matrices out × in (y = x·wᵀ + b):
//   wte (V, D)  wpe (P, D)  ln1w, ln1b (L, D)  qkvw (L, 3D, D)  qkvb (L, 3D)
//   attprojw (L, D, D)  attprojb (L, D)  ln2w, ln2b (L, D)  fcw (L, H, D)  fcb (L, H)
//   fcprojw (L, D, H)  fcprojb (L, D)  lnfw, lnfb (D)
// (H = 4·D unless the config says otherwise, P = the position rows, max_seq unless given). The
// rows 0..D, D..2D and 2D..3D of qkvw (and qkvb) are the query, key and value projections.
// Gradients, AdamW's m and v follow in the same layout. Weight decay applies to the 2-D tensors
// (wte, wpe, qkvw, attprojw, fcw, fcprojw) only.
//
// forward_backward runs the forward over the B·T tokens (row b·T + t is at position t), saving
// for each layer its input, ln_1's output, q, k, v, the attention output and its log-sum-exp,
// the mid-layer residual, ln_2's output, c_fc's output and its GELU; then the backward ops of
// ops/*_backward (cross_entropy_backward, linear_backward with biases, layernorm_backward,
// gelu_tanh_backward, attention_backward, embedding_backward, position_embedding_backward). The
// gradients are overwritten (zeroed, then accumulated: the tied wte gets both the classifier's
// and the lookup's). The loss is the mean cross-entropy over the B·T targets.
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
#include "forma/kernels/math.hpp"
#include "forma/models/decoder_config.hpp"
#include "forma/models/decoder_weights.hpp"
#include "forma/ops/activation_backward.hpp"
#include "forma/ops/attention_backward.hpp"
#include "forma/ops/cross_entropy_backward.hpp"
#include "forma/ops/embedding_backward.hpp"
#include "forma/ops/linear_backward.hpp"
#include "forma/ops/norm_backward.hpp"
#include "forma/train/llama_trainer.hpp"  // recompute, ParamSlot
#include "forma/train/optim.hpp"

namespace forma::train {

// Where everything lives in the state's one float array (offsets and sizes in floats), for a
// run-time GPT-2 shape, batch and sequence. A constexpr function of them: state_bytes<C, B, T>()
// of a static config is a compile-time constant.
struct gpt2_state_layout {
  std::size_t D = 0, H = 0, L = 0, NH = 0, V = 0, P = 0, B = 0, T = 0, N = 0;
  bool recomputed = false;

  // Parameters (llm.c's ParameterTensors order).
  std::size_t wte = 0, wpe = 0, ln1w = 0, ln1b = 0, qkvw = 0, qkvb = 0, attprojw = 0,
              attprojb = 0, ln2w = 0, ln2b = 0, fcw = 0, fcb = 0, fcprojw = 0, fcprojb = 0,
              lnfw = 0, lnfb = 0, params = 0;

  // One layer's saved activations besides its input, each (N, width), at these offsets within
  // the layer's block.
  std::size_t a_ln1 = 0;  // ln_1(x) (D)
  std::size_t a_q = 0;    // query (D)
  std::size_t a_k = 0;    // key (D)
  std::size_t a_v = 0;    // value (D)
  std::size_t a_o = 0;    // attention output (D)
  std::size_t a_lse = 0;  // log-sum-exp (NH)
  std::size_t a_mid = 0;  // x + attention (D)
  std::size_t a_ln2 = 0;  // ln_2(mid) (D)
  std::size_t a_h = 0;    // c_fc(ln2) (H)
  std::size_t a_g = 0;    // gelu(h) (H)
  std::size_t layer_activations = 0;

  // The state: params, grads, m, v; the L + 1 layer inputs (the last is the final norm's input);
  // the layer blocks (L, or 1 when recomputed); then the head's activations and the backward's
  // scratch.
  std::size_t grads = 0, adam_m = 0, adam_v = 0, inputs = 0, blocks = 0, block_count = 0,
              xn_final = 0, logits = 0, s_dx = 0, s_dxn = 0, s_tmp = 0, s_dq = 0, s_dk = 0,
              s_dv = 0, s_do = 0, s_dh = 0, total = 0;

  static constexpr gpt2_state_layout of(const DecoderShape& s, std::size_t batch,
                                        std::size_t seq, recompute r) noexcept {
    gpt2_state_layout a;
    a.D = s.dim, a.H = s.hidden, a.L = s.layers, a.NH = s.heads, a.V = s.vocab;
    a.P = s.positions;
    a.B = batch, a.T = seq, a.N = batch * seq;
    a.recomputed = r == recompute::layers;
    const std::size_t D = a.D, H = a.H, L = a.L, V = a.V, N = a.N;
    a.wte = 0;
    a.wpe = a.wte + V * D;
    a.ln1w = a.wpe + a.P * D;
    a.ln1b = a.ln1w + L * D;
    a.qkvw = a.ln1b + L * D;
    a.qkvb = a.qkvw + L * 3 * D * D;
    a.attprojw = a.qkvb + L * 3 * D;
    a.attprojb = a.attprojw + L * D * D;
    a.ln2w = a.attprojb + L * D;
    a.ln2b = a.ln2w + L * D;
    a.fcw = a.ln2b + L * D;
    a.fcb = a.fcw + L * H * D;
    a.fcprojw = a.fcb + L * H;
    a.fcprojb = a.fcprojw + L * D * H;
    a.lnfw = a.fcprojb + L * D;
    a.lnfb = a.lnfw + D;
    a.params = a.lnfb + D;

    a.a_ln1 = 0;
    a.a_q = a.a_ln1 + N * D;
    a.a_k = a.a_q + N * D;
    a.a_v = a.a_k + N * D;
    a.a_o = a.a_v + N * D;
    a.a_lse = a.a_o + N * D;
    a.a_mid = a.a_lse + N * a.NH;
    a.a_ln2 = a.a_mid + N * D;
    a.a_h = a.a_ln2 + N * D;
    a.a_g = a.a_h + N * H;
    a.layer_activations = a.a_g + N * H;

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
    a.s_dk = a.s_dq + N * D;                                      // (N, D)
    a.s_dv = a.s_dk + N * D;                                      // (N, D)
    a.s_do = a.s_dv + N * D;                                      // (N, D)
    a.s_dh = a.s_do + N * D;                                      // (N, H)
    a.total = a.s_dh + N * H;
    return a;
  }

  // Bytes of the saved activations (layer inputs, layer blocks, the head's), without the
  // parameters, gradients, moments and the backward's scratch.
  constexpr std::size_t activation_bytes() const noexcept {
    return (s_dx - inputs) * sizeof(float);
  }
};

// The exact number of bytes a GPT2Trainer<C, B, T, R> allocates (one aligned allocation).
template <GPT2Config C, std::size_t B, std::size_t T, recompute R = recompute::none>
  requires(gpt2_decoder(C).is_static() && B != dyn && T != dyn)
constexpr std::size_t state_bytes() {
  return gpt2_state_layout::of(static_shape<gpt2_decoder(C)>(), B, T, R).total * sizeof(float);
}

// The same figure for a run-time GPT-2 shape (a trainer with dynamic extents).
constexpr std::size_t state_bytes(const DecoderShape& shape, std::size_t batch, std::size_t seq,
                                  recompute r = recompute::none) noexcept {
  return gpt2_state_layout::of(shape, batch, seq, r).total * sizeof(float);
}

// The parameter tensors of a GPT-2 layout, in llm.c's order, with their decay flags.
struct GPT2ParamSlots {
  std::array<ParamSlot, 16> slot{};
  static constexpr std::size_t count = 16;
  constexpr const ParamSlot* begin() const noexcept { return slot.data(); }
  constexpr const ParamSlot* end() const noexcept { return slot.data() + count; }
  constexpr std::size_t size() const noexcept { return count; }
  constexpr const ParamSlot& operator[](std::size_t i) const noexcept { return slot[i]; }
};

constexpr GPT2ParamSlots gpt2_param_slots(const gpt2_state_layout& a) noexcept {
  const std::size_t D = a.D, H = a.H, L = a.L, V = a.V, P = a.P;
  return {{{
      {"wte", a.wte, V * D, true},
      {"wpe", a.wpe, P * D, true},
      {"ln1w", a.ln1w, L * D, false},
      {"ln1b", a.ln1b, L * D, false},
      {"qkvw", a.qkvw, L * 3 * D * D, true},
      {"qkvb", a.qkvb, L * 3 * D, false},
      {"attprojw", a.attprojw, L * D * D, true},
      {"attprojb", a.attprojb, L * D, false},
      {"ln2w", a.ln2w, L * D, false},
      {"ln2b", a.ln2b, L * D, false},
      {"fcw", a.fcw, L * H * D, true},
      {"fcb", a.fcb, L * H, false},
      {"fcprojw", a.fcprojw, L * D * H, true},
      {"fcprojb", a.fcprojb, L * D, false},
      {"lnfw", a.lnfw, D, false},
      {"lnfb", a.lnfb, D, false},
  }}};
}

// Mutable views of parameters (or of their gradients or moments) in llm.c's layout.
template <GPT2Config C>
struct GPT2Params {
  static constexpr DecoderConfig config = gpt2_decoder(C);
  static constexpr std::size_t D = config.dim, D3 = D == dyn ? dyn : 3 * D;
  template <std::size_t... Es>
  using view = TensorView<float, extents<Es...>>;
  view<config.vocab, D> wte;
  view<config.positions, D> wpe;
  view<config.layers, D> ln1w, ln1b;
  view<config.layers, D3, D> qkvw;
  view<config.layers, D3> qkvb;
  view<config.layers, D, D> attprojw;
  view<config.layers, D> attprojb;
  view<config.layers, D> ln2w, ln2b;
  view<config.layers, config.hidden, D> fcw;
  view<config.layers, config.hidden> fcb;
  view<config.layers, D, config.hidden> fcprojw;
  view<config.layers, D> fcprojb;
  view<D> lnfw, lnfb;
};

template <GPT2Config C, std::size_t B, std::size_t T, recompute R = recompute::none>
class GPT2Trainer {
  static constexpr DecoderConfig DC = gpt2_decoder(C);
  // The static extents (dyn where given at run time).
  static constexpr std::size_t SD = DC.dim, SH = DC.hidden, SL = DC.layers, SNH = DC.heads,
                               SV = DC.vocab, SP = DC.positions, SHD = DC.head_dim(),
                               SKV = DC.kv_dim(), S3D = SD == dyn ? dyn : 3 * SD;
  static constexpr std::size_t SN = B == dyn || T == dyn ? dyn : B * T;
  static constexpr bool fully_static = DC.is_static() && B != dyn && T != dyn;
  static_assert(forma::detail::decoder_rules_hold<DC>(),
                "GPT2Trainer: the config breaks a GPT-2 rule (the error above names it)");
  static_assert(C.ffn == nn::ffn_kind::gelu_tanh,
                "GPT2Trainer: GPT-2's MLP is trained with the tanh GELU (ffn must be gelu_tanh)");
  static_assert(B != 0 && T != 0, "GPT2Trainer: batch and sequence must be positive");
  static_assert(T == dyn || DC.max_seq == dyn || T <= DC.max_seq,
                "GPT2Trainer: the sequence T must not exceed the config's max_seq");

 public:
  static constexpr GPT2Config config = C;
  static constexpr DecoderConfig decoder_config = DC;
  static constexpr std::size_t batch = B, sequence = T;
  static constexpr recompute recomputation = R;

  using tokens_view = TensorView<const std::int32_t, extents<B, T>>;
  using logits_view = TensorView<const float, extents<SN, SV>>;

  // Allocates the whole state (state_bytes<C, B, T, R>() bytes, zeroed): parameters all zero.
  GPT2Trainer()
    requires(fully_static)
      : GPT2Trainer(static_shape<DC>(), B, T) {}

  // A trainer for a run-time shape (the static fields of C, B and T must equal it: else, or when
  // the shape breaks a GPT-2 rule, is not tied, or seq exceeds max_seq, forma::shape_error).
  explicit GPT2Trainer(const DecoderShape& shape, std::size_t batch_size = B,
                       std::size_t seq = T)
      : shape_(checked(shape, batch_size, seq)),
        a_(gpt2_state_layout::of(shape_, batch_size, seq, R)),
        state_(a_.total, true) {}

  const DecoderShape& shape() const noexcept { return shape_; }
  std::size_t batch_size() const noexcept { return a_.B; }
  std::size_t sequence_length() const noexcept { return a_.T; }
  const gpt2_state_layout& layout() const noexcept { return a_; }
  // Bytes allocated for the state: state_bytes(shape(), batch_size(), sequence_length(), R).
  std::size_t bytes() const noexcept { return a_.total * sizeof(float); }
  std::size_t parameter_count() const noexcept { return a_.params; }

  // The parameter tensors, in llm.c's order.
  GPT2ParamSlots slots() const noexcept { return gpt2_param_slots(a_); }

  // GPT-2's initialization (nanoGPT, llm.c train_gpt2.py) from `seed`: normal(0, 0.02) for wte,
  // wpe and the matrices, 0.02/√(2L) for the residual projections attprojw and fcprojw, zero
  // biases, LayerNorm weights 1 and biases 0. Moments and the step count reset. The same seed
  // gives the same bits on every platform.
  void init(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    const double residual_std = 0.02 / std::sqrt(2.0 * static_cast<double>(a_.L));
    for (const ParamSlot& s : slots()) {
      float* p = state_.data() + s.offset;
      if (!s.decay) {
        const bool norm_weight = s.name == "ln1w" || s.name == "ln2w" || s.name == "lnfw";
        for (std::size_t i = 0; i < s.size; ++i) p[i] = norm_weight ? 1.0f : 0.0f;
        continue;
      }
      const double std_dev = s.name == "attprojw" || s.name == "fcprojw" ? residual_std : 0.02;
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
  GPT2Params<C> params() noexcept { return views(0); }
  GPT2Params<C> grads() noexcept { return views(a_.grads); }
  GPT2Params<C> adam_m() noexcept { return views(a_.adam_m); }
  GPT2Params<C> adam_v() noexcept { return views(a_.adam_v); }

  // Read-only DecoderWeights of the parameters, for forma::Decoder<gpt2_decoder(C)> (valid while
  // *this lives): wq, wk, wv and their biases are the row ranges of qkvw and qkvb, the
  // classifier is wte.
  DecoderWeights<DC> weights() const {
    const float* p = state_.data();
    const std::size_t D = a_.D, H = a_.H, L = a_.L, V = a_.V, P = a_.P;
    DecoderWeights<DC> w;
    w.shape = shape_;
    w.token_embedding = tv<SV, SD>(p + a_.wte, V, D);
    w.position_embedding = tv<SP, SD>(p + a_.wpe, P, D);
    w.layers.resize(L);
    for (std::size_t l = 0; l < L; ++l) {
      auto& x = w.layers[l];
      const float* qkv = p + a_.qkvw + l * 3 * D * D;
      const float* qkv_bias = p + a_.qkvb + l * 3 * D;
      x.attn_norm = tv<SD>(p + a_.ln1w + l * D, D);
      x.attn_norm_bias = tv<SD>(p + a_.ln1b + l * D, D);
      x.wq = tv<SD, SD>(qkv, D, D);
      x.wk = tv<SKV, SD>(qkv + D * D, D, D);
      x.wv = tv<SKV, SD>(qkv + 2 * D * D, D, D);
      x.bq = tv<SD>(qkv_bias, D);
      x.bk = tv<SKV>(qkv_bias + D, D);
      x.bv = tv<SKV>(qkv_bias + 2 * D, D);
      x.wo = tv<SD, SD>(p + a_.attprojw + l * D * D, D, D);
      x.bo = tv<SD>(p + a_.attprojb + l * D, D);
      x.ffn_norm = tv<SD>(p + a_.ln2w + l * D, D);
      x.ffn_norm_bias = tv<SD>(p + a_.ln2b + l * D, D);
      x.w1 = tv<SH, SD>(p + a_.fcw + l * H * D, H, D);
      x.b1 = tv<SH>(p + a_.fcb + l * H, H);
      x.w2 = tv<SD, SH>(p + a_.fcprojw + l * D * H, D, H);
      x.b2 = tv<SD>(p + a_.fcprojb + l * D, D);
    }
    w.final_norm = tv<SD>(p + a_.lnfw, D);
    w.final_norm_bias = tv<SD>(p + a_.lnfb, D);
    w.classifier = tv<SV, SD>(p + a_.wte, V, D);
    return w;
  }

  // The forward alone: fills the logits (and the saved activations); an Error for a token id
  // outside [0, V).
  Result<void> forward(tokens_view tokens) {
    check_tokens(tokens, "GPT2Trainer::forward: tokens");
    float* s = state_.data();
    const float* p = s;
    const std::size_t D = a_.D, N = a_.N, V = a_.V, T_ = a_.T;
    float* x = input(0);
    for (std::size_t r = 0; r < N; ++r) {
      const std::int32_t id = tokens.data()[r];
      if (id < 0 || static_cast<std::size_t>(id) >= V) {
        return forma::detail::out_of_table("GPT2Trainer::forward", "token id", id, V);
      }
      const float* token_row = p + a_.wte + static_cast<std::size_t>(id) * D;
      const float* position_row = p + a_.wpe + (r % T_) * D;
      for (std::size_t j = 0; j < D; ++j) x[r * D + j] = token_row[j] + position_row[j];
    }
    for (std::size_t l = 0; l < a_.L; ++l) layer_forward(l);
    kernels::cpu::layernorm_rows(static_cast<const float*>(input(a_.L)), p + a_.lnfw,
                                 p + a_.lnfb, s + a_.xn_final, N, D, shape_.norm_eps);
    kernels::cpu::packed::gemm_nt(N, V, D, s + a_.xn_final, D, p + a_.wte, D, s + a_.logits, V);
    return {};
  }

  // The logits of the last forward(), row b·T + t for sequence b, position t. forward_backward
  // overwrites them with their gradient.
  logits_view logits() const noexcept {
    return tv<SN, SV>(static_cast<const float*>(state_.data() + a_.logits), a_.N, a_.V);
  }

  // The mean cross-entropy of predicting targets from tokens; every gradient is overwritten.
  Result<float> forward_backward(tokens_view tokens, tokens_view targets) {
    check_tokens(targets, "GPT2Trainer::forward_backward: targets");
    if (auto f = forward(tokens); !f) return f.error();
    float* s = state_.data();
    const float* p = s;
    float* g = s + a_.grads;
    const float eps = shape_.norm_eps;
    const std::size_t D = a_.D, H = a_.H, NH = a_.NH, V = a_.V, P = a_.P, N = a_.N, T_ = a_.T;
    std::memset(g, 0, a_.params * sizeof(float));

    auto dlogits = tv<SN, SV>(s + a_.logits, N, V);
    auto loss = cross_entropy_backward(tv<SN, SV>(static_cast<const float*>(s + a_.logits), N, V),
                                       std::span<const std::int32_t>(targets.data(), N), dlogits);
    if (!loss) return loss.error();

    auto nd = [&](float* ptr) { return tv<SN, SD>(ptr, N, D); };
    auto cnd = [&](const float* ptr) { return tv<SN, SD>(ptr, N, D); };
    auto nh = [&](float* ptr) { return tv<SN, SH>(ptr, N, H); };
    auto cnh = [&](const float* ptr) { return tv<SN, SH>(ptr, N, H); };
    auto dd = [&](const float* ptr) { return tv<SD, SD>(ptr, D, D); };
    auto gdd = [&](float* ptr) { return tv<SD, SD>(ptr, D, D); };
    auto vec = [&](const float* ptr) { return tv<SD>(ptr, D); };
    auto gvec = [&](float* ptr) { return tv<SD>(ptr, D); };
    float* dx = s + a_.s_dx;
    float* dxn = s + a_.s_dxn;
    float* tmp = s + a_.s_tmp;

    // The head: logits = ln_f(x) · wteᵀ.
    linear_backward(cnd(s + a_.xn_final), tv<SV, SD>(p + a_.wte, V, D), dlogits.as_const(),
                    nd(dxn), tv<SV, SD>(g + a_.wte, V, D));
    layernorm_backward(cnd(input(a_.L)), vec(p + a_.lnfw), cnd(dxn), nd(dx), gvec(g + a_.lnfw),
                       gvec(g + a_.lnfb), eps);

    for (std::size_t l = a_.L; l-- > 0;) {
      if constexpr (R == recompute::layers) layer_forward(l);  // this layer's activations again
      // MLP: next = mid + fcprojw · gelu(fcw · ln2 + fcb) + fcprojb, ln2 = ln_2(mid).
      float* dh = s + a_.s_dh;
      linear_backward(cnh(act(l, a_.a_g)), tv<SD, SH>(p + a_.fcprojw + l * D * H, D, H), cnd(dx),
                      nh(dh), tv<SD, SH>(g + a_.fcprojw + l * D * H, D, H),
                      gvec(g + a_.fcprojb + l * D));
      gelu_tanh_backward(cnh(act(l, a_.a_h)), cnh(dh), nh(dh));
      linear_backward(cnd(act(l, a_.a_ln2)), tv<SH, SD>(p + a_.fcw + l * H * D, H, D), cnh(dh),
                      nd(dxn), tv<SH, SD>(g + a_.fcw + l * H * D, H, D),
                      tv<SH>(g + a_.fcb + l * H, H));
      layernorm_backward(cnd(act(l, a_.a_mid)), vec(p + a_.ln2w + l * D), cnd(dxn), nd(tmp),
                         gvec(g + a_.ln2w + l * D), gvec(g + a_.ln2b + l * D), eps);
      add_into(dx, tmp, N * D);

      // Attention: mid = x + attprojw · attention(q, k, v) + attprojb, with q, k, v the three
      // row ranges of qkvw (and qkvb) applied to ln1 = ln_1(x).
      float* dq = s + a_.s_dq;
      float* dk = s + a_.s_dk;
      float* dv = s + a_.s_dv;
      float* d_o = s + a_.s_do;
      linear_backward(cnd(act(l, a_.a_o)), dd(p + a_.attprojw + l * D * D), cnd(dx), nd(d_o),
                      gdd(g + a_.attprojw + l * D * D), gvec(g + a_.attprojb + l * D));
      const float* q = act(l, a_.a_q);
      const float* k = act(l, a_.a_k);
      const float* v = act(l, a_.a_v);
      const float* o = act(l, a_.a_o);
      const float* lse = act(l, a_.a_lse);
      for (std::size_t b = 0; b < a_.B; ++b) {
        attention_backward(heads(q, b), heads(k, b), heads(v, b), heads(o, b),
                           tv<T, SNH>(lse + b * T_ * NH, T_, NH), heads(d_o, b), heads(dq, b),
                           heads(dk, b), heads(dv, b));
      }
      const float* ln1 = act(l, a_.a_ln1);
      const float* w_qkv = p + a_.qkvw + l * 3 * D * D;
      float* g_qkv = g + a_.qkvw + l * 3 * D * D;
      float* g_bias = g + a_.qkvb + l * 3 * D;
      linear_backward(cnd(ln1), dd(w_qkv), cnd(dq), nd(dxn), gdd(g_qkv), gvec(g_bias));
      linear_backward(cnd(ln1), dd(w_qkv + D * D), cnd(dk), nd(tmp), gdd(g_qkv + D * D),
                      gvec(g_bias + D));
      add_into(dxn, tmp, N * D);
      linear_backward(cnd(ln1), dd(w_qkv + 2 * D * D), cnd(dv), nd(tmp), gdd(g_qkv + 2 * D * D),
                      gvec(g_bias + 2 * D));
      add_into(dxn, tmp, N * D);
      layernorm_backward(cnd(input(l)), vec(p + a_.ln1w + l * D), cnd(dxn), nd(tmp),
                         gvec(g + a_.ln1w + l * D), gvec(g + a_.ln1b + l * D), eps);
      add_into(dx, tmp, N * D);
    }
    auto embedded = embedding_backward(std::span<const std::int32_t>(tokens.data(), N), cnd(dx),
                                       tv<SV, SD>(g + a_.wte, V, D));
    if (!embedded) return embedded.error();
    for (std::size_t b = 0; b < a_.B; ++b) {
      auto placed = position_embedding_backward(0, tv<T, SD>(static_cast<const float*>(dx) +
                                                                 b * T_ * D,
                                                             T_, D),
                                                tv<SP, SD>(g + a_.wpe, P, D));
      if (!placed) return placed.error();
    }
    return *loss;
  }

  // Gradient clipping over every gradient (torch.nn.utils.clip_grad_norm_); the norm before.
  float clip_grad_norm(float max_norm) noexcept {
    return train::clip_grad_norm(gradients(), max_norm);
  }

  // One AdamW step at learning rate lr: decay on the 2-D tensors only.
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
  static DecoderShape checked(const DecoderShape& s, std::size_t batch_size, std::size_t seq) {
    contract::require_less(0, s.heads, "GPT2Trainer: the model needs at least one head (0 <");
    decoder_config_rules<DC>(s);
    contract::require_same(std::size_t{1}, std::size_t{s.shared_classifier},
                           "GPT2Trainer: GPT-2's classifier is tied to wte (shared_classifier "
                           "must be 1)");
    contract::require_same_unless_dyn(B, batch_size, "GPT2Trainer: the batch differs from the static B");
    contract::require_same_unless_dyn(T, seq, "GPT2Trainer: the sequence differs from the static T");
    contract::require_less(0, batch_size, "GPT2Trainer: the batch must be positive (0 <");
    contract::require_less(0, seq, "GPT2Trainer: the sequence must be positive (0 <");
    contract::require_less(seq, s.max_seq + 1, "GPT2Trainer: the sequence must not exceed max_seq (seq < max_seq + 1 fails)");
    contract::require_less(0, s.layers, "GPT2Trainer: the model needs at least one layer (0 <");
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
    const std::size_t D = a_.D, H = a_.H, NH = a_.NH, N = a_.N, T_ = a_.T;
    const float eps = shape_.norm_eps;
    const float* x = input(l);
    float* ln1 = act(l, a_.a_ln1);
    float* q = act(l, a_.a_q);
    float* k = act(l, a_.a_k);
    float* v = act(l, a_.a_v);
    float* o = act(l, a_.a_o);
    float* lse = act(l, a_.a_lse);
    float* mid = act(l, a_.a_mid);
    float* ln2 = act(l, a_.a_ln2);
    float* h = act(l, a_.a_h);
    float* gl = act(l, a_.a_g);
    float* tmp = s + a_.s_tmp;
    using kernels::cpu::packed::gemm_nt;
    kernels::cpu::layernorm_rows(x, p + a_.ln1w + l * D, p + a_.ln1b + l * D, ln1, N, D, eps);
    const float* w_qkv = p + a_.qkvw + l * 3 * D * D;
    const float* b_qkv = p + a_.qkvb + l * 3 * D;
    gemm_nt(N, D, D, ln1, D, w_qkv, D, q, D);
    gemm_nt(N, D, D, ln1, D, w_qkv + D * D, D, k, D);
    gemm_nt(N, D, D, ln1, D, w_qkv + 2 * D * D, D, v, D);
    add_bias(q, b_qkv, N, D);
    add_bias(k, b_qkv + D, N, D);
    add_bias(v, b_qkv + 2 * D, N, D);
    for (std::size_t b = 0; b < a_.B; ++b) {
      attention_forward_lse(heads(static_cast<const float*>(q), b),
                            heads(static_cast<const float*>(k), b),
                            heads(static_cast<const float*>(v), b), heads(o, b),
                            tv<T, SNH>(lse + b * T_ * NH, T_, NH));
    }
    gemm_nt(N, D, D, o, D, p + a_.attprojw + l * D * D, D, tmp, D);
    residual(mid, x, tmp, p + a_.attprojb + l * D, N, D);
    kernels::cpu::layernorm_rows(static_cast<const float*>(mid), p + a_.ln2w + l * D,
                                 p + a_.ln2b + l * D, ln2, N, D, eps);
    gemm_nt(N, H, D, ln2, D, p + a_.fcw + l * H * D, D, h, H);
    add_bias(h, p + a_.fcb + l * H, N, H);
    for (std::size_t i = 0; i < N * H; ++i) gl[i] = math::gelu_tanh(h[i]);
    // The next layer's input (recomputing layer l during the backward writes the same values
    // there again: layer l + 1 is done with it by then).
    gemm_nt(N, D, H, gl, H, p + a_.fcprojw + l * D * H, H, tmp, D);
    residual(input(l + 1), mid, tmp, p + a_.fcprojb + l * D, N, D);
  }

  // y[r][j] += bias[j] for the (rows, width) array y.
  static void add_bias(float* y, const float* bias, std::size_t rows, std::size_t width) noexcept {
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t j = 0; j < width; ++j) y[r * width + j] += bias[j];
    }
  }

  // out = x + (branch + bias), row by row: the residual add after a projection with a bias.
  static void residual(float* out, const float* x, const float* branch, const float* bias,
                       std::size_t rows, std::size_t width) noexcept {
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t j = 0; j < width; ++j) {
        out[r * width + j] = x[r * width + j] + (branch[r * width + j] + bias[j]);
      }
    }
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

  // Sequence b of a (N, D) array as (T, heads, head_dim).
  template <class E>
  TensorView<E, extents<T, SNH, SHD>> heads(E* base, std::size_t b) const noexcept {
    return tv<T, SNH, SHD>(base + b * a_.T * a_.D, a_.T, a_.NH, shape_.head_dim());
  }

  static void add_into(float* to, const float* from, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) to[i] += from[i];
  }

  GPT2Params<C> views(std::size_t base) noexcept {
    float* p = state_.data() + base;
    const std::size_t D = a_.D, H = a_.H, L = a_.L, V = a_.V, P = a_.P;
    GPT2Params<C> v;
    v.wte = tv<SV, SD>(p + a_.wte, V, D);
    v.wpe = tv<SP, SD>(p + a_.wpe, P, D);
    v.ln1w = tv<SL, SD>(p + a_.ln1w, L, D);
    v.ln1b = tv<SL, SD>(p + a_.ln1b, L, D);
    v.qkvw = tv<SL, S3D, SD>(p + a_.qkvw, L, 3 * D, D);
    v.qkvb = tv<SL, S3D>(p + a_.qkvb, L, 3 * D);
    v.attprojw = tv<SL, SD, SD>(p + a_.attprojw, L, D, D);
    v.attprojb = tv<SL, SD>(p + a_.attprojb, L, D);
    v.ln2w = tv<SL, SD>(p + a_.ln2w, L, D);
    v.ln2b = tv<SL, SD>(p + a_.ln2b, L, D);
    v.fcw = tv<SL, SH, SD>(p + a_.fcw, L, H, D);
    v.fcb = tv<SL, SH>(p + a_.fcb, L, H);
    v.fcprojw = tv<SL, SD, SH>(p + a_.fcprojw, L, D, H);
    v.fcprojb = tv<SL, SD>(p + a_.fcprojb, L, D);
    v.lnfw = tv<SD>(p + a_.lnfw, D);
    v.lnfb = tv<SD>(p + a_.lnfb, D);
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

  DecoderShape shape_;
  gpt2_state_layout a_;
  aligned_buffer<float, host> state_;
  long step_ = 0;
};

}  // namespace forma::train
