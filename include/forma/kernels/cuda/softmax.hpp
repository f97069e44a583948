// forma/kernels/cuda/softmax.hpp — the body of the CUDA softmax kernel: one block per row, a max
// and then a sum as block reductions over the shared tile (launched by softmax.cuh).
//
// Row r keeps its first valid(r) entries — all of them, `valid`, or r + offset + 1 (causal) — and
// the rest become exactly 0, as kernels/cpu/softmax.hpp. Per element the same float operations
// (x − max, exp, / sum); the max is exact, the sum is strided then a tree. `out` may alias `x`.
#pragma once

#include <cmath>
#include <cstddef>

#include "forma/core/config.hpp"
#include "forma/kernels/cuda/grid.hpp"

namespace forma::kernels::cuda {

struct softmax_body {
  const float* x;
  float* out;
  unsigned n;
  unsigned valid;   // entries kept per row when not causal (n for a plain softmax)
  bool causal;      // row r keeps r + offset + 1 entries instead
  unsigned offset;

  struct shared_type {
    float partial[max_block_threads];
  };
  struct registers_type {
    float max_value;
  };

  FORMA_HD unsigned row_valid(unsigned row) const {
    const std::size_t kept = causal ? static_cast<std::size_t>(row) + offset + 1 : valid;
    return kept < n ? static_cast<unsigned>(kept) : n;
  }

  // max, reduce, read the max, exp and sum, reduce, divide.
  FORMA_HD unsigned phases(unsigned block_dim) const { return 4 + 2 * reduction_steps(block_dim); }

  FORMA_HD void phase(unsigned p, const thread_index& at, shared_type& tile,
                      registers_type& registers) const {
    const float* row = x + static_cast<std::size_t>(at.block) * n;
    float* out_row = out + static_cast<std::size_t>(at.block) * n;
    const unsigned kept = row_valid(at.block);
    const unsigned steps = reduction_steps(at.block_dim);
    if (p == 0) {
      float max_value = -INFINITY;
      for (unsigned j = at.thread; j < kept; j += at.block_dim) {
        if (row[j] > max_value) max_value = row[j];
      }
      tile.partial[at.thread] = max_value;
    } else if (p <= steps) {
      reduction_step(p - 1, at.thread, at.block_dim, tile.partial, max_op{});
    } else if (p == steps + 1) {
      registers.max_value = tile.partial[0];
    } else if (p == steps + 2) {
      using std::exp;
      float sum = 0;
      for (unsigned j = at.thread; j < kept; j += at.block_dim) {
        const float e = exp(row[j] - registers.max_value);
        out_row[j] = e;
        sum += e;
      }
      tile.partial[at.thread] = sum;
    } else if (p <= 2 * steps + 2) {
      reduction_step(p - steps - 3, at.thread, at.block_dim, tile.partial, sum_op{});
    } else {
      const float sum = tile.partial[0];
      for (unsigned j = at.thread; j < n; j += at.block_dim) {
        out_row[j] = j < kept ? out_row[j] / sum : 0.0f;
      }
    }
  }
};

}  // namespace forma::kernels::cuda
