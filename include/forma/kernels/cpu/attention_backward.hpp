// forma/kernels/cpu/attention_backward.hpp — causal self-attention for training: a forward that
// also returns each row's log-sum-exp, and the backward that recomputes the probabilities from it
// (FlashAttention's schedule: the T × T matrices of scores and probabilities are never stored).
//
//   q, dq           (T, heads · head_dim)       query t is at position t
//   k, v, dk, dv    (T, kv_heads · head_dim)    head h reads kv head h / (heads / kv_heads)
//   o, do           (T, heads · head_dim)
//   lse             (T, heads)                  lse[t, h] = log Σ_{j ≤ t} exp(s_tj)
// with s_tj = q_t · k_j / √head_dim and p_tj = exp(s_tj − lse[t, h]):
//   o_t   = Σ_j p_tj v_j
//   D_t   = do_t · o_t
//   dv_j += p_tj do_t,   ds_tj = p_tj (do_t · v_j − D_t),
//   dq_t += ds_tj k_j / √head_dim,   dk_j += ds_tj q_t / √head_dim
// dq, dk and dv are overwritten. The work is split over kv heads (each owns its columns of dk and
// dv and the dq of its query heads), each summed in a fixed order, so the result does not depend
// on the number of threads.
#pragma once

#include <cmath>
#include <cstddef>

#include "forma/core/parallel.hpp"

namespace forma::kernels::cpu {

struct attention_train_shape {
  std::size_t tokens = 0;
  std::size_t heads = 0;
  std::size_t kv_heads = 0;
  std::size_t head_dim = 0;
};

// The forward with an online softmax over the keys of each row; writes o and lse.
template <class T>
void attention_forward_lse(const T* q, const T* k, const T* v, const attention_train_shape& s,
                           T* o, T* lse) {
  const std::size_t dh = s.head_dim, group = s.heads / s.kv_heads;
  const std::size_t q_stride = s.heads * dh, kv_stride = s.kv_heads * dh;
  const T root = std::sqrt(static_cast<T>(dh));
  parallel_for(s.heads, s.tokens * s.tokens * dh, [&](std::size_t h) {
    const std::size_t kv_offset = (h / group) * dh;
    for (std::size_t t = 0; t < s.tokens; ++t) {
      const T* qt = q + t * q_stride + h * dh;
      T* ot = o + t * q_stride + h * dh;
      for (std::size_t i = 0; i < dh; ++i) ot[i] = T(0);
      T running_max = -INFINITY, running_sum = 0;
      for (std::size_t j = 0; j <= t; ++j) {
        const T* kj = k + j * kv_stride + kv_offset;
        T score = 0;
        for (std::size_t i = 0; i < dh; ++i) score += qt[i] * kj[i];
        score /= root;
        if (score > running_max) {
          const T rescale = running_max == -INFINITY ? T(0) : std::exp(running_max - score);
          running_sum *= rescale;
          for (std::size_t i = 0; i < dh; ++i) ot[i] *= rescale;
          running_max = score;
        }
        const T weight = std::exp(score - running_max);
        running_sum += weight;
        const T* vj = v + j * kv_stride + kv_offset;
        for (std::size_t i = 0; i < dh; ++i) ot[i] += weight * vj[i];
      }
      for (std::size_t i = 0; i < dh; ++i) ot[i] /= running_sum;
      lse[t * s.heads + h] = running_max + std::log(running_sum);
    }
  });
}

template <class T>
void attention_backward(const T* q, const T* k, const T* v, const T* o, const T* lse,
                        const T* d_o, const attention_train_shape& s, T* dq, T* dk, T* dv) {
  const std::size_t dh = s.head_dim, group = s.heads / s.kv_heads;
  const std::size_t q_stride = s.heads * dh, kv_stride = s.kv_heads * dh;
  const T root = std::sqrt(static_cast<T>(dh));
  parallel_for(s.kv_heads, group * s.tokens * s.tokens * dh * 2, [&](std::size_t g) {
    const std::size_t kv_offset = g * dh;
    for (std::size_t j = 0; j < s.tokens; ++j) {
      for (std::size_t i = 0; i < dh; ++i) {
        dk[j * kv_stride + kv_offset + i] = T(0);
        dv[j * kv_stride + kv_offset + i] = T(0);
      }
    }
    for (std::size_t h = g * group; h < (g + 1) * group; ++h) {
      for (std::size_t t = 0; t < s.tokens; ++t) {
        const T* qt = q + t * q_stride + h * dh;
        const T* do_t = d_o + t * q_stride + h * dh;
        const T* ot = o + t * q_stride + h * dh;
        T* dqt = dq + t * q_stride + h * dh;
        T delta = 0;
        for (std::size_t i = 0; i < dh; ++i) delta += do_t[i] * ot[i];
        for (std::size_t i = 0; i < dh; ++i) dqt[i] = T(0);
        const T row_lse = lse[t * s.heads + h];
        for (std::size_t j = 0; j <= t; ++j) {
          const T* kj = k + j * kv_stride + kv_offset;
          const T* vj = v + j * kv_stride + kv_offset;
          T score = 0, dp = 0;
          for (std::size_t i = 0; i < dh; ++i) {
            score += qt[i] * kj[i];
            dp += do_t[i] * vj[i];
          }
          const T p = std::exp(score / root - row_lse);
          const T ds = p * (dp - delta) / root;
          T* dkj = dk + j * kv_stride + kv_offset;
          T* dvj = dv + j * kv_stride + kv_offset;
          for (std::size_t i = 0; i < dh; ++i) {
            dqt[i] += ds * kj[i];
            dkj[i] += ds * qt[i];
            dvj[i] += p * do_t[i];
          }
        }
      }
    }
  });
}

}  // namespace forma::kernels::cpu
