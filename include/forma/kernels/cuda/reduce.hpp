// forma/kernels/cuda/reduce.hpp — the body of the CUDA argmax kernel (reduce.cuh launches it):
// greedy decoding's token choice on the device, so one index is copied back per step.
//
// One block over the whole row: each thread keeps the best of a strided slice, a tree reduction
// combines (value, index) pairs. The rule is the CPU kernel's (kernels/cpu/reduce.hpp): the
// largest value, the first index on ties, the first NaN if there is one — so the index is the
// same, exactly, whatever the order of the partial results.
#pragma once

#include <cstddef>
#include <cstdint>

#include "forma/core/config.hpp"
#include "forma/kernels/cuda/grid.hpp"

namespace forma::kernels::cuda {

struct argmax_candidate {
  float value;
  unsigned index;  // ~0u: this thread saw no element
};

// True when `b` wins over `a` under the CPU kernel's rule.
FORMA_HD inline bool argmax_better(const argmax_candidate& b, const argmax_candidate& a) {
  if (b.index == ~0u) return false;
  if (a.index == ~0u) return true;
  const bool a_nan = a.value != a.value, b_nan = b.value != b.value;
  if (a_nan || b_nan) return b_nan && (!a_nan || b.index < a.index);
  return b.value > a.value || (b.value == a.value && b.index < a.index);
}

struct argmax_combine {
  FORMA_HD argmax_candidate operator()(argmax_candidate a, argmax_candidate b) const {
    return argmax_better(b, a) ? b : a;
  }
};

// out[0] = the index of the best of x[0 .. count), count > 0; run with a grid of one block.
struct argmax_body {
  const float* x;
  unsigned count;
  std::int64_t* out;

  struct shared_type {
    argmax_candidate partial[max_block_threads];
  };
  using registers_type = no_registers;

  FORMA_HD unsigned phases(unsigned block_dim) const { return 2 + reduction_steps(block_dim); }

  FORMA_HD void phase(unsigned p, const thread_index& at, shared_type& tile,
                      registers_type&) const {
    const unsigned steps = reduction_steps(at.block_dim);
    if (p == 0) {
      argmax_candidate best{0.0f, ~0u};
      for (unsigned i = at.thread; i < count; i += at.block_dim) {
        const argmax_candidate candidate{x[i], i};
        if (argmax_better(candidate, best)) best = candidate;
      }
      tile.partial[at.thread] = best;
    } else if (p <= steps) {
      reduction_step(p - 1, at.thread, at.block_dim, tile.partial, argmax_combine{});
    } else if (at.thread == 0) {
      *out = static_cast<std::int64_t>(tile.partial[0].index);
    }
  }
};

}  // namespace forma::kernels::cuda
