// forma/nn/config.hpp — the shape of a transformer block as a value usable as a template argument.
//
//   constexpr nn::TransformerConfig tiny{.dim = 64, .hidden = 172, .layers = 5, .heads = 8,
//                                        .kv_heads = 4, .max_seq = 512};      // Llama-style
//   nn::TransformerBlock<tiny> block(...);
// Any extent may be forma::dyn; blocks then take a TransformerShape with the run-time values.
// The family is chosen by the other fields: Llama is pre-RMSNorm, RoPE (interleaved pairs),
// grouped-query attention, a SwiGLU feed-forward and no biases; GPT-2 is pre-LayerNorm, learned
// positions (added to the input by the caller), a GELU MLP and biases everywhere
// (llama_block_config / gpt2_block_config build both); Qwen2 is Llama with biases on q, k and v
// (`bias` without `out_bias`).
// The rules — heads divide dim, kv_heads divide heads, head_dim even when RoPE is used — are
// checked by the compiler for static fields (printing the numbers) and at run time for dynamic
// ones (transformer_config_rules).
#pragma once

#include <cstddef>

#include "forma/core/contract.hpp"
#include "forma/core/extents.hpp"
#include "forma/core/shape_rules.hpp"

namespace forma::nn {

enum class norm_kind : unsigned char { rms, layer };
enum class ffn_kind : unsigned char { swiglu, gelu_tanh, gelu_erf };
// rope_interleaved: pairs (x[2i], x[2i+1]) as Meta and llama2.c; rope_half: pairs (x[i],
// x[i + head_dim/2]) as Hugging Face; learned: the attention adds no position (GPT-2 adds learned
// position embeddings to its input).
enum class position_kind : unsigned char { rope_interleaved, rope_half, learned };

struct TransformerConfig {
  std::size_t dim = dyn;       // model width D
  std::size_t hidden = dyn;    // feed-forward width
  std::size_t layers = dyn;    // blocks in the model (the KV cache holds one slab per layer)
  std::size_t heads = dyn;     // query heads H
  std::size_t kv_heads = dyn;  // key/value heads KVH (GQA when < H, MQA when 1)
  std::size_t max_seq = dyn;   // longest sequence S (the KV cache's capacity)
  norm_kind norm = norm_kind::rms;
  ffn_kind ffn = ffn_kind::swiglu;
  position_kind position = position_kind::rope_interleaved;
  bool bias = false;           // biases on q, k and v (GPT-2, Qwen2)
  bool out_bias = false;       // a bias on the attention's output projection (GPT-2)
  float norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  std::size_t flash_block = 0;  // 0: plain attention; > 0: tiled flash attention in tiles of this

  constexpr std::size_t head_dim() const noexcept {
    return dim == dyn || heads == dyn ? dyn : dim / heads;
  }
  constexpr std::size_t kv_dim() const noexcept {
    return head_dim() == dyn || kv_heads == dyn ? dyn : kv_heads * head_dim();
  }
  constexpr bool uses_rope() const noexcept { return position != position_kind::learned; }
  constexpr bool is_static() const noexcept {
    return dim != dyn && hidden != dyn && layers != dyn && heads != dyn && kv_heads != dyn &&
           max_seq != dyn;
  }
};

// The run-time values of a config (every field concrete).
struct TransformerShape {
  std::size_t dim = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, max_seq = 0;

  constexpr std::size_t head_dim() const noexcept { return heads == 0 ? 0 : dim / heads; }
  constexpr std::size_t kv_dim() const noexcept { return kv_heads * head_dim(); }
};

// The run-time shape of a fully static config.
template <TransformerConfig C>
  requires(C.is_static())
constexpr TransformerShape static_shape() noexcept {
  return {C.dim, C.hidden, C.layers, C.heads, C.kv_heads, C.max_seq};
}

// Checks a config's rules: by the compiler for its static fields, at run time (forma::shape_error)
// for the dynamic ones, against `shape`. Static fields must also equal the shape's values.
template <TransformerConfig C>
constexpr void transformer_config_rules(const TransformerShape& shape) {
  FORMA_RULE_DIVIDES("TransformerConfig: heads must divide dim (head_dim = dim / heads)", C.heads,
                     C.dim, shape.heads, shape.dim);
  FORMA_RULE_DIVIDES("TransformerConfig: kv_heads must divide heads (query heads per kv head)",
                     C.kv_heads, C.heads, shape.kv_heads, shape.heads);
  if constexpr (C.uses_rope()) {
    FORMA_RULE_DIVIDES("TransformerConfig: head_dim must be even for RoPE (it rotates pairs)",
                       std::size_t{2}, C.head_dim(), std::size_t{2}, shape.head_dim());
  }
  static_assert(C.flash_block == 0 || C.flash_block != dyn,
                "TransformerConfig: flash_block must be a number (0 for plain attention)");
  contract::require_same_unless_dyn(C.dim, shape.dim,
      "TransformerConfig: the shape's dim differs from the config's");
  contract::require_same_unless_dyn(C.hidden, shape.hidden,
      "TransformerConfig: the shape's hidden differs from the config's");
  contract::require_same_unless_dyn(C.layers, shape.layers,
      "TransformerConfig: the shape's layers differ from the config's");
  contract::require_same_unless_dyn(C.heads, shape.heads,
      "TransformerConfig: the shape's heads differ from the config's");
  contract::require_same_unless_dyn(C.kv_heads, shape.kv_heads,
      "TransformerConfig: the shape's kv_heads differ from the config's");
  contract::require_same_unless_dyn(C.max_seq, shape.max_seq,
      "TransformerConfig: the shape's max_seq differs from the config's");
}

namespace detail {
// True once the static rules of C hold; instantiating it with a config that breaks one prints
// that rule's message and numbers. (Dynamic fields are checked at run time, against a shape, by
// transformer_config_rules; the run-time halves here are given values that always pass.)
template <TransformerConfig C>
consteval bool config_rules_hold() {
  FORMA_RULE_DIVIDES("TransformerConfig: heads must divide dim (head_dim = dim / heads)", C.heads,
                     C.dim, std::size_t{1}, std::size_t{0});
  FORMA_RULE_DIVIDES("TransformerConfig: kv_heads must divide heads (query heads per kv head)",
                     C.kv_heads, C.heads, std::size_t{1}, std::size_t{0});
  if constexpr (C.uses_rope()) {
    FORMA_RULE_DIVIDES("TransformerConfig: head_dim must be even for RoPE (it rotates pairs)",
                       std::size_t{2}, C.head_dim(), std::size_t{1}, std::size_t{0});
  }
  return true;
}
}  // namespace detail

// The block config of a Llama-family model config: any struct with the fields of
// forma::LlamaConfig (dim, hidden, layers, heads, kv_heads, max_seq, norm_eps, rope_theta), e.g.
// llama_block_config(forma::presets::stories260k). Pre-RMSNorm, interleaved RoPE, SwiGLU, no bias.
template <class ModelConfig>
constexpr TransformerConfig llama_block_config(const ModelConfig& model,
                                               std::size_t flash_block = 0) noexcept {
  return {.dim = model.dim,
          .hidden = model.hidden,
          .layers = model.layers,
          .heads = model.heads,
          .kv_heads = model.kv_heads,
          .max_seq = model.max_seq,
          .norm = norm_kind::rms,
          .ffn = ffn_kind::swiglu,
          .position = position_kind::rope_interleaved,
          .bias = false,
          .norm_eps = model.norm_eps,
          .rope_theta = model.rope_theta,
          .flash_block = flash_block};
}

// A GPT-2 block config: pre-LayerNorm (eps 1e-5), learned positions, multi-head attention with
// biases, a GELU (tanh) MLP of width `hidden` (4·dim in GPT-2) with biases.
constexpr TransformerConfig gpt2_block_config(std::size_t dim, std::size_t heads,
                                              std::size_t layers, std::size_t max_seq,
                                              std::size_t hidden) noexcept {
  return {.dim = dim,
          .hidden = hidden,
          .layers = layers,
          .heads = heads,
          .kv_heads = heads,
          .max_seq = max_seq,
          .norm = norm_kind::layer,
          .ffn = ffn_kind::gelu_tanh,
          .position = position_kind::learned,
          .bias = true,
          .out_bias = true,
          .norm_eps = 1e-5f};
}

}  // namespace forma::nn
