// forma/kernels/cpu/flash_attention.hpp — causal attention in tiles with an online softmax
// (FlashAttention's schedule, on the CPU): the queries × keys score matrix is never formed.
//
//   q       (queries, heads · head_dim): the queries at positions length − queries .. length − 1
//   keys    rows of kv_stride, positions [0, length); head h reads kv head h / group at column
//           (h / group) · head_dim
//   values  same layout as keys
//   scratch workers × flash_scratch_floats(Block, head_dim) floats
//   out     (queries, heads · head_dim)
// For each head and each tile of Block queries, the keys are visited in tiles of Block. Every
// query keeps a running maximum m, a running sum l and an accumulator acc (head_dim) that absorb
// one key tile at a time:
//   m' = max(m, max_j s_j),  l' = l·e^(m − m') + Σ_j e^(s_j − m'),  acc' = acc·e^(m − m') + Σ_j e^(s_j − m')·v_j
// and out = acc / l. A worker's memory is Block·head_dim + 3·Block floats, whatever the length.
#pragma once

#include <cmath>
#include <cstddef>

#include "forma/core/parallel.hpp"
#include "forma/kernels/cpu/attention.hpp"
#include "forma/kernels/math.hpp"

namespace forma::kernels::cpu {

// Floats one worker needs: the accumulators (Block × head_dim), m and l (Block each) and one row
// of scores (Block).
constexpr std::size_t flash_scratch_floats(std::size_t block, std::size_t head_dim) noexcept {
  return block * head_dim + 3 * block;
}

namespace detail {

inline std::size_t worker_index() noexcept { return parallel_thread_index(); }

// One head, queries [q_begin, q_end) of the call (query i is at position first + i).
template <std::size_t Block>
void flash_tile(const float* q, const float* keys, const float* values, std::size_t first,
                std::size_t q_begin, std::size_t q_end, std::size_t head, const attention_shape& s,
                float* scratch, float* out) noexcept {
  const std::size_t rows = q_end - q_begin;
  const std::size_t dh = s.head_dim;
  const std::size_t row_stride = s.heads * dh;
  const std::size_t kv_offset = (head / (s.heads / s.kv_heads)) * dh;
  const float scale = std::sqrt(static_cast<float>(dh));
  float* acc = scratch;               // rows × head_dim
  float* running_max = acc + Block * dh;
  float* running_sum = running_max + Block;
  float* scores = running_sum + Block;
  for (std::size_t r = 0; r < rows; ++r) {
    running_max[r] = -INFINITY;
    running_sum[r] = 0.0f;
    for (std::size_t i = 0; i < dh; ++i) acc[r * dh + i] = 0.0f;
  }
  // The last query of the tile sees positions [0, first + q_end).
  const std::size_t visible_end = first + q_end;
  for (std::size_t k0 = 0; k0 < visible_end; k0 += Block) {
    const std::size_t k_tile_end = k0 + Block < visible_end ? k0 + Block : visible_end;
    for (std::size_t r = 0; r < rows; ++r) {
      const std::size_t position = first + q_begin + r;
      if (k0 > position) continue;  // this tile lies wholly in the query's future
      const std::size_t k_end = k_tile_end < position + 1 ? k_tile_end : position + 1;
      const float* qr = q + (q_begin + r) * row_stride + head * dh;
      float tile_max = running_max[r];
      for (std::size_t t = k0; t < k_end; ++t) {
        const float* k = keys + t * s.kv_stride + kv_offset;
        float score = 0.0f;
        for (std::size_t i = 0; i < dh; ++i) score += qr[i] * k[i];
        score /= scale;
        scores[t - k0] = score;
        if (score > tile_max) tile_max = score;
      }
      const float rescale = math::online_softmax_rescale(running_max[r], tile_max);
      float* a = acc + r * dh;
      for (std::size_t i = 0; i < dh; ++i) a[i] *= rescale;
      float sum = running_sum[r] * rescale;
      for (std::size_t t = k0; t < k_end; ++t) {
        const float weight = std::exp(scores[t - k0] - tile_max);
        sum += weight;
        const float* v = values + t * s.kv_stride + kv_offset;
        for (std::size_t i = 0; i < dh; ++i) a[i] += weight * v[i];
      }
      running_sum[r] = sum;
      running_max[r] = tile_max;
    }
  }
  for (std::size_t r = 0; r < rows; ++r) {
    float* o = out + (q_begin + r) * row_stride + head * dh;
    const float* a = acc + r * dh;
    for (std::size_t i = 0; i < dh; ++i) o[i] = a[i] / running_sum[r];
  }
}

}  // namespace detail

// Every head of `queries` query positions; the last one is at position length − 1. `workers`
// scratch slots: the tiles run in parallel when there is a slot for every thread, else in order.
template <std::size_t Block>
void flash_attention(const float* q, const float* keys, const float* values, std::size_t queries,
                     std::size_t length, const attention_shape& s, float* scratch,
                     std::size_t workers, float* out) {
  static_assert(Block > 0, "flash_attention: Block must be positive");
  const std::size_t first = length - queries;
  const std::size_t tiles = (queries + Block - 1) / Block;
  const std::size_t slot = flash_scratch_floats(Block, s.head_dim);
  auto run = [&](std::size_t unit, float* worker_scratch) {
    const std::size_t head = unit / tiles, tile = unit % tiles;
    const std::size_t q_begin = tile * Block;
    const std::size_t q_end = q_begin + Block < queries ? q_begin + Block : queries;
    detail::flash_tile<Block>(q, keys, values, first, q_begin, q_end, head, s, worker_scratch, out);
  };
  const std::size_t units = s.heads * tiles;
  if (workers >= static_cast<std::size_t>(parallel_threads())) {
    parallel_for(units, Block * length * s.head_dim * 2, [&](std::size_t unit) {
      // Inside forma's own parallel loop the thread numbers are distinct and below `workers`;
      // the modulo only matters when the loop runs on one thread of an outer parallel region.
      run(unit, scratch + (detail::worker_index() % workers) * slot);
    });
  } else {
    for (std::size_t unit = 0; unit < units; ++unit) run(unit, scratch);
  }
}

}  // namespace forma::kernels::cpu
