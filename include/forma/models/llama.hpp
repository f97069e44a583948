// forma/models/llama.hpp — a Llama-family transformer (llama2.c semantics), shape-typed.
//
//   using Stories = forma::Llama<forma::LlamaConfig{.dim = 64, .hidden = 172, .layers = 5,
//                                                   .heads = 8, .kv_heads = 4, .vocab = 512,
//                                                   .max_seq = 512}>;
//   Stories model(weights);                   // LlamaWeights<C>: views, e.g. of an mmapped file
//   auto logits = model.forward(token, pos);  // Result<VectorView<const float, 512>>
//
// The forward pass reads as llama2.c's run.c does: embed → for each layer (rmsnorm → q, k, v →
// RoPE → attention → residual → rmsnorm → SwiGLU → residual) → final rmsnorm → classifier. Every
// buffer is sized when the model is built (at compile time for a static config), so decoding a
// token allocates nothing. `prefill` runs a whole prompt as matrix products, chunk by chunk, and
// gives the same logits as decoding it token by token (bit for bit: the same kernels reduce in
// the same order). A config with dyn fields runs any checkpoint, with the same results.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "forma/core/contract.hpp"
#include "forma/core/error.hpp"
#include "forma/core/extents.hpp"
#include "forma/core/summation.hpp"
#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/models/llama_config.hpp"
#include "forma/models/llama_weights.hpp"
#include "forma/nn/kv_cache.hpp"
#include "forma/ops/activation.hpp"
#include "forma/ops/attention.hpp"
#include "forma/ops/elementwise.hpp"
#include "forma/ops/embedding.hpp"
#include "forma/ops/matmul.hpp"
#include "forma/ops/norm.hpp"
#include "forma/ops/rope.hpp"

namespace forma {

// PrefillChunk: how many prompt tokens one batched step processes (its buffers are sized for it).
// Sum: how the projections add their terms — forma::fast_sum_t (SIMD partial sums) or
// forma::ordered_sum_t (left to right: llama2.c's run.c arithmetic, bit for bit).
template <LlamaConfig C, std::size_t PrefillChunk = 32, summation Sum = fast_sum_t>
class Llama {
  static_assert(PrefillChunk > 0, "Llama: PrefillChunk must be positive");

 public:
  static constexpr LlamaConfig config = C;
  static constexpr std::size_t prefill_chunk = PrefillChunk;

  // The static extents of the model (dyn where the config leaves them to the checkpoint).
  static constexpr std::size_t dim = C.dim, hidden = C.hidden, heads = C.heads,
                               kv_heads = C.kv_heads, head_dim = C.head_dim(), vocab = C.vocab,
                               max_seq = C.max_seq, layers = C.layers, kv_dim = C.kv_dim();

  using weights_type = LlamaWeights<C>;
  using logits_view = TensorView<const float, extents<vocab>>;
  // The cache holds `context` positions (max_seq unless asked for fewer), so its capacity is a
  // run-time extent even for a static config.
  using cache_type = KVCache<layers, dyn, kv_heads, head_dim>;

  // Checks the config's invariants against the weights' run-time shape (at compile time for the
  // static fields) and allocates every buffer once. `context` (0 = max_seq) caps the positions
  // the model will run — and so the KV cache it allocates.
  explicit Llama(const weights_type& weights, std::size_t context = 0)
      : w_(weights),
        shape_(checked_shape(weights.shape)),
        context_(checked_context(shape_, context)),
        cache_(make<typename cache_type::extents_type>(shape_.layers, context_, shape_.kv_heads,
                                                       shape_.head_dim())),
        x_(make<extents<dim>>(shape_.dim)),
        xb_(make<extents<dim>>(shape_.dim)),
        xb2_(make<extents<dim>>(shape_.dim)),
        q_(make<extents<dim>>(shape_.dim)),
        hb_(make<extents<hidden>>(shape_.hidden)),
        hb2_(make<extents<hidden>>(shape_.hidden)),
        scores_(make<extents<heads, dyn>>(shape_.heads, context_)),
        logits_(make<extents<vocab>>(shape_.vocab)),
        chunk_x_(make<extents<PrefillChunk, dim>>(PrefillChunk, shape_.dim)),
        chunk_xb_(make<extents<PrefillChunk, dim>>(PrefillChunk, shape_.dim)),
        chunk_xb2_(make<extents<PrefillChunk, dim>>(PrefillChunk, shape_.dim)),
        chunk_q_(make<extents<PrefillChunk, dim>>(PrefillChunk, shape_.dim)),
        chunk_hb_(make<extents<PrefillChunk, hidden>>(PrefillChunk, shape_.hidden)),
        chunk_hb2_(make<extents<PrefillChunk, hidden>>(PrefillChunk, shape_.hidden)) {}

  const LlamaShape& shape() const noexcept { return shape_; }
  const weights_type& weights() const noexcept { return w_; }
  std::size_t vocab_size() const noexcept { return shape_.vocab; }
  // The positions this model runs: max_seq, or the smaller context it was built with.
  std::size_t max_sequence() const noexcept { return context_; }
  // Positions whose keys and values are cached (the next position forward() may take).
  std::size_t cached_positions() const noexcept { return cache_.length(); }

  // The logits for `token` at `position`. Positions 0..position−1 must have been run before
  // (a smaller position rewinds the cache: generation can restart at any earlier point).
  Result<logits_view> forward(std::int32_t token, std::size_t position) {
    if (auto ready = begin_positions(position, 1); !ready) return std::move(ready).error();
    if (auto embedded = embedding(w_.token_embedding, token, x_); !embedded) {
      cache_.truncate(position).value();
      return std::move(embedded).error();
    }
    for (std::size_t l = 0; l < shape_.layers; ++l) {
      // Attention: rmsnorm → q, k, v → RoPE → attention over the cache → output projection.
      rmsnorm(x_, w_.rms_att[l], xb_, C.norm_eps);
      auto key = cache_.keys(l)[position];      // (kv_heads, head_dim), written in place
      auto value = cache_.values(l)[position];
      matvec(w_.wq[l], xb_, q_, Sum{});
      matvec(w_.wk[l], xb_, flatten(key), Sum{});
      matvec(w_.wv[l], xb_, flatten(value), Sum{});
      rope(as_heads(q_), position, C.rope_theta);
      rope(key, position, C.rope_theta);
      attention(as_heads(q_), cache_.keys(l), cache_.values(l), position + 1, scores_,
                as_heads(xb_));
      matvec(w_.wo[l], xb_, xb2_, Sum{});
      x_ += xb2_;
      // Feed-forward: rmsnorm → SwiGLU(w1 x, w3 x) → w2 → residual.
      rmsnorm(x_, w_.rms_ffn[l], xb_, C.norm_eps);
      matvec(w_.w1[l], xb_, hb_, Sum{});
      matvec(w_.w3[l], xb_, hb2_, Sum{});
      swiglu(hb_, hb2_, hb_);
      matvec(w_.w2[l], hb_, xb_, Sum{});
      x_ += xb_;
    }
    rmsnorm(x_, w_.rms_final, x_, C.norm_eps);
    matvec(w_.classifier, x_, logits_, Sum{});
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
  template <class E, class... Sizes>
  static E make(Sizes... sizes) {
    return E(std::array<std::size_t, E::rank()>{static_cast<std::size_t>(sizes)...});
  }

  static LlamaShape checked_shape(const LlamaShape& shape) {
    llama_config_rules<C>(shape);
    return shape;
  }
  static std::size_t checked_context(const LlamaShape& shape, std::size_t context) {
    if (context == 0) return shape.max_seq;
    contract::require_less(context, shape.max_seq + 1, "llama: the context exceeds max_seq (context <= max_seq fails)");
    return context;
  }

  // (dim) seen as (heads, head_dim).
  template <class V>
  auto as_heads(V&& v) const {
    return reshape(v, extents<heads, head_dim>(std::array<std::size_t, 2>{shape_.heads, shape_.head_dim()}));
  }
  // (T, dim) seen as (T, heads, head_dim).
  template <class V>
  auto as_heads_rows(V&& v, std::size_t rows) const {
    return reshape(v, extents<dyn, heads, head_dim>(
                          std::array<std::size_t, 3>{rows, shape_.heads, shape_.head_dim()}));
  }

  // Makes positions [position, position + count) the next ones: position must not skip ahead of
  // the cache, and the last one must fit in max_seq.
  Result<void> begin_positions(std::size_t position, std::size_t count) {
    if (position > cache_.length()) {
      return make_error(errc::out_of_range,
                        "llama: position " + std::to_string(position) + " skips ahead of the " +
                            std::to_string(cache_.length()) + " cached positions");
    }
    if (position + count > context_) {
      Error error = make_error(errc::capacity, "llama: position " +
                                                   std::to_string(position + count - 1) +
                                                   (context_ == shape_.max_seq ? " is past max_seq " : " is past the context of ") +
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
    auto x = slice(chunk_x_, 0, n);
    auto xb = slice(chunk_xb_, 0, n);
    auto xb2 = slice(chunk_xb2_, 0, n);
    auto q = slice(chunk_q_, 0, n);
    auto hb = slice(chunk_hb_, 0, n);
    auto hb2 = slice(chunk_hb2_, 0, n);
    if (auto embedded = embedding(w_.token_embedding, tokens, x); !embedded) return embedded;
    for (std::size_t l = 0; l < shape_.layers; ++l) {
      rmsnorm(x, w_.rms_att[l], xb, C.norm_eps);
      auto keys = slice(cache_.keys(l), position, n);  // (n, kv_heads, head_dim)
      auto values = slice(cache_.values(l), position, n);
      const extents<dyn, kv_dim> kv_rows(std::array<std::size_t, 2>{n, shape_.kv_dim()});
      matmul_nt(xb, w_.wq[l], q, Sum{});
      matmul_nt(xb, w_.wk[l], reshape(keys, kv_rows), Sum{});
      matmul_nt(xb, w_.wv[l], reshape(values, kv_rows), Sum{});
      rope(as_heads_rows(q, n), position, C.rope_theta);
      rope(keys, position, C.rope_theta);
      attention(as_heads_rows(q, n), cache_.keys(l), cache_.values(l), position + n, scores_,
                as_heads_rows(xb, n));
      matmul_nt(xb, w_.wo[l], xb2, Sum{});
      x += xb2;
      rmsnorm(x, w_.rms_ffn[l], xb, C.norm_eps);
      matmul_nt(xb, w_.w1[l], hb, Sum{});
      matmul_nt(xb, w_.w3[l], hb2, Sum{});
      swiglu(hb, hb2, hb);
      matmul_nt(hb, w_.w2[l], xb, Sum{});
      x += xb;
    }
    if (all_logits.data() != nullptr) {
      rmsnorm(x, w_.rms_final, xb, C.norm_eps);
      matmul_nt(xb, w_.classifier, all_logits, Sum{});
    }
    if (last) {
      rmsnorm(x[n - 1], w_.rms_final, x_, C.norm_eps);
      matvec(w_.classifier, x_, logits_, Sum{});
    }
    return {};
  }

  weights_type w_;
  LlamaShape shape_;
  std::size_t context_;
  cache_type cache_;
  // Decode state: one position.
  Tensor<float, extents<dim>> x_, xb_, xb2_, q_;
  Tensor<float, extents<hidden>> hb_, hb2_;
  Tensor<float, extents<heads, dyn>> scores_;
  Tensor<float, extents<vocab>> logits_;
  // Prefill state: up to PrefillChunk positions.
  Tensor<float, extents<PrefillChunk, dim>> chunk_x_, chunk_xb_, chunk_xb2_, chunk_q_;
  Tensor<float, extents<PrefillChunk, hidden>> chunk_hb_, chunk_hb2_;
};

}  // namespace forma
