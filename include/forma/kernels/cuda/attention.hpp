// forma/kernels/cuda/attention.hpp — the body of the CUDA decode attention kernel (attention.cuh
// launches it): one query position against the `length` cached keys and values, every head,
// grouped-query aware, with the KV cache layout of kernels/cpu/attention.hpp.
//
// One block per head. Each thread scores a strided set of positions (a dot product over head_dim
// in order, / sqrt(head_dim), as the CPU), the block reduces the max, exponentiates and reduces the
// sum, normalizes the scores in place, and then each thread owns output dimensions i and sums
// a_t · v_t[i] over t in order — the CPU's order. So the scores before the softmax and the output
// sum's order equal the CPU's; the softmax's sum is a tree (agreement to rounding).
#pragma once

#include <cmath>
#include <cstddef>

#include "forma/core/config.hpp"
#include "forma/kernels/cuda/grid.hpp"

namespace forma::kernels::cuda {

struct decode_attention_body {
  const float* q;       // heads · head_dim
  const float* keys;    // positions × kv_stride; head h reads kv head h / (heads / kv_heads)
  const float* values;  // same layout as keys
  float* scores;        // scratch, heads × score_stride (score_stride ≥ length)
  float* out;           // heads · head_dim
  unsigned length;
  unsigned heads;
  unsigned kv_heads;
  unsigned head_dim;
  std::size_t kv_stride;
  std::size_t score_stride;

  struct shared_type {
    float partial[max_block_threads];
  };
  struct registers_type {
    float max_value;
  };

  // scores and max, reduce, read the max, exp and sum, reduce, normalize, weighted sum.
  FORMA_HD unsigned phases(unsigned block_dim) const { return 5 + 2 * reduction_steps(block_dim); }

  FORMA_HD void phase(unsigned p, const thread_index& at, shared_type& tile,
                      registers_type& registers) const {
    const unsigned head = at.block;
    const std::size_t kv_offset = static_cast<std::size_t>(head / (heads / kv_heads)) * head_dim;
    const float* query = q + static_cast<std::size_t>(head) * head_dim;
    float* head_scores = scores + head * score_stride;
    const unsigned steps = reduction_steps(at.block_dim);
    if (p == 0) {
      using std::sqrt;
      const float scale = sqrt(static_cast<float>(head_dim));
      float max_value = -INFINITY;
      for (unsigned t = at.thread; t < length; t += at.block_dim) {
        const float* key = keys + t * kv_stride + kv_offset;
        float score = 0.0f;
        for (unsigned i = 0; i < head_dim; ++i) score += query[i] * key[i];
        head_scores[t] = score / scale;
        if (head_scores[t] > max_value) max_value = head_scores[t];
      }
      tile.partial[at.thread] = max_value;
    } else if (p <= steps) {
      reduction_step(p - 1, at.thread, at.block_dim, tile.partial, max_op{});
    } else if (p == steps + 1) {
      registers.max_value = tile.partial[0];
    } else if (p == steps + 2) {
      using std::exp;
      float sum = 0.0f;
      for (unsigned t = at.thread; t < length; t += at.block_dim) {
        head_scores[t] = exp(head_scores[t] - registers.max_value);
        sum += head_scores[t];
      }
      tile.partial[at.thread] = sum;
    } else if (p <= 2 * steps + 2) {
      reduction_step(p - steps - 3, at.thread, at.block_dim, tile.partial, sum_op{});
    } else if (p == 2 * steps + 3) {
      const float sum = tile.partial[0];
      for (unsigned t = at.thread; t < length; t += at.block_dim) head_scores[t] /= sum;
    } else {
      float* head_out = out + static_cast<std::size_t>(head) * head_dim;
      for (unsigned i = at.thread; i < head_dim; i += at.block_dim) {
        float total = 0.0f;
        for (unsigned t = 0; t < length; ++t) total += head_scores[t] * values[t * kv_stride + kv_offset + i];
        head_out[i] = total;
      }
    }
  }
};

}  // namespace forma::kernels::cuda
