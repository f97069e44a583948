// forma/kernels/cuda/flash_attention.hpp — the body of the CUDA flash-style causal prefill
// attention (flash_attention.cuh launches it): shared-memory tiles of keys and values, an online
// softmax, the queries × keys score matrix never formed — kernels/cpu/flash_attention.hpp's
// schedule, with the same tile (flash_tile = 32) and the same operations in the same order, so on
// the CPU grid runner the bits equal kernels::cpu::flash_attention<32>'s.
//
// One block per (head, tile of 32 queries), 32 threads: thread r owns query q_begin + r, its
// accumulator (head_dim ≤ 128), running max and running sum. Per key tile: all threads load the
// tile's keys and values into shared memory (phase), then each thread scores its query against
// them and updates its running softmax (phase) — the barriers between keep a tile in place while
// it is read.
#pragma once

#include <cmath>
#include <cstddef>

#include "forma/core/config.hpp"
#include "forma/kernels/cuda/grid.hpp"
#include "forma/kernels/math.hpp"

namespace forma::kernels::cuda {

inline constexpr unsigned flash_tile = 32;
inline constexpr unsigned flash_max_head_dim = 128;

struct flash_attention_body {
  const float* q;       // queries × (heads · head_dim), the last query at position length − 1
  const float* keys;    // positions × kv_stride
  const float* values;  // same layout as keys
  float* out;           // queries × (heads · head_dim)
  unsigned queries;
  unsigned length;
  unsigned heads;
  unsigned kv_heads;
  unsigned head_dim;
  std::size_t kv_stride;

  struct shared_type {
    float keys[flash_tile][flash_max_head_dim];
    float values[flash_tile][flash_max_head_dim];
  };
  struct registers_type {
    float acc[flash_max_head_dim];
    float running_max;
    float running_sum;
    float scores[flash_tile];
  };

  FORMA_HD unsigned query_tiles() const { return (queries + flash_tile - 1) / flash_tile; }
  FORMA_HD unsigned key_tiles() const { return (length + flash_tile - 1) / flash_tile; }
  // init, then (load, compute) per key tile, then write.
  FORMA_HD unsigned phases(unsigned) const { return 2 + 2 * key_tiles(); }

  FORMA_HD void phase(unsigned p, const thread_index& at, shared_type& tile,
                      registers_type& registers) const {
    const unsigned head = at.block / query_tiles();
    const unsigned q_begin = (at.block % query_tiles()) * flash_tile;
    const unsigned q_end = q_begin + flash_tile < queries ? q_begin + flash_tile : queries;
    const unsigned first = length - queries;
    const unsigned visible_end = first + q_end;  // the tile's last query sees [0, visible_end)
    const std::size_t kv_offset = static_cast<std::size_t>(head / (heads / kv_heads)) * head_dim;
    const std::size_t row_stride = static_cast<std::size_t>(heads) * head_dim;
    const unsigned r = at.thread;
    const bool owns_query = q_begin + r < q_end;
    if (p == 0) {
      registers.running_max = -INFINITY;
      registers.running_sum = 0.0f;
      for (unsigned i = 0; i < head_dim; ++i) registers.acc[i] = 0.0f;
      return;
    }
    if (p == phases(at.block_dim) - 1) {
      if (!owns_query) return;
      float* o = out + (q_begin + r) * row_stride + static_cast<std::size_t>(head) * head_dim;
      for (unsigned i = 0; i < head_dim; ++i) o[i] = registers.acc[i] / registers.running_sum;
      return;
    }
    const unsigned k0 = ((p - 1) / 2) * flash_tile;
    if (k0 >= visible_end) return;  // the whole block skips this tile
    const unsigned k_tile_end = k0 + flash_tile < visible_end ? k0 + flash_tile : visible_end;
    if ((p - 1) % 2 == 0) {
      // Load: thread r brings key/value row k0 + r of this head's kv head.
      if (k0 + r < k_tile_end) {
        const float* k = keys + (k0 + r) * kv_stride + kv_offset;
        const float* v = values + (k0 + r) * kv_stride + kv_offset;
        for (unsigned i = 0; i < head_dim; ++i) {
          tile.keys[r][i] = k[i];
          tile.values[r][i] = v[i];
        }
      }
      return;
    }
    // Compute: the CPU's flash_tile, for this thread's query and this key tile.
    if (!owns_query) return;
    const unsigned position = first + q_begin + r;
    if (k0 > position) return;  // this tile lies wholly in the query's future
    const unsigned k_end = k_tile_end < position + 1 ? k_tile_end : position + 1;
    const float* qr = q + (q_begin + r) * row_stride + static_cast<std::size_t>(head) * head_dim;
    using std::exp;
    using std::sqrt;
    const float scale = sqrt(static_cast<float>(head_dim));
    float tile_max = registers.running_max;
    for (unsigned t = k0; t < k_end; ++t) {
      float score = 0.0f;
      for (unsigned i = 0; i < head_dim; ++i) score += qr[i] * tile.keys[t - k0][i];
      score /= scale;
      registers.scores[t - k0] = score;
      if (score > tile_max) tile_max = score;
    }
    const float rescale = math::online_softmax_rescale(registers.running_max, tile_max);
    for (unsigned i = 0; i < head_dim; ++i) registers.acc[i] *= rescale;
    float sum = registers.running_sum * rescale;
    for (unsigned t = k0; t < k_end; ++t) {
      const float weight = exp(registers.scores[t - k0] - tile_max);
      sum += weight;
      for (unsigned i = 0; i < head_dim; ++i) registers.acc[i] += weight * tile.values[t - k0][i];
    }
    registers.running_sum = sum;
    registers.running_max = tile_max;
  }
};

}  // namespace forma::kernels::cuda
