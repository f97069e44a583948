// forma/kernels/cuda/norm.hpp — the bodies of the CUDA RMSNorm and LayerNorm kernels (plain C++,
// FORMA_HD; launched by norm.cuh, run on the CPU by grid.hpp's runner in the tests).
//
// One block per row of n; each thread sums a strided slice, a tree reduction over the block's
// shared tile combines them, and every thread writes its slice. The arithmetic per element is the
// CPU kernel's (kernels/cpu/norm.hpp); only the order of the row sums differs (strided, then a
// tree). `out` may alias `x`: every read of a row ends before the first barrier of its writes.
#pragma once

#include <cmath>
#include <cstddef>

#include "forma/core/config.hpp"
#include "forma/kernels/cuda/grid.hpp"

namespace forma::kernels::cuda {

// rmsnorm_rows: x (rows, n), weight (n) => out (rows, n); llama2.c's order per element.
struct rmsnorm_body {
  const float* x;
  const float* weight;
  float* out;
  unsigned n;
  float eps;

  struct shared_type {
    float partial[max_block_threads];
  };
  using registers_type = no_registers;

  FORMA_HD unsigned phases(unsigned block_dim) const { return 2 + reduction_steps(block_dim); }

  FORMA_HD void phase(unsigned p, const thread_index& at, shared_type& tile,
                      registers_type&) const {
    const float* row = x + static_cast<std::size_t>(at.block) * n;
    const unsigned steps = reduction_steps(at.block_dim);
    if (p == 0) {
      float sum_of_squares = 0;
      for (unsigned j = at.thread; j < n; j += at.block_dim) sum_of_squares += row[j] * row[j];
      tile.partial[at.thread] = sum_of_squares;
    } else if (p <= steps) {
      reduction_step(p - 1, at.thread, at.block_dim, tile.partial, sum_op{});
    } else {
      using std::sqrt;
      float mean_square = tile.partial[0];
      mean_square /= static_cast<float>(n);
      mean_square += eps;
      const float scale = 1.0f / sqrt(mean_square);
      float* out_row = out + static_cast<std::size_t>(at.block) * n;
      for (unsigned j = at.thread; j < n; j += at.block_dim) {
        out_row[j] = weight[j] * (scale * row[j]);
      }
    }
  }
};

// layernorm_rows: x (rows, n), weight (n), bias (n) => out (rows, n); mean and variance in double
// (two passes, as the CPU kernel), the row written in float.
struct layernorm_body {
  const float* x;
  const float* weight;
  const float* bias;
  float* out;
  unsigned n;
  float eps;

  struct shared_type {
    double partial[max_block_threads];
  };
  struct registers_type {
    double mean;
  };

  // sum, reduce, read the mean, centered squares, reduce, write.
  FORMA_HD unsigned phases(unsigned block_dim) const { return 4 + 2 * reduction_steps(block_dim); }

  FORMA_HD void phase(unsigned p, const thread_index& at, shared_type& tile,
                      registers_type& registers) const {
    const float* row = x + static_cast<std::size_t>(at.block) * n;
    const unsigned steps = reduction_steps(at.block_dim);
    if (p == 0) {
      double sum = 0;
      for (unsigned j = at.thread; j < n; j += at.block_dim) sum += static_cast<double>(row[j]);
      tile.partial[at.thread] = sum;
    } else if (p <= steps) {
      reduction_step(p - 1, at.thread, at.block_dim, tile.partial, sum_op{});
    } else if (p == steps + 1) {
      registers.mean = tile.partial[0] / static_cast<double>(n);
    } else if (p == steps + 2) {
      double variance = 0;
      for (unsigned j = at.thread; j < n; j += at.block_dim) {
        const double centered = static_cast<double>(row[j]) - registers.mean;
        variance += centered * centered;
      }
      tile.partial[at.thread] = variance;
    } else if (p <= 2 * steps + 2) {
      reduction_step(p - steps - 3, at.thread, at.block_dim, tile.partial, sum_op{});
    } else {
      using std::sqrt;
      const double variance = tile.partial[0] / static_cast<double>(n);
      const double scale = 1.0 / sqrt(variance + static_cast<double>(eps));
      float* out_row = out + static_cast<std::size_t>(at.block) * n;
      for (unsigned j = at.thread; j < n; j += at.block_dim) {
        const double normalized = (static_cast<double>(row[j]) - registers.mean) * scale;
        out_row[j] = static_cast<float>(normalized * static_cast<double>(weight[j]) +
                                        static_cast<double>(bias[j]));
      }
    }
  }
};

}  // namespace forma::kernels::cuda
