// forma/kernels/cuda/sampling.hpp — the body of the CUDA top-p (nucleus) sampling kernel
// (sampling.cuh launches it): run.c's sample_topp as text::Sampler computes it, on the device, so a
// sampled decode step copies one token id back.
//
// One block over the probabilities (a softmax of logits / temperature): the tokens at or above the
// cut-off (1 − top_p)/(n − 1) are compacted into `kept`; each kept token's rank in the Sampler's
// strict order (descending probability, ties by index, NaN last) is counted against all kept ones
// and it is written at that rank into `sorted` — the order std::sort gives the Sampler; then one
// thread walks the sorted prefix in order, as the Sampler does (truncate where the cumulative mass
// first exceeds top_p, draw with coin · that mass). The sums run in the same order over the same
// floats, so the token is the Sampler's, exactly. The rank count is O(kept²): fine for the few
// thousand tokens a trained model keeps, slow for a flat distribution over a large vocabulary.
#pragma once

#include <cstddef>
#include <cstdint>

#include "forma/core/config.hpp"
#include "forma/kernels/cuda/grid.hpp"

namespace forma::kernels::cuda {

struct top_p_candidate {
  float probability;
  std::int32_t index;
};

// text::Sampler's order: more probable first, ties by index, NaN last.
FORMA_HD inline bool more_likely(const top_p_candidate& a, const top_p_candidate& b) {
  const bool a_nan = a.probability != a.probability, b_nan = b.probability != b.probability;
  if (a_nan != b_nan) return b_nan;
  if (!a_nan && a.probability != b.probability) return a.probability > b.probability;
  return a.index < b.index;
}

struct top_p_body {
  const float* probabilities;
  unsigned n;
  float top_p;
  float coin;               // uniform in [0, 1)
  top_p_candidate* kept;    // scratch, n entries
  top_p_candidate* sorted;  // scratch, n entries
  std::int32_t* out;

  struct shared_type {
    unsigned offsets[max_block_threads];
    unsigned total;
  };
  using registers_type = no_registers;

  FORMA_HD float cutoff() const { return (1.0f - top_p) / static_cast<float>(n - 1); }
  // count, prefix offsets, compact, rank and scatter, draw.
  FORMA_HD unsigned phases(unsigned) const { return 5; }

  FORMA_HD void phase(unsigned p, const thread_index& at, shared_type& tile, registers_type&) const {
    if (p == 0) {
      unsigned count = 0;
      for (unsigned i = at.thread; i < n; i += at.block_dim) count += probabilities[i] >= cutoff() ? 1u : 0u;
      tile.offsets[at.thread] = count;
    } else if (p == 1) {
      if (at.thread != 0) return;
      unsigned running = 0;
      for (unsigned t = 0; t < at.block_dim; ++t) {
        const unsigned count = tile.offsets[t];
        tile.offsets[t] = running;
        running += count;
      }
      tile.total = running;
    } else if (p == 2) {
      unsigned slot = tile.offsets[at.thread];
      for (unsigned i = at.thread; i < n; i += at.block_dim) {
        if (probabilities[i] >= cutoff()) kept[slot++] = {probabilities[i], static_cast<std::int32_t>(i)};
      }
    } else if (p == 3) {
      for (unsigned e = at.thread; e < tile.total; e += at.block_dim) {
        unsigned rank = 0;
        for (unsigned j = 0; j < tile.total; ++j) rank += more_likely(kept[j], kept[e]) ? 1u : 0u;
        sorted[rank] = kept[e];
      }
    } else if (at.thread == 0) {
      *out = draw(tile.total);
    }
  }

  // text::Sampler::draw_from_prefix over sorted[0, count).
  FORMA_HD std::int32_t draw(unsigned count) const {
    if (count == 0) return 0;
    float cumulative = 0.0f;
    unsigned last = count - 1;
    for (unsigned i = 0; i < count; ++i) {
      cumulative += sorted[i].probability;
      if (cumulative > top_p) {
        last = i;
        break;
      }
    }
    const float r = coin * cumulative;
    float cdf = 0.0f;
    for (unsigned i = 0; i <= last; ++i) {
      cdf += sorted[i].probability;
      if (r < cdf) return sorted[i].index;
    }
    return sorted[last].index;
  }
};

}  // namespace forma::kernels::cuda
