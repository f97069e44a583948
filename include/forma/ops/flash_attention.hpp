// forma/ops/flash_attention.hpp — causal attention in tiles with an online softmax, shape-checked.
//
//   flash_attention<Block>:  q (T, H, Dh) — the queries at positions length−T .. length−1 — or
//                            q (H, Dh), one query at position length−1;
//                            keys, values (S, KVH, Dh) holding `length` positions   => out (shape of q)
// The contract of forma::attention (GQA/MQA: KVH divides H; causal; 0 < T ≤ length ≤ S) and its
// results within float rounding, without its (H, S) score buffer: queries and keys are visited in
// tiles of Block, and the extra memory is a FlashScratch of workers × (Block·Dh + 3·Block) floats,
// whatever T and S are. The form without a scratch allocates one for the call.
#pragma once

#include <cstddef>
#include <type_traits>

#include "forma/core/contract.hpp"
#include "forma/core/parallel.hpp"
#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/flash_attention.hpp"
#include "forma/ops/common.hpp"

namespace forma {

// The working memory of flash_attention<Block>: one slot of Block·head_dim + 3·Block floats per
// worker thread, allocated once (outside a decode loop) and reused by every call.
template <std::size_t Block>
class FlashScratch {
  static_assert(Block > 0, "FlashScratch: Block must be positive");

 public:
  static constexpr std::size_t block = Block;

  explicit FlashScratch(std::size_t head_dim,
                        std::size_t workers = static_cast<std::size_t>(parallel_threads()))
      : head_dim_(head_dim),
        workers_(workers == 0 ? 1 : workers),
        floats_(uninitialized, kernels::cpu::flash_scratch_floats(Block, head_dim) * workers_) {}

  std::size_t head_dim() const noexcept { return head_dim_; }
  std::size_t workers() const noexcept { return workers_; }
  std::size_t size_bytes() const noexcept { return floats_.size_bytes(); }
  float* data() noexcept { return floats_.data(); }

 private:
  std::size_t head_dim_;
  std::size_t workers_;
  Tensor<float, extents<dyn>> floats_;
};

namespace detail {
template <class Q>
inline constexpr std::size_t flash_heads_v =
    Q::extents_type::static_extent(Q::extents_type::rank() - 2);

template <class Q, class K, class V, class O>
inline constexpr bool flash_fits_v =
    std::is_same_v<typename Q::value_type, float> && std::is_same_v<typename K::value_type, float> &&
    std::is_same_v<typename V::value_type, float> && std::is_same_v<typename O::value_type, float> &&
    std::is_same_v<typename Q::device_type, host> && std::is_same_v<typename K::device_type, host> &&
    std::is_same_v<typename V::device_type, host> && std::is_same_v<typename O::device_type, host> &&
    rules::divides<K::extents_type::static_extent(1), flash_heads_v<Q>> &&
    rules::same_extent<last_static_extent<typename Q::extents_type>,
                       K::extents_type::static_extent(2)> &&
    rules::same_shape<typename K::extents_type, typename V::extents_type> &&
    rules::same_shape<typename Q::extents_type, typename O::extents_type>;
}  // namespace detail

#define FORMA_RULE_FLASH_ATTENTION(Q_TYPE, K_TYPE, V_TYPE, O_TYPE, q, k, v, o)                \
  (FORMA_RULE_HOST("flash_attention", typename Q_TYPE::device_type),                          \
   FORMA_RULE_SAME_TYPE("flash_attention: q, keys, values and the result must hold float",     \
                        typename Q_TYPE::value_type, float),                                  \
   FORMA_RULE_DIVIDES("flash_attention: kv heads must divide heads (q is (..., H, Dh), keys "  \
                      "are (S, KVH, Dh))",                                                    \
                      K_TYPE::extents_type::static_extent(1),                                 \
                      (::forma::detail::flash_heads_v<Q_TYPE>), (k).extent(1),                \
                      (q).extent(Q_TYPE::extents_type::rank() - 2)),                          \
   FORMA_RULE_SAME_EXTENT("flash_attention: head_dim differs between q and keys (q is "        \
                          "(..., H, Dh), keys are (S, KVH, Dh))",                             \
                          ::forma::last_static_extent<typename Q_TYPE::extents_type>,         \
                          K_TYPE::extents_type::static_extent(2),                             \
                          (q).extent(Q_TYPE::extents_type::rank() - 1), (k).extent(2)),       \
   FORMA_RULE_SAME_SHAPE("flash_attention: keys and values differ in shape",                  \
                         ::forma::extents_of_t<K_TYPE>, ::forma::extents_of_t<V_TYPE>,        \
                         (k).extents(), (v).extents()),                                       \
   FORMA_RULE_SAME_SHAPE("flash_attention: the result must have the shape of q",              \
                         ::forma::extents_of_t<Q_TYPE>, ::forma::extents_of_t<O_TYPE>,        \
                         (q).extents(), (o).extents()))

// flash_attention<Block>(q, keys, values, length, scratch, out): allocation-free.
template <std::size_t Block, tensor Q, tensor K, tensor V, class Out>
  requires((Q::extents_type::rank() == 2 || Q::extents_type::rank() == 3) &&
           K::extents_type::rank() == 3 && V::extents_type::rank() == 3 &&
           writable_tensor<std::remove_cvref_t<Out>>)
void flash_attention(const Q& q, const K& keys, const V& values, std::size_t length,
                     FlashScratch<Block>& scratch, Out&& out) {
  using O = std::remove_cvref_t<Out>;
  FORMA_RULE_FLASH_ATTENTION(Q, K, V, O, q, keys, values, out);
  constexpr std::size_t rank = Q::extents_type::rank();
  const std::size_t queries = rank == 3 ? q.extent(0) : 1;
  contract::require_less(0, queries, "flash_attention: no queries (0 < T fails)");
  contract::require_less(queries - 1, length,
                         "flash_attention: more queries than positions (T <= length fails)");
  contract::require_less(length - 1, keys.extent(0),
                         "flash_attention: length exceeds the cached positions (length <= S fails)");
  contract::require_same(scratch.head_dim(), q.extent(rank - 1),
                         "flash_attention: the scratch was sized for another head_dim");
  if constexpr (detail::flash_fits_v<Q, K, V, O>) {
    const kernels::cpu::attention_shape shape{
        .heads = q.extent(rank - 2),
        .kv_heads = keys.extent(1),
        .head_dim = q.extent(rank - 1),
        .kv_stride = keys.extent(1) * keys.extent(2),
        .score_stride = 0,
    };
    kernels::cpu::flash_attention<Block>(q.data(), keys.data(), values.data(), queries, length,
                                         shape, scratch.data(), scratch.workers(),
                                         forma::view(out).data());
  }
}

// flash_attention<Block>(q, keys, values, length, out): with a scratch made for this call.
template <std::size_t Block, tensor Q, tensor K, tensor V, class Out>
  requires((Q::extents_type::rank() == 2 || Q::extents_type::rank() == 3) &&
           K::extents_type::rank() == 3 && V::extents_type::rank() == 3 &&
           writable_tensor<std::remove_cvref_t<Out>>)
void flash_attention(const Q& q, const K& keys, const V& values, std::size_t length, Out&& out) {
  FlashScratch<Block> scratch(q.extent(Q::extents_type::rank() - 1));
  flash_attention<Block>(q, keys, values, length, scratch, out);
}

// flash_attention<Block>(q, keys, values, length): a new tensor of q's shape.
template <std::size_t Block, tensor Q, tensor K, tensor V>
  requires((Q::extents_type::rank() == 2 || Q::extents_type::rank() == 3) &&
           K::extents_type::rank() == 3 && V::extents_type::rank() == 3)
tensor_t<Q> flash_attention(const Q& q, const K& keys, const V& values, std::size_t length) {
  tensor_t<Q> result(uninitialized, q.extents());
  flash_attention<Block>(q, keys, values, length, result);
  return result;
}

}  // namespace forma
