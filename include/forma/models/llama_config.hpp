// forma/models/llama_config.hpp — a Llama-family model's shape as a value usable as a template
// argument.
//
//   using Stories = Llama<LlamaConfig{.dim = 64, .hidden = 172, .layers = 5, .heads = 8,
//                                     .kv_heads = 4, .vocab = 512, .max_seq = 512}>;
// Any field may be forma::dyn: that extent is then read from the checkpoint at run time and the
// same templates run with dynamic extents. The invariants (heads divide dim, kv_heads divide
// heads, even head_dim for RoPE) are compile-time facts of a static config, checked where the
// config is used (llama_config_rules), and run-time checks of a dynamic one.
#pragma once

#include <cstddef>
#include <string>

#include "forma/core/extents.hpp"
#include "forma/core/shape_rules.hpp"

namespace forma {

// Whether the output classifier shares the token-embedding matrix (llama2.c: positive vocab in the
// legacy header) or has its own weights.
enum class classifier_kind : unsigned char { shared, separate, any };

struct LlamaConfig {
  std::size_t dim = dyn;        // model width
  std::size_t hidden = dyn;     // feed-forward width
  std::size_t layers = dyn;     // transformer blocks
  std::size_t heads = dyn;      // query heads
  std::size_t kv_heads = dyn;   // key/value heads (GQA when < heads, MQA when 1)
  std::size_t vocab = dyn;      // vocabulary size
  std::size_t max_seq = dyn;    // longest sequence (KV cache capacity)
  float rope_theta = 10000.0f;  // RoPE base
  float norm_eps = 1e-5f;       // RMSNorm epsilon
  classifier_kind classifier = classifier_kind::any;

  // Per-head width: dim / heads (dyn if either is dynamic).
  constexpr std::size_t head_dim() const noexcept {
    return dim == dyn || heads == dyn ? dyn : dim / heads;
  }
  // Width of the keys and values: kv_heads × head_dim.
  constexpr std::size_t kv_dim() const noexcept {
    return head_dim() == dyn || kv_heads == dyn ? dyn : kv_heads * head_dim();
  }
  // Query heads per key/value head.
  constexpr std::size_t group_size() const noexcept {
    return heads == dyn || kv_heads == dyn ? dyn : heads / kv_heads;
  }
  constexpr bool is_static() const noexcept {
    return dim != dyn && hidden != dyn && layers != dyn && heads != dyn && kv_heads != dyn &&
           vocab != dyn && max_seq != dyn;
  }
};

// The run-time values of a config (every field concrete): read from a checkpoint header, or
// equal to the static config's fields.
struct LlamaShape {
  std::size_t dim = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, vocab = 0, max_seq = 0;
  bool shared_classifier = true;

  constexpr std::size_t head_dim() const noexcept { return heads == 0 ? 0 : dim / heads; }
  constexpr std::size_t kv_dim() const noexcept { return kv_heads * head_dim(); }
};

// Checks a config's invariants: at compile time for its static fields, at run time (throwing
// forma::shape_error) for the dynamic ones, given the run-time shape.
template <LlamaConfig C>
constexpr void llama_config_rules(const LlamaShape& shape) {
  FORMA_RULE_DIVIDES("LlamaConfig: heads must divide dim (head_dim = dim / heads)", C.heads, C.dim,
                     shape.heads, shape.dim);
  FORMA_RULE_DIVIDES("LlamaConfig: kv_heads must divide heads (query heads per kv head)",
                     C.kv_heads, C.heads, shape.kv_heads, shape.heads);
  FORMA_RULE_DIVIDES("LlamaConfig: head_dim must be even for RoPE (it rotates pairs)",
                     std::size_t{2}, C.head_dim(), std::size_t{2}, shape.head_dim());
}

// The run-time shape of a fully static config.
template <LlamaConfig C>
  requires(C.is_static())
constexpr LlamaShape static_shape() noexcept {
  return {C.dim, C.hidden, C.layers, C.heads, C.kv_heads, C.vocab, C.max_seq,
          C.classifier != classifier_kind::separate};
}

}  // namespace forma
