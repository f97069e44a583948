// forma/models/decoder_config.hpp — one decoder-only transformer, each model family a config.
//
//   constexpr auto stories = forma::llama_decoder(forma::presets::stories260k);  // llama2.c
//   constexpr auto gpt2    = forma::gpt2_decoder({.dim = 768, .layers = 12, .heads = 12,
//                                                 .vocab = 50257, .max_seq = 1024});
//   constexpr auto qwen    = forma::qwen2_decoder({.dim = 896, .hidden = 4864, .layers = 24,
//                                                  .heads = 14, .kv_heads = 2, .vocab = 151936,
//                                                  .max_seq = 32768});
//   forma::Decoder<gpt2> model(weights);
//
// A DecoderConfig is a structural value (a template argument). The families differ only in
// fields:
//   Llama  RMSNorm, RoPE (interleaved pairs as Meta/llama2.c, or half as Hugging Face), GQA,
//          SwiGLU, no biases, classifier tied or separate.
//   GPT-2  LayerNorm (with bias), learned positions, multi-head attention, a GELU (tanh) MLP,
//          biases on every projection, classifier tied to the token embedding.
//   Qwen2  Llama with biases on q, k and v, RoPE half layout with theta 1e6, RMSNorm eps 1e-6,
//          the classifier tied in the small sizes.
// Any extent may be forma::dyn (read from the checkpoint). The family's rules — heads divide the
// width, kv heads divide heads, RoPE's head_dim is even, GPT-2 is multi-head and its learned
// position table is at least as long as the context — are compile errors for static fields
// (naming the family and printing the numbers) and forma::shape_error at run time for dynamic
// ones (decoder_config_rules).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "forma/core/contract.hpp"
#include "forma/core/extents.hpp"
#include "forma/core/shape_rules.hpp"
#include "forma/models/llama_config.hpp"
#include "forma/nn/config.hpp"

namespace forma {

enum class model_family : unsigned char { llama, gpt2, qwen2 };

// A config's norm_eps or rope_theta that the checkpoint supplies at run time (as dyn does for an
// extent).
inline constexpr float from_checkpoint = 0.0f;

constexpr std::string_view family_name(model_family family) noexcept {
  switch (family) {
    case model_family::gpt2: return "gpt2";
    case model_family::qwen2: return "qwen2";
    case model_family::llama: break;
  }
  return "llama";
}

struct DecoderConfig {
  model_family family = model_family::llama;
  std::size_t dim = dyn;        // model width D
  std::size_t hidden = dyn;     // feed-forward width
  std::size_t layers = dyn;     // transformer blocks
  std::size_t heads = dyn;      // query heads
  std::size_t kv_heads = dyn;   // key/value heads (GQA when < heads, MQA when 1)
  std::size_t vocab = dyn;      // vocabulary size
  std::size_t max_seq = dyn;    // longest sequence the model runs (KV cache capacity)
  std::size_t positions = dyn;  // rows of the learned position table (GPT-2; unused with RoPE)
  nn::position_kind position = nn::position_kind::rope_interleaved;
  nn::ffn_kind ffn = nn::ffn_kind::swiglu;
  float norm_eps = 1e-5f;       // forma::from_checkpoint (0): the checkpoint's
  float rope_theta = 10000.0f;  // forma::from_checkpoint (0): the checkpoint's
  classifier_kind classifier = classifier_kind::any;
  std::size_t flash_block = 0;  // 0: plain attention; > 0: flash attention in tiles of this

  constexpr nn::norm_kind norm() const noexcept {
    return family == model_family::gpt2 ? nn::norm_kind::layer : nn::norm_kind::rms;
  }
  constexpr bool qkv_bias() const noexcept { return family != model_family::llama; }
  constexpr bool out_bias() const noexcept { return family == model_family::gpt2; }
  constexpr bool learned_positions() const noexcept {
    return position == nn::position_kind::learned;
  }
  constexpr std::size_t head_dim() const noexcept {
    return dim == dyn || heads == dyn ? dyn : dim / heads;
  }
  constexpr std::size_t kv_dim() const noexcept {
    return head_dim() == dyn || kv_heads == dyn ? dyn : kv_heads * head_dim();
  }
  constexpr bool is_static() const noexcept {
    return dim != dyn && hidden != dyn && layers != dyn && heads != dyn && kv_heads != dyn &&
           vocab != dyn && max_seq != dyn && (!learned_positions() || positions != dyn);
  }
  // The config of one of its blocks.
  constexpr nn::TransformerConfig block() const noexcept {
    return {.dim = dim,
            .hidden = hidden,
            .layers = layers,
            .heads = heads,
            .kv_heads = kv_heads,
            .max_seq = max_seq,
            .norm = norm(),
            .ffn = ffn,
            .position = position,
            .bias = qkv_bias(),
            .out_bias = out_bias(),
            .norm_eps = norm_eps,
            .rope_theta = rope_theta,
            .flash_block = flash_block};
  }
};

// The run-time values of a config (every field concrete): from a checkpoint, or the static
// config's own fields.
struct DecoderShape {
  std::size_t dim = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, vocab = 0, max_seq = 0;
  std::size_t positions = 0;  // learned position rows (0 for RoPE families)
  bool shared_classifier = true;
  float norm_eps = 1e-5f;
  float rope_theta = 10000.0f;  // 0 for learned positions

  constexpr std::size_t head_dim() const noexcept { return heads == 0 ? 0 : dim / heads; }
  constexpr std::size_t kv_dim() const noexcept { return kv_heads * head_dim(); }
  constexpr nn::TransformerShape block() const noexcept {
    return {dim, hidden, layers, heads, kv_heads, max_seq};
  }
  friend constexpr bool operator==(const DecoderShape&, const DecoderShape&) = default;
};

// ---- the families ---------------------------------------------------------------------------

// Llama: a LlamaConfig (llama2.c's fields) with its RoPE layout — interleaved pairs for llama2.c
// and Meta checkpoints, half for Hugging Face's.
constexpr DecoderConfig llama_decoder(const LlamaConfig& c,
                                      nn::position_kind rope = nn::position_kind::rope_interleaved,
                                      std::size_t flash_block = 0) noexcept {
  return {.family = model_family::llama,
          .dim = c.dim,
          .hidden = c.hidden,
          .layers = c.layers,
          .heads = c.heads,
          .kv_heads = c.kv_heads,
          .vocab = c.vocab,
          .max_seq = c.max_seq,
          .positions = 0,
          .position = rope,
          .ffn = nn::ffn_kind::swiglu,
          .norm_eps = c.norm_eps,
          .rope_theta = c.rope_theta,
          .classifier = c.classifier,
          .flash_block = flash_block};
}

// GPT-2 (Hugging Face's config.json names in comments).
struct GPT2Config {
  std::size_t dim = dyn;        // n_embd
  std::size_t layers = dyn;     // n_layer
  std::size_t heads = dyn;      // n_head
  std::size_t vocab = dyn;      // vocab_size
  std::size_t max_seq = dyn;    // the context the model runs (at most n_positions)
  std::size_t positions = 0;    // n_positions: rows of the position table; 0 = max_seq
  std::size_t hidden = 0;       // n_inner; 0 (null in config.json) = 4 · n_embd
  float norm_eps = 1e-5f;       // layer_norm_epsilon
  nn::ffn_kind ffn = nn::ffn_kind::gelu_tanh;  // activation_function: gelu_new (tanh) or gelu
  std::size_t flash_block = 0;
};

constexpr DecoderConfig gpt2_decoder(const GPT2Config& c) noexcept {
  const std::size_t hidden = c.hidden != 0 ? c.hidden : (c.dim == dyn ? dyn : 4 * c.dim);
  return {.family = model_family::gpt2,
          .dim = c.dim,
          .hidden = hidden,
          .layers = c.layers,
          .heads = c.heads,
          .kv_heads = c.heads,
          .vocab = c.vocab,
          .max_seq = c.max_seq,
          .positions = c.positions != 0 ? c.positions : c.max_seq,
          .position = nn::position_kind::learned,
          .ffn = c.ffn,
          .norm_eps = c.norm_eps,
          .rope_theta = 0.0f,
          .classifier = classifier_kind::shared,
          .flash_block = c.flash_block};
}

// Qwen2 (Hugging Face's names: hidden_size, intermediate_size, num_hidden_layers,
// num_attention_heads, num_key_value_heads, vocab_size, max_position_embeddings, rope_theta,
// rms_norm_eps, tie_word_embeddings).
struct Qwen2Config {
  std::size_t dim = dyn;
  std::size_t hidden = dyn;
  std::size_t layers = dyn;
  std::size_t heads = dyn;
  std::size_t kv_heads = dyn;
  std::size_t vocab = dyn;
  std::size_t max_seq = dyn;
  float rope_theta = 1000000.0f;
  float norm_eps = 1e-6f;
  classifier_kind classifier = classifier_kind::any;
  std::size_t flash_block = 0;
};

constexpr DecoderConfig qwen2_decoder(const Qwen2Config& c) noexcept {
  return {.family = model_family::qwen2,
          .dim = c.dim,
          .hidden = c.hidden,
          .layers = c.layers,
          .heads = c.heads,
          .kv_heads = c.kv_heads,
          .vocab = c.vocab,
          .max_seq = c.max_seq,
          .positions = 0,
          .position = nn::position_kind::rope_half,
          .ffn = nn::ffn_kind::swiglu,
          .norm_eps = c.norm_eps,
          .rope_theta = c.rope_theta,
          .classifier = c.classifier,
          .flash_block = c.flash_block};
}

// ---- the rules ------------------------------------------------------------------------------

// The run-time shape of a fully static config.
template <DecoderConfig C>
  requires(C.is_static())
constexpr DecoderShape static_shape() noexcept {
  return {C.dim,
          C.hidden,
          C.layers,
          C.heads,
          C.kv_heads,
          C.vocab,
          C.max_seq,
          C.learned_positions() ? C.positions : 0,
          C.classifier != classifier_kind::separate,
          C.norm_eps,
          C.rope_theta};
}

namespace detail {
// The family's rules, each with the family's name in its message. `shape` supplies the run-time
// values of dynamic fields (a shape that passes every rule when only the static fields are
// checked).
template <DecoderConfig C>
constexpr void decoder_family_rules(const DecoderShape& shape) {
  if constexpr (C.family == model_family::gpt2) {
    static_assert(C.position == nn::position_kind::learned,
                  "GPT2Config: GPT-2 adds learned positions (position must be learned)");
    static_assert(C.ffn == nn::ffn_kind::gelu_tanh || C.ffn == nn::ffn_kind::gelu_erf,
                  "GPT2Config: GPT-2's MLP is a GELU (ffn must be gelu_tanh or gelu_erf)");
    FORMA_RULE_DIVIDES("GPT2Config: heads must divide the width (head_dim = dim / heads)",
                       C.heads, C.dim, shape.heads, shape.dim);
    FORMA_RULE_SAME_EXTENT("GPT2Config: GPT-2 attention is multi-head (kv_heads == heads fails)",
                           C.kv_heads, C.heads, shape.kv_heads, shape.heads);
    FORMA_RULE_LESS("GPT2Config: the learned position table is shorter than the context "
                    "(max_seq < positions + 1 fails)",
                    C.max_seq, C.positions == dyn ? dyn : C.positions + 1, shape.max_seq,
                    shape.positions + 1);
  } else {
    static_assert(C.position != nn::position_kind::learned,
                  "DecoderConfig: Llama and Qwen2 rotate positions (position must be a RoPE "
                  "layout)");
    static_assert(C.ffn == nn::ffn_kind::swiglu,
                  "DecoderConfig: Llama and Qwen2 use a SwiGLU feed-forward (ffn must be swiglu)");
    if constexpr (C.family == model_family::qwen2) {
      FORMA_RULE_DIVIDES("Qwen2Config: heads must divide the width (head_dim = dim / heads)",
                         C.heads, C.dim, shape.heads, shape.dim);
      FORMA_RULE_DIVIDES("Qwen2Config: kv_heads must divide heads (query heads per kv head)",
                         C.kv_heads, C.heads, shape.kv_heads, shape.heads);
      FORMA_RULE_DIVIDES("Qwen2Config: head_dim must be even for RoPE (it rotates pairs)",
                         std::size_t{2}, C.head_dim(), std::size_t{2}, shape.head_dim());
    } else {
      FORMA_RULE_DIVIDES("LlamaConfig: heads must divide dim (head_dim = dim / heads)", C.heads,
                         C.dim, shape.heads, shape.dim);
      FORMA_RULE_DIVIDES("LlamaConfig: kv_heads must divide heads (query heads per kv head)",
                         C.kv_heads, C.heads, shape.kv_heads, shape.heads);
      FORMA_RULE_DIVIDES("LlamaConfig: head_dim must be even for RoPE (it rotates pairs)",
                         std::size_t{2}, C.head_dim(), std::size_t{2}, shape.head_dim());
    }
  }
  static_assert(C.flash_block != dyn,
                "DecoderConfig: flash_block must be a number (0 for plain attention)");
}

// True once the static rules of C hold; a config that breaks one fails to compile here with the
// rule's message and numbers.
template <DecoderConfig C>
consteval bool decoder_rules_hold() {
  decoder_family_rules<C>(DecoderShape{2, 1, 1, 1, 1, 1, 1, 1, true, 1e-5f, 1e4f});
  return true;
}
}  // namespace detail

// Checks a config against the run-time shape of a checkpoint: the family's rules for dynamic
// fields, and every static field equal to the shape's value (forma::shape_error otherwise).
template <DecoderConfig C>
void decoder_config_rules(const DecoderShape& shape) {
  detail::decoder_family_rules<C>(shape);
  contract::require_same_unless_dyn(C.dim, shape.dim,
      "DecoderConfig: the shape's dim differs from the config's");
  contract::require_same_unless_dyn(C.hidden, shape.hidden,
      "DecoderConfig: the shape's hidden differs from the config's");
  contract::require_same_unless_dyn(C.layers, shape.layers,
      "DecoderConfig: the shape's layers differ from the config's");
  contract::require_same_unless_dyn(C.heads, shape.heads,
      "DecoderConfig: the shape's heads differ from the config's");
  contract::require_same_unless_dyn(C.kv_heads, shape.kv_heads,
      "DecoderConfig: the shape's kv_heads differ from the config's");
  contract::require_same_unless_dyn(C.vocab, shape.vocab,
      "DecoderConfig: the shape's vocab differs from the config's");
  contract::require_same_unless_dyn(C.max_seq, shape.max_seq,
      "DecoderConfig: the shape's max_seq differs from the config's");
  if constexpr (C.learned_positions()) {
    contract::require_same_unless_dyn(C.positions, shape.positions,
        "DecoderConfig: the shape's position rows differ from the config's");
  }
  const auto same_value = [](float field, float value, const char* what) {
    if (field != from_checkpoint && field != value) {
      contract::fail_shape(std::string("DecoderConfig: the shape's ") + what + " (" +
                           std::to_string(value) + ") differs from the config's (" +
                           std::to_string(field) + ")");
    }
  };
  same_value(C.norm_eps, shape.norm_eps, "norm_eps");
  if (!(shape.norm_eps > 0.0f)) {
    contract::fail_shape("DecoderConfig: norm_eps must be positive, it is " +
                         std::to_string(shape.norm_eps));
  }
  if constexpr (!C.learned_positions()) {
    same_value(C.rope_theta, shape.rope_theta, "rope_theta");
    if (!(shape.rope_theta > 0.0f)) {
      contract::fail_shape("DecoderConfig: rope_theta must be positive, it is " +
                           std::to_string(shape.rope_theta));
    }
  }
}

}  // namespace forma
