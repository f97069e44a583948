// forma/nn/attention.hpp — causal self-attention (MHA, GQA, MQA) holding views of its weights.
//
//   Attention<C>:  wq (D, D), wk (KVD, D), wv (KVD, D), wo (D, D)    KVD = kv_heads · head_dim
//                  + with C.bias: bq (D), bk (KVD), bv (KVD); with C.out_bias: bo (D)
//   forward:       x (T, D) or (D) — the normalized inputs at positions p .. p+T−1 —,
//                  a KVCache<layers, S ≤ max_seq, kv_heads, head_dim> with those positions
//                  reserved (cache.append), the layer's index, scratch   => out (T, D) or (D)
// q = wq·x, k = wk·x, v = wv·x (k and v are written into the cache at positions p .. p+T−1),
// RoPE on q and k when C uses it, then each query attends causally to the cache's positions up to
// its own (the T = 1 decode step and the T > 1 prefill are one code path), out = wo·attention.
// With C.flash_block > 0 the attention runs tiled (forma::flash_attention), never holding scores
// for more than one tile. Rows are processed in chunks of the scratch's rows; nothing allocates.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <type_traits>

#include "forma/core/contract.hpp"
#include "forma/core/error.hpp"
#include "forma/core/summation.hpp"
#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/nn/config.hpp"
#include "forma/nn/kv_cache.hpp"
#include "forma/nn/linear.hpp"
#include "forma/ops/attention.hpp"
#include "forma/ops/flash_attention.hpp"
#include "forma/ops/rope.hpp"

namespace forma::nn {

namespace detail {
struct no_flash {};

template <TransformerConfig C>
using flash_scratch_t =
    std::conditional_t<(C.flash_block > 0), FlashScratch<(C.flash_block > 0 ? C.flash_block : 1)>,
                       no_flash>;

// Positions [position, position + count) must have been reserved in the cache.
inline Result<void> check_reserved(std::string_view owner, std::size_t position, std::size_t count,
                                   std::size_t length) {
  if (position > length || count > length - position) {
    Error error = make_error(errc::out_of_range,
                             std::string(owner) + ": positions " + std::to_string(position) +
                                 ".." + std::to_string(position + count - 1) +
                                 " are not reserved in the kv cache (length " +
                                 std::to_string(length) + "); append them first");
    error.expected = "<= " + std::to_string(length);
    error.found = std::to_string(position + count);
    return error;
  }
  return {};
}
}  // namespace detail

// The working memory of Attention<C> for up to Rows positions per chunk (Rows may be dyn):
// q and the attention's result (Rows, D), and the scores (H, S) or the flash tiles.
template <TransformerConfig C, std::size_t Rows = 1>
class AttentionScratch {
  // (H, S) for the plain path; empty for the flash path, which needs none.
  using scores_extents = std::conditional_t<(C.flash_block > 0), extents<dyn, dyn>,
                                            extents<C.heads, C.max_seq>>;

 public:
  static constexpr std::size_t rows_extent = Rows;

  AttentionScratch()
    requires(C.is_static() && Rows != dyn)
      : AttentionScratch(static_shape<C>(), Rows) {}
  explicit AttentionScratch(const TransformerShape& shape, std::size_t rows = Rows)
      : q_(detail::make_extents<extents<Rows, C.dim>>(rows, shape.dim)),
        context_(detail::make_extents<extents<Rows, C.dim>>(rows, shape.dim)),
        scores_(detail::make_extents<scores_extents>(C.flash_block > 0 ? 0 : shape.heads,
                                                     C.flash_block > 0 ? 0 : shape.max_seq)),
        flash_(make_flash(shape)) {
    contract::require_less(0, rows, "AttentionScratch: it needs at least one row");
  }

  std::size_t rows() const noexcept { return q_.extent(0); }
  auto q() noexcept { return q_.view(); }
  auto context() noexcept { return context_.view(); }
  auto scores() noexcept { return scores_.view(); }
  auto& flash() noexcept { return flash_; }

 private:
  static detail::flash_scratch_t<C> make_flash(const TransformerShape& shape) {
    if constexpr (C.flash_block > 0) {
      return detail::flash_scratch_t<C>(shape.head_dim());
    } else {
      (void)shape;
      return {};
    }
  }

  Tensor<float, extents<Rows, C.dim>> q_;
  Tensor<float, extents<Rows, C.dim>> context_;
  Tensor<float, scores_extents> scores_;
  [[no_unique_address]] detail::flash_scratch_t<C> flash_;
};

template <TransformerConfig C>
class Attention {
  static_assert(detail::config_rules_hold<C>(),
                "Attention: the config breaks a shape rule (the error above names it)");

 public:
  static constexpr TransformerConfig config = C;
  static constexpr std::size_t dim = C.dim, heads = C.heads, kv_heads = C.kv_heads,
                               head_dim = C.head_dim(), kv_dim = C.kv_dim(),
                               max_seq = C.max_seq, layers = C.layers;
  using query_projection = Linear<dim, dim, C.bias>;       // wq
  using kv_projection = Linear<dim, kv_dim, C.bias>;       // wk and wv
  using output_projection = Linear<dim, dim, C.out_bias>;  // wo

  // A static config knows its shape; a config with dyn fields takes it.
  // `rope_theta`: the RoPE base, C.rope_theta unless the caller read another from a checkpoint
  // (a config whose rope_theta is 0 leaves it to the checkpoint).
  Attention(query_projection wq, kv_projection wk, kv_projection wv, output_projection wo)
    requires(C.is_static())
      : Attention(wq, wk, wv, wo, static_shape<C>()) {}
  Attention(query_projection wq, kv_projection wk, kv_projection wv, output_projection wo,
            const TransformerShape& shape, float rope_theta = C.rope_theta)
      : wq_(wq), wk_(wk), wv_(wv), wo_(wo), shape_(shape), rope_theta_(rope_theta) {
    if constexpr (C.uses_rope()) {
      if (!(rope_theta > 0.0f)) {
        contract::fail_shape("Attention: RoPE needs a positive rope_theta, it is " +
                             std::to_string(rope_theta));
      }
    }
    transformer_config_rules<C>(shape);
    contract::require_same(wq.out_features(), shape.dim, "Attention: wq is (D, D) but D differs");
    contract::require_same(wq.in_features(), shape.dim, "Attention: wq is (D, D) but D differs");
    contract::require_same(wo.out_features(), shape.dim, "Attention: wo is (D, D) but D differs");
    contract::require_same(wk.in_features(), shape.dim, "Attention: wk is (KVD, D) but D differs");
    contract::require_same(wk.out_features(), shape.kv_dim(),
                           "Attention: wk is (KVD, D) but KVD = kv_heads · head_dim differs");
    contract::require_same(wv.out_features(), shape.kv_dim(),
                           "Attention: wv is (KVD, D) but KVD = kv_heads · head_dim differs");
  }

  const TransformerShape& shape() const noexcept { return shape_; }
  float rope_theta() const noexcept { return rope_theta_; }
  const query_projection& wq() const noexcept { return wq_; }
  const kv_projection& wk() const noexcept { return wk_; }
  const kv_projection& wv() const noexcept { return wv_; }
  const output_projection& wo() const noexcept { return wo_; }

  // forward(x, position, cache, layer, scratch, out): see the header comment. Fails (as an Error,
  // leaving cache and out untouched) when the positions are not reserved in the cache.
  template <tensor X, std::size_t L, std::size_t S, std::size_t KVH, std::size_t Dh,
            std::size_t Rows, class Out, summation Sum = fast_sum_t>
    requires(writable_tensor<std::remove_cvref_t<Out>> &&
             (X::extents_type::rank() == 1 || X::extents_type::rank() == 2))
  Result<void> forward(const X& x, std::size_t position, KVCache<L, S, KVH, Dh>& cache,
                       std::size_t layer, AttentionScratch<C, Rows>& scratch, Out&& out,
                       Sum = {}) const {
    using O = std::remove_cvref_t<Out>;
    FORMA_RULE_SAME_EXTENT("Attention: the input width differs from the model width (x is "
                           "(T, D))",
                           detail::last_static_v<X>, dim, detail::last_extent(x), shape_.dim);
    FORMA_RULE_SAME_SHAPE("Attention: the result must have the shape of x", ::forma::extents_of_t<X>,
                          ::forma::extents_of_t<O>, x.extents(), out.extents());
    check_cache<L, S, KVH, Dh>(cache);
    if constexpr (rules::same_extent<detail::last_static_v<X>, dim> &&
                  rules::same_shape<typename X::extents_type, typename O::extents_type>) {
      const auto rows = detail::as_rows(x);
      const std::size_t count = rows.extent(0);
      contract::require_less(layer, shape_.layers,
                             "Attention: the layer index is past the layers (layer < layers fails)");
      if (auto reserved = detail::check_reserved("Attention", position, count, cache.length());
          !reserved) {
        return reserved;
      }
      auto result = detail::as_rows(out);
      for (std::size_t done = 0; done < count; done += scratch.rows()) {
        const std::size_t n = count - done < scratch.rows() ? count - done : scratch.rows();
        forward_chunk(slice(rows, done, n), position + done, cache, layer, scratch,
                      slice(result, done, n), Sum{});
      }
    }
    return {};
  }

  // The steps of forward for n ≤ scratch.rows() rows at positions [position, position + n),
  // without its checks (TransformerBlock calls it after checking once).
  template <class X, class Cache, class Scratch, class Out, class Sum>
  void forward_chunk(const X& x, std::size_t position, Cache& cache, std::size_t layer,
                     Scratch& scratch, Out out, Sum) const {
    const std::size_t n = x.extent(0);
    auto q = slice(scratch.q(), 0, n);
    auto context = slice(scratch.context(), 0, n);
    auto keys = slice(cache.keys(layer), position, n);  // (n, KVH, Dh), written in place
    auto values = slice(cache.values(layer), position, n);
    const auto kv_rows = detail::make_extents<extents<dyn, kv_dim>>(n, shape_.kv_dim());
    wq_.forward(x, q, Sum{});
    wk_.forward(x, reshape(keys, kv_rows), Sum{});
    wv_.forward(x, reshape(values, kv_rows), Sum{});
    const auto head_rows =
        detail::make_extents<extents<dyn, heads, head_dim>>(n, shape_.heads, shape_.head_dim());
    if constexpr (C.position == position_kind::rope_interleaved) {
      rope<rope_layout::interleaved>(reshape(q, head_rows), position, rope_theta_);
      rope<rope_layout::interleaved>(keys, position, rope_theta_);
    } else if constexpr (C.position == position_kind::rope_half) {
      rope<rope_layout::half>(reshape(q, head_rows), position, rope_theta_);
      rope<rope_layout::half>(keys, position, rope_theta_);
    }
    if constexpr (C.flash_block > 0) {
      flash_attention<C.flash_block>(reshape(q, head_rows), cache.keys(layer), cache.values(layer),
                                     position + n, scratch.flash(), reshape(context, head_rows));
    } else {
      // The scores of a cache smaller than max_seq use the front of the (H, max_seq) buffer.
      const TensorView<float, extents<heads, dyn>> scores(
          scratch.scores().data(),
          detail::make_extents<extents<heads, dyn>>(shape_.heads, cache.capacity()));
      attention(reshape(q, head_rows), cache.keys(layer), cache.values(layer), position + n,
                scores, reshape(context, head_rows));
    }
    wo_.forward(context, out, Sum{});
  }

  // The cache must be one of this model: its layers, kv heads and head_dim, and at most max_seq
  // positions.
  template <std::size_t L, std::size_t S, std::size_t KVH, std::size_t Dh>
  void check_cache(const KVCache<L, S, KVH, Dh>& cache) const {
    FORMA_RULE_SAME_EXTENT("Attention: the kv cache has another layer count than the model "
                           "(cache is (layers, S, KVH, Dh))",
                           L, layers, cache.layers(), shape_.layers);
    FORMA_RULE_LESS("Attention: the kv cache's capacity exceeds max_seq (cache is (layers, S, "
                    "KVH, Dh); S < max_seq + 1 fails)",
                    S, max_seq == dyn ? dyn : max_seq + 1, cache.capacity(), shape_.max_seq + 1);
    FORMA_RULE_SAME_EXTENT("Attention: the kv cache holds another number of kv heads (cache is "
                           "(layers, S, KVH, Dh))",
                           KVH, kv_heads, cache.kv_heads(), shape_.kv_heads);
    FORMA_RULE_SAME_EXTENT("Attention: the kv cache's head_dim differs from the attention's "
                           "(cache is (layers, S, KVH, Dh))",
                           Dh, head_dim, cache.head_dim(), shape_.head_dim());
  }

 private:
  query_projection wq_;
  kv_projection wk_;
  kv_projection wv_;
  output_projection wo_;
  TransformerShape shape_;
  float rope_theta_;
};

}  // namespace forma::nn
