// forma/ops/attention_backward.hpp — causal self-attention for training, MHA/GQA/MQA,
// shape-checked.
//
//   attention_forward_lse:  q (T, H, Dh), k, v (T, KVH, Dh)
//                           => o (T, H, Dh), lse (T, H)   (each row's log-sum-exp of its scores)
//   attention_backward:     q, k, v, o, lse, do (T, H, Dh)
//                           => dq (T, H, Dh), dk, dv (T, KVH, Dh)   (overwritten)
// Query t is at position t and attends to keys 0..t; scores are q·k / √Dh; H / KVH query heads
// share a kv head (KVH = H: multi-head, 1: multi-query). The backward recomputes each
// probability from the stored lse (FlashAttention's backward): no T × T buffer, no scratch.
// Rules: KVH divides H; q and k agree on Dh; k and v have one shape, with T positions; o, do and
// dq have q's shape, dk and dv k's; lse is (T, H).
#pragma once

#include <cstddef>
#include <type_traits>

#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/attention_backward.hpp"
#include "forma/ops/backward_common.hpp"

namespace forma {

namespace detail {
template <class Q, class K, class V, class L>
inline constexpr bool attention_train_fits_v =
    floating_element<std::remove_cv_t<typename Q::value_type>> &&
    backward_operands_v<std::remove_cv_t<typename Q::value_type>, Q, K, V, L> &&
    rules::divides<K::extents_type::static_extent(1), Q::extents_type::static_extent(1)> &&
    rules::same_extent<Q::extents_type::static_extent(2), K::extents_type::static_extent(2)> &&
    rules::same_extent<Q::extents_type::static_extent(0), K::extents_type::static_extent(0)> &&
    rules::same_shape<typename K::extents_type, typename V::extents_type> &&
    rules::same_extent<L::extents_type::static_extent(0), Q::extents_type::static_extent(0)> &&
    rules::same_extent<L::extents_type::static_extent(1), Q::extents_type::static_extent(1)>;

template <class Q, class K>
kernels::cpu::attention_train_shape attention_train_shape_of(const Q& q, const K& k) {
  return {.tokens = q.extent(0), .heads = q.extent(1), .kv_heads = k.extent(1),
          .head_dim = q.extent(2)};
}
}  // namespace detail

// The rules between q, k, v and lse, for the op OP_NAME.
#define FORMA_RULE_ATTENTION_TRAIN(OP_NAME, Q, K, V, L, q, k, v, lse)                         \
  (FORMA_RULE_BACKWARD_OPERAND(OP_NAME, "q", std::remove_cv_t<typename Q::value_type>, Q),     \
   FORMA_RULE_BACKWARD_OPERAND(OP_NAME, "k", std::remove_cv_t<typename Q::value_type>, K),     \
   FORMA_RULE_BACKWARD_OPERAND(OP_NAME, "v", std::remove_cv_t<typename Q::value_type>, V),     \
   FORMA_RULE_BACKWARD_OPERAND(OP_NAME, "lse", std::remove_cv_t<typename Q::value_type>, L),   \
   FORMA_RULE_DIVIDES(OP_NAME ": kv heads must divide heads (q is (T, H, Dh), k is "           \
                              "(T, KVH, Dh))",                                                \
                      K::extents_type::static_extent(1), Q::extents_type::static_extent(1),   \
                      (k).extent(1), (q).extent(1)),                                          \
   FORMA_RULE_SAME_EXTENT(OP_NAME ": head_dim differs between q and k (q is (T, H, Dh), k is " \
                                  "(T, KVH, Dh))",                                            \
                          Q::extents_type::static_extent(2), K::extents_type::static_extent(2), \
                          (q).extent(2), (k).extent(2)),                                      \
   FORMA_RULE_SAME_EXTENT(OP_NAME ": k must have one position per query (q is (T, H, Dh), k "  \
                                  "is (T, KVH, Dh))",                                         \
                          Q::extents_type::static_extent(0), K::extents_type::static_extent(0), \
                          (q).extent(0), (k).extent(0)),                                      \
   FORMA_RULE_SAME_SHAPE(OP_NAME ": k and v differ in shape", ::forma::extents_of_t<K>,        \
                         ::forma::extents_of_t<V>, (k).extents(), (v).extents()),             \
   FORMA_RULE_SAME_EXTENT(OP_NAME ": lse must have one row per query (q is (T, H, Dh), lse "   \
                                  "is (T, H))",                                               \
                          L::extents_type::static_extent(0), Q::extents_type::static_extent(0), \
                          (lse).extent(0), (q).extent(0)),                                    \
   FORMA_RULE_SAME_EXTENT(OP_NAME ": lse must have one column per head (q is (T, H, Dh), lse " \
                                  "is (T, H))",                                               \
                          L::extents_type::static_extent(1), Q::extents_type::static_extent(1), \
                          (lse).extent(1), (q).extent(1)))

// attention_forward_lse(q, k, v, o, lse): o = causal attention, lse = each row's log-sum-exp.
template <tensor Q, tensor K, tensor V, class O, class L>
  requires(Q::extents_type::rank() == 3 && K::extents_type::rank() == 3 &&
           V::extents_type::rank() == 3 && writable_tensor<std::remove_cvref_t<O>> &&
           std::remove_cvref_t<O>::extents_type::rank() == 3 &&
           writable_tensor<std::remove_cvref_t<L>> && matrix<std::remove_cvref_t<L>>)
void attention_forward_lse(const Q& q, const K& k, const V& v, O&& o, L&& lse) {
  using OT = std::remove_cvref_t<O>;
  using LT = std::remove_cvref_t<L>;
  using T = std::remove_cv_t<typename Q::value_type>;
  FORMA_RULE_ATTENTION_TRAIN("attention_forward_lse", Q, K, V, LT, q, k, v, lse);
  FORMA_RULE_BACKWARD_OPERAND("attention_forward_lse", "o", T, OT);
  FORMA_RULE_SAME_SHAPE("attention_forward_lse: o must have the shape of q", extents_of_t<Q>,
                        extents_of_t<OT>, q.extents(), o.extents());
  if constexpr (detail::attention_train_fits_v<Q, K, V, LT> &&
                detail::backward_operands_v<T, OT> &&
                rules::same_shape<typename Q::extents_type, typename OT::extents_type>) {
    kernels::cpu::attention_forward_lse(q.data(), k.data(), v.data(),
                                        detail::attention_train_shape_of(q, k),
                                        forma::view(o).data(), forma::view(lse).data());
  }
}

// attention_backward(q, k, v, o, lse, do, dq, dk, dv)
template <tensor Q, tensor K, tensor V, tensor O, tensor L, tensor DO, class DQ, class DK,
          class DV>
  requires(Q::extents_type::rank() == 3 && K::extents_type::rank() == 3 &&
           V::extents_type::rank() == 3 && O::extents_type::rank() == 3 &&
           L::extents_type::rank() == 2 && DO::extents_type::rank() == 3 &&
           writable_tensor<std::remove_cvref_t<DQ>> && writable_tensor<std::remove_cvref_t<DK>> &&
           writable_tensor<std::remove_cvref_t<DV>> &&
           std::remove_cvref_t<DQ>::extents_type::rank() == 3 &&
           std::remove_cvref_t<DK>::extents_type::rank() == 3 &&
           std::remove_cvref_t<DV>::extents_type::rank() == 3)
void attention_backward(const Q& q, const K& k, const V& v, const O& o, const L& lse,
                        const DO& d_o, DQ&& dq, DK&& dk, DV&& dv) {
  using DQT = std::remove_cvref_t<DQ>;
  using DKT = std::remove_cvref_t<DK>;
  using DVT = std::remove_cvref_t<DV>;
  using T = std::remove_cv_t<typename Q::value_type>;
  FORMA_RULE_ATTENTION_TRAIN("attention_backward", Q, K, V, L, q, k, v, lse);
  FORMA_RULE_BACKWARD_OPERAND("attention_backward", "o", T, O);
  FORMA_RULE_BACKWARD_OPERAND("attention_backward", "do", T, DO);
  FORMA_RULE_BACKWARD_OPERAND("attention_backward", "dq", T, DQT);
  FORMA_RULE_BACKWARD_OPERAND("attention_backward", "dk", T, DKT);
  FORMA_RULE_BACKWARD_OPERAND("attention_backward", "dv", T, DVT);
  FORMA_RULE_SAME_SHAPE("attention_backward: o must have the shape of q", extents_of_t<Q>,
                        extents_of_t<O>, q.extents(), o.extents());
  FORMA_RULE_SAME_SHAPE("attention_backward: do must have the shape of q", extents_of_t<Q>,
                        extents_of_t<DO>, q.extents(), d_o.extents());
  FORMA_RULE_SAME_SHAPE("attention_backward: dq must have the shape of q", extents_of_t<Q>,
                        extents_of_t<DQT>, q.extents(), dq.extents());
  FORMA_RULE_SAME_SHAPE("attention_backward: dk must have the shape of k", extents_of_t<K>,
                        extents_of_t<DKT>, k.extents(), dk.extents());
  FORMA_RULE_SAME_SHAPE("attention_backward: dv must have the shape of v", extents_of_t<V>,
                        extents_of_t<DVT>, v.extents(), dv.extents());
  if constexpr (detail::attention_train_fits_v<Q, K, V, L> &&
                detail::backward_operands_v<T, O, DO, DQT, DKT, DVT> &&
                rules::same_shape<typename Q::extents_type, typename O::extents_type> &&
                rules::same_shape<typename Q::extents_type, typename DO::extents_type> &&
                rules::same_shape<typename Q::extents_type, typename DQT::extents_type> &&
                rules::same_shape<typename K::extents_type, typename DKT::extents_type> &&
                rules::same_shape<typename V::extents_type, typename DVT::extents_type>) {
    kernels::cpu::attention_backward(q.data(), k.data(), v.data(), o.data(), lse.data(),
                                     d_o.data(), detail::attention_train_shape_of(q, k),
                                     forma::view(dq).data(), forma::view(dk).data(),
                                     forma::view(dv).data());
  }
}

}  // namespace forma
