// forma/kernels/cuda/gemm.hpp — the body of the CUDA matrix-vector kernel for decode (gemm.cuh
// launches it; matrix products go to cuBLAS there).
//
// gemv: y (M) = A (M, K) · x (K), A row-major with leading dimension lda. One block per row; each
// thread sums a strided slice of the row's products in order, a tree reduction over the block
// combines the slices. The CPU kernel (kernels/cpu/gemm.hpp) sums 16 interleaved lanes, so the
// two agree to rounding, not bit for bit. Two more weight formats for decode, read in place and
// widened to f32 per element (x and y stay f32):
//   gemv_bf16: A in bf16;
//   gemv_q8_0: A in ggml's Q8_0 (GGUF): each row K/32 blocks of 34 bytes, an f16 scale d then 32
//              int8 q, weight = float(q) · d — the dequantized value io/gguf.hpp computes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "forma/core/config.hpp"
#include "forma/core/dtype.hpp"
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

struct gemv_bf16_body {
  const bf16* a;
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
      const bf16* row = a + static_cast<std::size_t>(at.block) * lda;
      float sum = 0;
      for (unsigned j = at.thread; j < k; j += at.block_dim) sum += static_cast<float>(row[j]) * x[j];
      tile.partial[at.thread] = sum;
    } else if (p <= steps) {
      reduction_step(p - 1, at.thread, at.block_dim, tile.partial, sum_op{});
    } else if (at.thread == 0) {
      y[at.block] = tile.partial[0];
    }
  }
};

inline constexpr unsigned q8_0_block_values = 32;
inline constexpr unsigned q8_0_block_bytes = 34;

struct gemv_q8_0_body {
  const std::uint8_t* a;  // M rows of k / 32 blocks
  const float* x;
  float* y;
  unsigned k;  // a multiple of 32

  struct shared_type {
    float partial[max_block_threads];
  };
  using registers_type = no_registers;

  FORMA_HD unsigned phases(unsigned block_dim) const { return 2 + reduction_steps(block_dim); }

  FORMA_HD void phase(unsigned p, const thread_index& at, shared_type& tile,
                      registers_type&) const {
    const unsigned steps = reduction_steps(at.block_dim);
    const unsigned blocks = k / q8_0_block_values;
    if (p == 0) {
      const std::uint8_t* row = a + static_cast<std::size_t>(at.block) * blocks * q8_0_block_bytes;
      float sum = 0;
      // One thread per 32-value block (a strided set of them): the scale is read once per block.
      for (unsigned b = at.thread; b < blocks; b += at.block_dim) {
        const std::uint8_t* block = row + static_cast<std::size_t>(b) * q8_0_block_bytes;
        const float d = static_cast<float>(
            f16::from_bits(static_cast<std::uint16_t>(block[0] | (block[1] << 8))));
        const float* xb = x + static_cast<std::size_t>(b) * q8_0_block_values;
        for (unsigned i = 0; i < q8_0_block_values; ++i) {
          const float weight = static_cast<float>(static_cast<std::int8_t>(block[2 + i])) * d;
          sum += weight * xb[i];
        }
      }
      tile.partial[at.thread] = sum;
    } else if (p <= steps) {
      reduction_step(p - 1, at.thread, at.block_dim, tile.partial, sum_op{});
    } else if (at.thread == 0) {
      y[at.block] = tile.partial[0];
    }
  }
};

}  // namespace forma::kernels::cuda
