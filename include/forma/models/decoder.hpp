// forma/models/decoder.hpp — the one decoder-only transformer: Llama, GPT-2 and Qwen2 are configs.
//
//   constexpr auto config = forma::gpt2_decoder({.dim = 768, .layers = 12, .heads = 12,
//                                                .vocab = 50257, .max_seq = 1024});
//   forma::Decoder<config> model(weights);        // DecoderWeights<config>: typed views
//   auto logits = model.forward(token, position);  // Result<VectorView<const float, 50257>>
//   auto last = model.prefill(tokens, 0, all);     // a prompt as matrix products, chunk by chunk
//
// The forward pass: token embedding (+ the learned position row for GPT-2) → N ×
// nn::TransformerBlock (x += attention(norm(x)); x += feed_forward(norm(x))) → final norm →
// classifier (tied to the embedding or separate). Every buffer is sized when the model is built
// (at compile time for a static config), so decoding a token allocates nothing. `prefill` runs
// the same blocks on PrefillChunk rows at a time and gives the same logits as decoding token by
// token, bit for bit (the kernels reduce each output in the same order whatever the rows). A
// config with dyn fields runs any checkpoint of its family, with the same results.
// Sum: forma::fast_sum_t (SIMD partial sums) or forma::ordered_sum_t (left to right: llama2.c's
// run.c arithmetic, bit for bit).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "forma/core/contract.hpp"
#include "forma/core/error.hpp"
#include "forma/core/extents.hpp"
#include "forma/core/summation.hpp"
#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/models/decoder_config.hpp"
#include "forma/models/decoder_weights.hpp"
#include "forma/nn/embedding.hpp"
#include "forma/nn/kv_cache.hpp"
#include "forma/nn/linear.hpp"
#include "forma/nn/norm.hpp"
#include "forma/nn/transformer_block.hpp"
#include "forma/ops/matmul.hpp"

namespace forma {

template <DecoderConfig C, std::size_t PrefillChunk = 32, summation Sum = fast_sum_t>
class Decoder {
  static_assert(detail::decoder_rules_hold<C>(),
                "Decoder: the config breaks a rule of its family (the error above names it)");
  static_assert(PrefillChunk > 0, "Decoder: PrefillChunk must be positive");

 public:
  static constexpr DecoderConfig config = C;
  static constexpr nn::TransformerConfig block_config = C.block();
  static constexpr std::size_t prefill_chunk = PrefillChunk;
  static constexpr std::size_t dim = C.dim, hidden = C.hidden, heads = C.heads,
                               kv_heads = C.kv_heads, head_dim = C.head_dim(), vocab = C.vocab,
                               max_seq = C.max_seq, layers = C.layers, kv_dim = C.kv_dim();

  using weights_type = DecoderWeights<C>;
  using block_type = nn::TransformerBlock<block_config>;
  using norm_type = typename block_type::norm_type;
  using logits_view = TensorView<const float, extents<vocab>>;
  // The cache holds `context` positions (max_seq unless asked for fewer), so its capacity is a
  // run-time extent even for a static config.
  using cache_type = KVCache<layers, dyn, kv_heads, head_dim>;

  // Checks the config's rules against the weights' run-time shape (at compile time for the
  // static fields), builds the blocks and allocates every buffer once. `context` (0 = max_seq)
  // caps the positions the model will run — and so the KV cache it allocates.
  explicit Decoder(const weights_type& weights, std::size_t context = 0)
      : shape_(checked_shape(weights)),
        context_(checked_context(shape_, context)),
        embedding_(weights.token_embedding),
        positions_(make_positions(weights)),
        blocks_(make_blocks(weights, shape_)),
        final_norm_(make_norm(weights.final_norm, weights.final_norm_bias, shape_.norm_eps)),
        classifier_(weights.classifier),
        cache_(nn::detail::make_extents<typename cache_type::extents_type>(
            shape_.layers, context_, shape_.kv_heads, shape_.head_dim())),
        decode_scratch_(scratch_shape(shape_, context_), 1),
        prefill_scratch_(scratch_shape(shape_, context_), PrefillChunk),
        x_(nn::detail::make_extents<extents<dim>>(shape_.dim)),
        normed_(nn::detail::make_extents<extents<dim>>(shape_.dim)),
        logits_(nn::detail::make_extents<extents<vocab>>(shape_.vocab)),
        chunk_x_(nn::detail::make_extents<extents<PrefillChunk, dim>>(PrefillChunk, shape_.dim)),
        chunk_normed_(
            nn::detail::make_extents<extents<PrefillChunk, dim>>(PrefillChunk, shape_.dim)) {
    reserve_matmul_workspace();  // so that not even the first prefill allocates
  }

  // A decoder owns views into its weights' memory and buffers sized for them: not copyable.
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
  Decoder(Decoder&&) noexcept = default;
  Decoder& operator=(Decoder&&) noexcept = default;

  const DecoderShape& decoder_shape() const noexcept { return shape_; }
  std::size_t vocab_size() const noexcept { return shape_.vocab; }
  // The positions this model runs: max_seq, or the smaller context it was built with.
  std::size_t max_sequence() const noexcept { return context_; }
  // Positions whose keys and values are cached (the next position forward() may take).
  std::size_t cached_positions() const noexcept { return cache_.length(); }
  const std::vector<block_type>& blocks() const noexcept { return blocks_; }

  // The logits for `token` at `position`. Positions 0..position−1 must have been run before
  // (a smaller position rewinds the cache: generation can restart at any earlier point).
  Result<logits_view> forward(std::int32_t token, std::size_t position) {
    if (auto ready = begin_positions(position, 1); !ready) return std::move(ready).error();
    if (auto embedded = embed(token, position); !embedded) {
      cache_.truncate(position).value();
      return std::move(embedded).error();
    }
    for (std::size_t l = 0; l < blocks_.size(); ++l) {
      // The positions are reserved and the shapes were checked when the model was built.
      blocks_[l].forward(x_, position, cache_, l, decode_scratch_, Sum{}).value();
    }
    final_norm_.forward(x_, normed_);
    classifier_.forward(normed_, logits_, Sum{});
    return logits_.view().as_const();
  }

  // Runs tokens at positions [position, position + tokens.size()) as batched matrix products and
  // returns the logits of the last one. With `all_logits` (one row per token), every position's
  // logits are written there too.
  Result<logits_view> prefill(std::span<const std::int32_t> tokens, std::size_t position,
                              TensorView<float, extents<dyn, vocab>> all_logits = {}) {
    if (tokens.empty()) {
      return make_error(errc::invalid_argument, "prefill: no tokens to run");
    }
    if (all_logits.data() != nullptr && all_logits.extent(0) != tokens.size()) {
      return make_error(errc::invalid_argument,
                        "prefill: all_logits needs one row per token (" +
                            std::to_string(tokens.size()) + "), it has " +
                            std::to_string(all_logits.extent(0)));
    }
    if (all_logits.data() != nullptr && all_logits.extent(1) != shape_.vocab) {
      return make_error(errc::invalid_argument,
                        "prefill: all_logits needs one column per vocabulary entry (" +
                            std::to_string(shape_.vocab) + "), it has " +
                            std::to_string(all_logits.extent(1)));
    }
    if (auto ready = begin_positions(position, tokens.size()); !ready) {
      return std::move(ready).error();
    }
    for (std::size_t done = 0; done < tokens.size(); done += PrefillChunk) {
      const std::size_t count = std::min(PrefillChunk, tokens.size() - done);
      auto status = prefill_chunk_at(tokens.subspan(done, count), position + done,
                                     all_logits.data() == nullptr
                                         ? all_logits
                                         : slice(all_logits, done, count),
                                     done + count == tokens.size());
      if (!status) {
        cache_.truncate(position).value();
        return std::move(status).error();
      }
    }
    return logits_.view().as_const();
  }

  // Forgets every cached position (a new sequence starts at 0).
  void reset() noexcept { cache_.clear(); }

 private:
  static constexpr bool learned = C.learned_positions();
  using position_type =
      std::conditional_t<learned, nn::PositionEmbedding<weights_type::position_rows, dim>,
                         std::nullptr_t>;

  static DecoderShape checked_shape(const weights_type& w) {
    decoder_config_rules<C>(w.shape);
    contract::require_same(w.layers.size(), w.shape.layers,
                           "Decoder: the weights hold another number of layers than their shape");
    return w.shape;
  }
  static std::size_t checked_context(const DecoderShape& shape, std::size_t context) {
    if (context == 0) return shape.max_seq;
    contract::require_less(context, shape.max_seq + 1,
                           "Decoder: the context exceeds max_seq (context <= max_seq fails)");
    return context;
  }

  // The blocks' working memory holds scores for the positions the model runs (its context), not
  // for every position a checkpoint's header allows (a static max_seq is the type's own size).
  static nn::TransformerShape scratch_shape(const DecoderShape& shape, std::size_t context) {
    nn::TransformerShape s = shape.block();
    if constexpr (C.max_seq == dyn) s.max_seq = context;
    return s;
  }

  static position_type make_positions(const weights_type& w) {
    if constexpr (learned) {
      return position_type(w.position_embedding);
    } else {
      (void)w;
      return nullptr;
    }
  }

  template <class W, class B>
  static norm_type make_norm(const W& weight, const B& bias, float eps) {
    if constexpr (C.norm() == nn::norm_kind::layer) {
      return norm_type(weight, bias, eps);
    } else {
      (void)bias;
      return norm_type(weight, eps);
    }
  }

  static block_type make_block(const DecoderLayerWeights<C>& w, const DecoderShape& shape) {
    const nn::TransformerShape s = shape.block();
    using A = typename block_type::attention_type;
    using F = typename block_type::feed_forward_type;
    using QP = typename A::query_projection;
    using KP = typename A::kv_projection;
    using OP = typename A::output_projection;
    const auto attention = [&] {
      const auto projections = [&]() {
        if constexpr (block_config.bias) {
          return std::tuple{QP(w.wq, w.bq), KP(w.wk, w.bk), KP(w.wv, w.bv)};
        } else {
          return std::tuple{QP(w.wq), KP(w.wk), KP(w.wv)};
        }
      }();
      const auto output = [&] {
        if constexpr (block_config.out_bias) {
          return OP(w.wo, w.bo);
        } else {
          return OP(w.wo);
        }
      }();
      return A(std::get<0>(projections), std::get<1>(projections), std::get<2>(projections),
               output, s, block_config.uses_rope() ? shape.rope_theta : block_config.rope_theta);
    }();
    const auto feed_forward = [&] {
      if constexpr (block_config.ffn == nn::ffn_kind::swiglu) {
        return F(w.w1, w.w2, w.w3);
      } else {
        return F(w.w1, w.b1, w.w2, w.b2);
      }
    }();
    return block_type(make_norm(w.attn_norm, w.attn_norm_bias, shape.norm_eps), attention,
                      make_norm(w.ffn_norm, w.ffn_norm_bias, shape.norm_eps), feed_forward);
  }

  static std::vector<block_type> make_blocks(const weights_type& w, const DecoderShape& shape) {
    std::vector<block_type> blocks;
    blocks.reserve(w.layers.size());
    for (const auto& layer : w.layers) blocks.push_back(make_block(layer, shape));
    return blocks;
  }

  // x_ = embedding[token] (+ position row).
  Result<void> embed(std::int32_t token, std::size_t position) {
    if (auto embedded = embedding_.forward(token, x_); !embedded) return embedded;
    if constexpr (learned) return positions_.forward(position, x_);
    else (void)position;
    return {};
  }

  // Makes positions [position, position + count) the next ones: position must not skip ahead of
  // the cache, and the last one must fit in the context.
  Result<void> begin_positions(std::size_t position, std::size_t count) {
    if (position > cache_.length()) {
      return make_error(errc::out_of_range,
                        std::string(family_name(C.family)) + ": position " +
                            std::to_string(position) + " skips ahead of the " +
                            std::to_string(cache_.length()) + " cached positions");
    }
    if (position + count > context_) {
      Error error = make_error(
          errc::capacity, std::string(family_name(C.family)) + ": position " +
                              std::to_string(position + count - 1) +
                              (context_ == shape_.max_seq ? " is past max_seq "
                                                          : " is past the context of ") +
                              std::to_string(context_));
      error.expected = "< " + std::to_string(context_);
      error.found = std::to_string(position + count - 1);
      return error;
    }
    cache_.truncate(position).value();
    for (std::size_t i = 0; i < count; ++i) cache_.append().value();
    return {};
  }

  Result<void> prefill_chunk_at(std::span<const std::int32_t> tokens, std::size_t position,
                                TensorView<float, extents<dyn, vocab>> all_logits, bool last) {
    const std::size_t n = tokens.size();
    auto x = slice(chunk_x_.view(), 0, n);
    if (auto embedded = embedding_.forward(tokens, x); !embedded) return embedded;
    if constexpr (learned) {
      if (auto placed = positions_.forward(position, x); !placed) return placed;
    }
    for (std::size_t l = 0; l < blocks_.size(); ++l) {
      blocks_[l].forward(x, position, cache_, l, prefill_scratch_, Sum{}).value();
    }
    if (all_logits.data() != nullptr) {
      auto normed = slice(chunk_normed_.view(), 0, n);
      final_norm_.forward(x, normed);
      matmul_nt(normed, classifier_.weight(), all_logits, Sum{});
    }
    if (last && all_logits.data() != nullptr) {
      // The last row is already there: the returned logits are all_logits' last row.
      const float* row = all_logits.data() + (n - 1) * all_logits.extent(1);
      std::copy(row, row + all_logits.extent(1), logits_.data());
    } else if (last) {
      final_norm_.forward(x[n - 1], normed_);
      classifier_.forward(normed_, logits_, Sum{});
    }
    return {};
  }

  DecoderShape shape_;
  std::size_t context_;
  nn::Embedding<vocab, dim> embedding_;
  [[no_unique_address]] position_type positions_;
  std::vector<block_type> blocks_;
  norm_type final_norm_;
  nn::Linear<dim, vocab> classifier_;
  cache_type cache_;
  nn::BlockScratch<block_config, 1> decode_scratch_;
  nn::BlockScratch<block_config, PrefillChunk> prefill_scratch_;
  // Decode state: one position.
  Tensor<float, extents<dim>> x_, normed_;
  Tensor<float, extents<vocab>> logits_;
  // Prefill state: up to PrefillChunk positions.
  Tensor<float, extents<PrefillChunk, dim>> chunk_x_, chunk_normed_;
};

}  // namespace forma
