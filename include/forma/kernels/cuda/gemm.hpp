// forma/kernels/cuda/gemm.hpp — the body of the CUDA matrix-vector kernel for decode (gemm.cuh
// launches it; matrix products go to cuBLAS there).
//
// gemv: y (M) = A (M, K) · x (K), A row-major with leading dimension lda. One block per row; each
// thread sums a strided slice of the row's products in order, a tree reduction over the block
// combines the slices. The CPU kernel (kernels/cpu/gemm.hpp) sums 16 interleaved lanes, so the
// two agree to rounding, not bit for bit.
#pragma once

#include <cstddef>

#include "forma/core/config.hpp"
#include "forma/kernels/cuda/grid.hpp"

namespace forma::kernels::cuda {

struct gemv_body {
  const float* a;
  std::size_t lda;
  const float* x;
  float* y;
  unsigned k;

  struct shared_type {
    float partial[max_block_threads];
  };
  using registers_type = no_registers;

  FORMA_HD unsigned phases(unsigned block_dim) const { return 2 + reduction_steps(block_dim); }

  FORMA_HD void phase(unsigned p, const thread_index& at, shared_type& tile,
                      registers_type&) const {
    const unsigned steps = reduction_steps(at.block_dim);
    if (p == 0) {
      const float* row = a + static_cast<std::size_t>(at.block) * lda;
      float sum = 0;
      for (unsigned j = at.thread; j < k; j += at.block_dim) sum += row[j] * x[j];
      tile.partial[at.thread] = sum;
    } else if (p <= steps) {
      reduction_step(p - 1, at.thread, at.block_dim, tile.partial, sum_op{});
    } else if (at.thread == 0) {
      y[at.block] = tile.partial[0];
    }
  }
};

}  // namespace forma::kernels::cuda
