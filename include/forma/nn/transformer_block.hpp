// forma/nn/transformer_block.hpp — one pre-norm transformer block, Llama or GPT-2 family.
//
//   TransformerBlock<C>:  attention_norm, Attention<C>, ffn_norm, FeedForward<C>
//   forward:              x (T, D) or (D) — the residual stream at positions p .. p+T−1, updated
//                         in place —, a KV cache with those positions reserved, the layer index,
//                         a BlockScratch
//       x += attention(norm(x));  x += feed_forward(norm(x))
// Llama (llama_block_config): RMSNorm, RoPE, GQA, SwiGLU, no biases — from_llama() builds layer l
// from the per-layer slices of a LlamaWeights (w.wq[l], ...), computing what llama2.c's run.c
// computes. GPT-2 (gpt2_block_config): LayerNorm, learned positions (added to the input by a
// PositionEmbedding), multi-head attention and a GELU MLP with biases.
// A BlockScratch sized once (at compile time for a static config) holds every intermediate, so
// forward allocates nothing; rows beyond the scratch's are processed in chunks (a prefill longer
// than the scratch gives the same results as one chunk).
#pragma once

#include <cstddef>
#include <type_traits>

#include "forma/core/contract.hpp"
#include "forma/core/error.hpp"
#include "forma/core/summation.hpp"
#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/nn/attention.hpp"
#include "forma/nn/config.hpp"
#include "forma/nn/feed_forward.hpp"
#include "forma/nn/kv_cache.hpp"
#include "forma/nn/linear.hpp"
#include "forma/nn/norm.hpp"
#include "forma/ops/residual.hpp"

namespace forma::nn {

// The working memory of TransformerBlock<C> for up to Rows positions per chunk (Rows may be dyn).
template <TransformerConfig C, std::size_t Rows = 1>
class BlockScratch {
 public:
  static constexpr std::size_t rows_extent = Rows;

  BlockScratch()
    requires(C.is_static() && Rows != dyn)
      : BlockScratch(static_shape<C>(), Rows) {}
  explicit BlockScratch(const TransformerShape& shape, std::size_t rows = Rows)
      : attention_(shape, rows),
        feed_forward_(shape.hidden, rows),
        normed_(detail::make_extents<extents<Rows, C.dim>>(rows, shape.dim)),
        branch_(detail::make_extents<extents<Rows, C.dim>>(rows, shape.dim)) {}

  std::size_t rows() const noexcept { return normed_.extent(0); }
  AttentionScratch<C, Rows>& attention() noexcept { return attention_; }
  FeedForwardScratch<C.hidden, Rows>& feed_forward() noexcept { return feed_forward_; }
  auto normed() noexcept { return normed_.view(); }
  auto branch() noexcept { return branch_.view(); }

 private:
  AttentionScratch<C, Rows> attention_;
  FeedForwardScratch<C.hidden, Rows> feed_forward_;
  Tensor<float, extents<Rows, C.dim>> normed_;  // norm(x)
  Tensor<float, extents<Rows, C.dim>> branch_;  // attention(...) or feed_forward(...)
};

template <TransformerConfig C>
class TransformerBlock {
  static_assert(detail::config_rules_hold<C>(),
                "TransformerBlock: the config breaks a shape rule (the error above names it)");

 public:
  static constexpr TransformerConfig config = C;
  static constexpr std::size_t dim = C.dim, hidden = C.hidden;
  using norm_type = std::conditional_t<C.norm == norm_kind::rms, RMSNorm<C.dim>, LayerNorm<C.dim>>;
  using attention_type = Attention<C>;
  using feed_forward_type = FeedForward<C>;

  TransformerBlock(norm_type attention_norm, attention_type attention, norm_type ffn_norm,
                   feed_forward_type feed_forward)
      : attention_norm_(attention_norm),
        attention_(attention),
        ffn_norm_(ffn_norm),
        feed_forward_(feed_forward) {
    const TransformerShape& s = attention_.shape();
    contract::require_same(attention_norm_.width(), s.dim,
                           "TransformerBlock: the attention norm's width differs from dim");
    contract::require_same(ffn_norm_.width(), s.dim,
                           "TransformerBlock: the feed-forward norm's width differs from dim");
    contract::require_same(feed_forward_.dim(), s.dim,
                           "TransformerBlock: the feed-forward's width differs from dim");
    contract::require_same(feed_forward_.hidden(), s.hidden,
                           "TransformerBlock: the feed-forward's hidden width differs from the "
                           "config's");
  }

  // Layer `layer` of a Llama model from its weights (forma::LlamaWeights: rms_att, wq, wk, wv, wo,
  // rms_ffn, w1, w2, w3 with the layer as first axis, and `shape`). C must be a Llama block config
  // of the same model, e.g. llama_block_config(model_config).
  template <class LlamaWeights>
  static TransformerBlock from_llama(const LlamaWeights& w, std::size_t layer) {
    static_assert(C.norm == norm_kind::rms && C.ffn == ffn_kind::swiglu && !C.bias && !C.out_bias &&
                      C.position != position_kind::learned,
                  "TransformerBlock::from_llama: the config is not a Llama block (build it with "
                  "llama_block_config)");
    const TransformerShape shape{w.shape.dim,    w.shape.hidden,   w.shape.layers,
                                 w.shape.heads,  w.shape.kv_heads, w.shape.max_seq};
    contract::require_less(layer, shape.layers,
                           "TransformerBlock::from_llama: the layer index is past the layers");
    using A = attention_type;
    return TransformerBlock(
        norm_type(w.rms_att[layer], C.norm_eps),
        A(typename A::query_projection(w.wq[layer]), typename A::kv_projection(w.wk[layer]),
          typename A::kv_projection(w.wv[layer]), typename A::output_projection(w.wo[layer]), shape),
        norm_type(w.rms_ffn[layer], C.norm_eps),
        feed_forward_type(w.w1[layer], w.w2[layer], w.w3[layer]));
  }

  const TransformerShape& shape() const noexcept { return attention_.shape(); }
  const norm_type& attention_norm() const noexcept { return attention_norm_; }
  const attention_type& attention() const noexcept { return attention_; }
  const norm_type& ffn_norm() const noexcept { return ffn_norm_; }
  const feed_forward_type& feed_forward() const noexcept { return feed_forward_; }

  // forward(x, position, cache, layer, scratch): x += attention(norm(x)); x += ffn(norm(x)).
  // Fails (as an Error, before touching x or the cache) when the positions are not reserved.
  template <class X, std::size_t L, std::size_t S, std::size_t KVH, std::size_t Dh,
            std::size_t Rows, summation Sum = fast_sum_t>
    requires(writable_tensor<std::remove_cvref_t<X>> &&
             (std::remove_cvref_t<X>::extents_type::rank() == 1 ||
              std::remove_cvref_t<X>::extents_type::rank() == 2))
  Result<void> forward(X&& x, std::size_t position, KVCache<L, S, KVH, Dh>& cache,
                       std::size_t layer, BlockScratch<C, Rows>& scratch, Sum = {}) const {
    using XT = std::remove_cvref_t<X>;
    FORMA_RULE_SAME_EXTENT("TransformerBlock: the input width differs from the model width (x "
                           "is (T, D))",
                           detail::last_static_v<XT>, dim, detail::last_extent(x), shape().dim);
    attention_.check_cache(cache);
    if constexpr (rules::same_extent<detail::last_static_v<XT>, dim>) {
      auto stream = detail::as_rows(x);
      const std::size_t count = stream.extent(0);
      contract::require_less(layer, shape().layers,
                             "TransformerBlock: the layer index is past the layers (layer < layers fails)");
      if (auto reserved =
              detail::check_reserved("TransformerBlock", position, count, cache.length());
          !reserved) {
        return reserved;
      }
      for (std::size_t done = 0; done < count; done += scratch.rows()) {
        const std::size_t n = count - done < scratch.rows() ? count - done : scratch.rows();
        auto rows = slice(stream, done, n);
        auto normed = slice(scratch.normed(), 0, n);
        auto branch = slice(scratch.branch(), 0, n);
        attention_norm_.forward(rows, normed);
        attention_.forward_chunk(normed, position + done, cache, layer, scratch.attention(),
                                 branch, Sum{});
        residual_add(rows, branch);
        ffn_norm_.forward(rows, normed);
        feed_forward_.forward(normed, branch, scratch.feed_forward(), Sum{});
        residual_add(rows, branch);
      }
    }
    return {};
  }

 private:
  norm_type attention_norm_;
  attention_type attention_;
  norm_type ffn_norm_;
  feed_forward_type feed_forward_;
};

}  // namespace forma::nn
