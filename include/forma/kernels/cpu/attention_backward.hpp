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
// dq, dk and dv are overwritten. The work is split over heads (forward) and kv heads (backward:
// each owns its columns of dk and dv and the dq of its query heads), each summed in a fixed order,
// so the result does not depend on the number of threads.
// Layout for speed: each head's keys and values are first copied transposed, (head_dim, T), so
// that a row's scores q_t · k_j, the products do_t · v_j, the updates of dk and dv (kept
// transposed, then copied back) and the sums over j (o_t, dq_t: forma's 16-lane dot) are long
// loops over j that the compiler vectorizes; the
// exponentials go through vexp.hpp (float) in one vectorized pass per row. A row's scores are
// written into a T-long scratch row: memory O(T · head_dim) per thread (kept between calls),
// never T × T.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

#include "forma/core/config.hpp"
#include "forma/core/parallel.hpp"
#include "forma/kernels/cpu/dot.hpp"
#include "forma/kernels/cpu/vexp.hpp"

namespace forma::kernels::cpu {

struct attention_train_shape {
  std::size_t tokens = 0;
  std::size_t heads = 0;
  std::size_t kv_heads = 0;
  std::size_t head_dim = 0;
};

namespace detail {

// to (dh, T) = from's columns [offset, offset + dh) of T rows of `stride`, transposed.
template <class T>
void gather_transposed(const T* from, std::size_t stride, std::size_t offset, std::size_t tokens,
                       std::size_t dh, T* FORMA_RESTRICT to) noexcept {
  for (std::size_t j = 0; j < tokens; ++j) {
    const T* row = from + j * stride + offset;
    for (std::size_t i = 0; i < dh; ++i) to[i * tokens + j] = row[i];
  }
}

// s[0..n) = (Σ_i q[i] · kt[i][0..n)) / root: the scores of one query against n keys.
template <class T>
void row_scores(const T* q, const T* kt, std::size_t tokens, std::size_t dh, std::size_t n,
                T root, T* FORMA_RESTRICT s) noexcept {
  for (std::size_t j = 0; j < n; ++j) s[j] = T(0);
  for (std::size_t i = 0; i < dh; ++i) {
    const T a = q[i];
    const T* FORMA_RESTRICT k = kt + i * tokens;
    for (std::size_t j = 0; j < n; ++j) s[j] += a * k[j];
  }
  for (std::size_t j = 0; j < n; ++j) s[j] /= root;
}

// The per-thread scratch of the attention loops (core/parallel.hpp: grown for every thread before a
// loop forks, so a training step allocates nothing once the sizes have been seen).
struct attention_scratch_tag {};

// Σ x[0..n) over 16 interleaved partial sums, combined in a fixed order (as dot's).
template <class T>
T sum_lanes(const T* FORMA_RESTRICT x, std::size_t n) noexcept {
  T acc[16] = {};
  std::size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    for (std::size_t l = 0; l < 16; ++l) acc[l] += x[j + l];
  }
  for (std::size_t l = 0; j < n; ++j, ++l) acc[l] += x[j];
  for (std::size_t w = 8; w > 0; w /= 2) {
    for (std::size_t l = 0; l < w; ++l) acc[l] += acc[l + w];
  }
  return acc[0];
}

}  // namespace detail

// The forward: a row's scores, its maximum, the exponentials in one pass; writes o and lse.
template <class T>
void attention_forward_lse(const T* q, const T* k, const T* v, const attention_train_shape& s,
                           T* o, T* lse) {
  const std::size_t dh = s.head_dim, group = s.heads / s.kv_heads, n = s.tokens;
  const std::size_t q_stride = s.heads * dh, kv_stride = s.kv_heads * dh;
  const T root = std::sqrt(static_cast<T>(dh));
  parallel_for_scratch<detail::attention_scratch_tag>(
      s.heads, n * n * dh, (2 * dh * n + n) * sizeof(T), [&](std::size_t h, void* scratch) {
    const std::size_t kv_offset = (h / group) * dh;
    T* kt = static_cast<T*>(scratch);
    T* vt = kt + dh * n;
    T* FORMA_RESTRICT p = vt + dh * n;
    detail::gather_transposed(k, kv_stride, kv_offset, n, dh, kt);
    detail::gather_transposed(v, kv_stride, kv_offset, n, dh, vt);
    for (std::size_t t = 0; t < n; ++t) {
      const T* qt = q + t * q_stride + h * dh;
      T* FORMA_RESTRICT ot = o + t * q_stride + h * dh;
      detail::row_scores(qt, kt, n, dh, t + 1, root, p);
      T m = p[0];
      for (std::size_t j = 1; j <= t; ++j) m = p[j] > m ? p[j] : m;
      for (std::size_t j = 0; j <= t; ++j) p[j] -= m;
      exp_inplace(p, t + 1);
      const T sum = detail::sum_lanes(p, t + 1);
      const T inv = T(1) / sum;
      for (std::size_t i = 0; i < dh; ++i) ot[i] = dot(p, vt + i * n, t + 1) * inv;
      lse[t * s.heads + h] = m + std::log(sum);
    }
  });
}

template <class T>
void attention_backward(const T* q, const T* k, const T* v, const T* o, const T* lse,
                        const T* d_o, const attention_train_shape& s, T* dq, T* dk, T* dv) {
  const std::size_t dh = s.head_dim, group = s.heads / s.kv_heads, n = s.tokens;
  const std::size_t q_stride = s.heads * dh, kv_stride = s.kv_heads * dh;
  const T root = std::sqrt(static_cast<T>(dh));
  parallel_for_scratch<detail::attention_scratch_tag>(
      s.kv_heads, group * n * n * dh * 4, (4 * dh * n + 2 * n) * sizeof(T),
      [&](std::size_t g, void* scratch) {
    const std::size_t kv_offset = g * dh;
    T* kt = static_cast<T*>(scratch);
    T* vt = kt + dh * n;
    T* dkt = vt + dh * n;
    T* dvt = dkt + dh * n;
    T* FORMA_RESTRICT p = dvt + dh * n;
    T* FORMA_RESTRICT ds = p + n;
    detail::gather_transposed(k, kv_stride, kv_offset, n, dh, kt);
    detail::gather_transposed(v, kv_stride, kv_offset, n, dh, vt);
    for (std::size_t i = 0; i < 2 * dh * n; ++i) dkt[i] = T(0);  // dkt and dvt
    for (std::size_t h = g * group; h < (g + 1) * group; ++h) {
      for (std::size_t t = 0; t < n; ++t) {
        const T* qt = q + t * q_stride + h * dh;
        const T* do_t = d_o + t * q_stride + h * dh;
        const T* ot = o + t * q_stride + h * dh;
        T* FORMA_RESTRICT dqt = dq + t * q_stride + h * dh;
        const std::size_t m = t + 1;
        // p_j = exp(s_j − lse), dp_j = do_t · v_j, ds_j = p_j (dp_j − D_t) / √dh.
        detail::row_scores(qt, kt, n, dh, m, root, p);
        const T row_lse = lse[t * s.heads + h];
        for (std::size_t j = 0; j < m; ++j) p[j] -= row_lse;
        exp_inplace(p, m);
        T delta = 0;
        for (std::size_t i = 0; i < dh; ++i) delta += do_t[i] * ot[i];
        for (std::size_t j = 0; j < m; ++j) ds[j] = T(0);
        for (std::size_t i = 0; i < dh; ++i) {
          const T a = do_t[i];
          const T* FORMA_RESTRICT vi = vt + i * n;
          for (std::size_t j = 0; j < m; ++j) ds[j] += a * vi[j];
        }
        for (std::size_t j = 0; j < m; ++j) ds[j] = p[j] * (ds[j] - delta) / root;
        // dq_t = Σ_j ds_j k_j; dkᵀ[:, j] += ds_j q_t; dvᵀ[:, j] += p_j do_t.
        for (std::size_t i = 0; i < dh; ++i) dqt[i] = dot(ds, kt + i * n, m);
        for (std::size_t i = 0; i < dh; ++i) {
          const T qa = qt[i], da = do_t[i];
          T* FORMA_RESTRICT dki = dkt + i * n;
          T* FORMA_RESTRICT dvi = dvt + i * n;
          for (std::size_t j = 0; j < m; ++j) {
            dki[j] += qa * ds[j];
            dvi[j] += da * p[j];
          }
        }
      }
    }
    for (std::size_t j = 0; j < n; ++j) {
      for (std::size_t i = 0; i < dh; ++i) {
        dk[j * kv_stride + kv_offset + i] = dkt[i * n + j];
        dv[j * kv_stride + kv_offset + i] = dvt[i * n + j];
      }
    }
  });
}

}  // namespace forma::kernels::cpu
