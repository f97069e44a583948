// forma/ops/attention.hpp — causal scaled dot-product attention against cached keys and values,
// multi-head, grouped-query (GQA) and multi-query (MQA), shape-checked.
//
//   attention:  q (H, Dh); keys, values (S, KVH, Dh) holding `length` positions;
//               scores (H, S) scratch                                   => out (H, Dh)
//   attention:  q (T, H, Dh) — the queries at positions length−T .. length−1 (a prefill),
//               each attending to the positions up to its own             => out (T, H, Dh)
// Rules: KVH divides H (H / KVH query heads share a kv head); q, keys, values and out agree on
// Dh; keys and values have one shape; scores is (H, S); 0 < length ≤ S (run time).
#pragma once

#include <cstddef>
#include <type_traits>

#include "forma/core/contract.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/attention.hpp"
#include "forma/ops/common.hpp"

namespace forma {

namespace detail {
template <class Q, class K>
inline constexpr std::size_t q_heads_v = Q::extents_type::static_extent(Q::extents_type::rank() - 2);
template <class Q, class K, class V, class S, class O>
inline constexpr bool attention_fits_v =
    std::is_same_v<typename Q::value_type, float> && std::is_same_v<typename K::value_type, float> &&
    std::is_same_v<typename V::value_type, float> && std::is_same_v<typename S::value_type, float> &&
    std::is_same_v<typename O::value_type, float> &&
    rules::divides<K::extents_type::static_extent(1), q_heads_v<Q, K>> &&
    rules::same_extent<last_static_extent<typename Q::extents_type>, K::extents_type::static_extent(2)> &&
    rules::same_shape<typename K::extents_type, typename V::extents_type> &&
    rules::same_shape<typename Q::extents_type, typename O::extents_type>;
}  // namespace detail

#define FORMA_RULE_ATTENTION(Q_TYPE, K_TYPE, V_TYPE, S_TYPE, O_TYPE, q, k, v, s, o)           \
  (FORMA_RULE_HOST("attention", typename Q_TYPE::device_type),                                \
   FORMA_RULE_DIVIDES("attention: kv heads must divide heads (q is (..., H, Dh), keys are "    \
                      "(S, KVH, Dh))",                                                        \
                      K_TYPE::extents_type::static_extent(1),                                 \
                      (::forma::detail::q_heads_v<Q_TYPE, K_TYPE>), (k).extent(1),            \
                      (q).extent(Q_TYPE::extents_type::rank() - 2)),                          \
   FORMA_RULE_SAME_EXTENT("attention: head_dim differs between q and keys (q is (..., H, Dh), " \
                          "keys are (S, KVH, Dh))",                                           \
                          ::forma::last_static_extent<typename Q_TYPE::extents_type>,         \
                          K_TYPE::extents_type::static_extent(2),                             \
                          (q).extent(Q_TYPE::extents_type::rank() - 1), (k).extent(2)),       \
   FORMA_RULE_SAME_SHAPE("attention: keys and values differ in shape",                        \
                         ::forma::extents_of_t<K_TYPE>, ::forma::extents_of_t<V_TYPE>,        \
                         (k).extents(), (v).extents()),                                       \
   FORMA_RULE_SAME_EXTENT("attention: scores must have one row per head (scores are (H, S))",  \
                          S_TYPE::extents_type::static_extent(0),                             \
                          (::forma::detail::q_heads_v<Q_TYPE, K_TYPE>), (s).extent(0),        \
                          (q).extent(Q_TYPE::extents_type::rank() - 2)),                      \
   FORMA_RULE_SAME_EXTENT("attention: scores must have one column per cached position "       \
                          "(scores are (H, S))",                                              \
                          S_TYPE::extents_type::static_extent(1),                             \
                          K_TYPE::extents_type::static_extent(0), (s).extent(1),              \
                          (k).extent(0)),                                                     \
   FORMA_RULE_SAME_SHAPE("attention: the result must have the shape of q",                    \
                         ::forma::extents_of_t<Q_TYPE>, ::forma::extents_of_t<O_TYPE>,        \
                         (q).extents(), (o).extents()))

// attention(q, keys, values, length, scores, out)
template <tensor Q, tensor K, tensor V, class Scores, class Out>
  requires((Q::extents_type::rank() == 2 || Q::extents_type::rank() == 3) &&
           K::extents_type::rank() == 3 && V::extents_type::rank() == 3 &&
           writable_tensor<std::remove_cvref_t<Scores>> && matrix<std::remove_cvref_t<Scores>> &&
           writable_tensor<std::remove_cvref_t<Out>>)
void attention(const Q& q, const K& keys, const V& values, std::size_t length, Scores&& scores,
               Out&& out) {
  using S = std::remove_cvref_t<Scores>;
  using O = std::remove_cvref_t<Out>;
  FORMA_RULE_ATTENTION(Q, K, V, S, O, q, keys, values, scores, out);
  static_assert(std::is_same_v<typename Q::value_type, float>, "attention: tensors must hold float");
  constexpr std::size_t rank = Q::extents_type::rank();
  const std::size_t steps = rank == 3 ? q.extent(0) : 1;
  contract::require_less(0, length, "attention: nothing to attend to (0 < length fails)");
  contract::require_less(length - 1, keys.extent(0) + 0,
                         "attention: length exceeds the cached positions (length <= S fails)");
  contract::require_less(steps - 1, length,
                         "attention: more queries than cached positions (T <= length fails)");
  if constexpr (detail::attention_fits_v<Q, K, V, S, O>) {
    const kernels::cpu::attention_shape shape{
        .heads = q.extent(rank - 2),
        .kv_heads = keys.extent(1),
        .head_dim = q.extent(rank - 1),
        .kv_stride = keys.extent(1) * keys.extent(2),
        .score_stride = scores.extent(1),
    };
    const std::size_t row = shape.heads * shape.head_dim;
    auto result = forma::view(out);
    auto scratch = forma::view(scores);
    for (std::size_t t = 0; t < steps; ++t) {
      kernels::cpu::attend(q.data() + t * row, keys.data(), values.data(),
                           length - steps + t + 1, shape, scratch.data(), result.data() + t * row);
    }
  }
}

}  // namespace forma
