// forma/kernels/cpu/gemm.hpp — C = op(A) · op(B) on row-major arrays with leading dimensions.
//
//   gemm_nn: A (M, K), B (K, N)          => C (M, N)
//   gemm_nt: A (M, K), B (N, K) used as Bᵀ => C (M, N)   (the Linear-layer layout)
//   gemm:    either operand may be transposed (A stored (K, M), B stored (N, K))
// C is overwritten. Each output row is computed by one thread in a fixed order.
#pragma once

#include <cstddef>
#include <type_traits>
#include <vector>

#include "forma/core/config.hpp"
#include "forma/core/parallel.hpp"
#include "forma/kernels/cpu/dot.hpp"
#include "forma/kernels/cpu/gemm_packed.hpp"

namespace forma::kernels::cpu {

template <class T>
void gemm_nn(std::size_t M, std::size_t N, std::size_t K, const T* A, std::size_t lda, const T* B,
             std::size_t ldb, T* C, std::size_t ldc) {
  // Four rows of C at a time share every row of B that is loaded; columns in blocks that keep
  // the four partial rows in L1.
  constexpr std::size_t row_block = 4, col_block = 512;
  const std::size_t row_blocks = (M + row_block - 1) / row_block;
  parallel_for(row_blocks, row_block * N * K, [&](std::size_t block) {
    const std::size_t i0 = block * row_block;
    const std::size_t rows = M - i0 < row_block ? M - i0 : row_block;
    for (std::size_t j0 = 0; j0 < N; j0 += col_block) {
      const std::size_t cols = N - j0 < col_block ? N - j0 : col_block;
      for (std::size_t r = 0; r < rows; ++r) {
        T* c = C + (i0 + r) * ldc + j0;
        for (std::size_t j = 0; j < cols; ++j) c[j] = T{};
      }
      if (rows == row_block) {
        T* FORMA_RESTRICT c0 = C + (i0 + 0) * ldc + j0;
        T* FORMA_RESTRICT c1 = C + (i0 + 1) * ldc + j0;
        T* FORMA_RESTRICT c2 = C + (i0 + 2) * ldc + j0;
        T* FORMA_RESTRICT c3 = C + (i0 + 3) * ldc + j0;
        for (std::size_t k = 0; k < K; ++k) {
          const T* FORMA_RESTRICT b = B + k * ldb + j0;
          const T a0 = A[(i0 + 0) * lda + k], a1 = A[(i0 + 1) * lda + k];
          const T a2 = A[(i0 + 2) * lda + k], a3 = A[(i0 + 3) * lda + k];
          for (std::size_t j = 0; j < cols; ++j) {
            c0[j] += a0 * b[j];
            c1[j] += a1 * b[j];
            c2[j] += a2 * b[j];
            c3[j] += a3 * b[j];
          }
        }
      } else {
        for (std::size_t r = 0; r < rows; ++r) {
          T* FORMA_RESTRICT c = C + (i0 + r) * ldc + j0;
          for (std::size_t k = 0; k < K; ++k) {
            const T* FORMA_RESTRICT b = B + k * ldb + j0;
            const T a = A[(i0 + r) * lda + k];
            for (std::size_t j = 0; j < cols; ++j) c[j] += a * b[j];
          }
        }
      }
    }
  });
}

// Lanes: the partial sums of each dot product (see dot.hpp); 1 sums in order.
template <class T, std::size_t Lanes = 16>
void gemm_nt(std::size_t M, std::size_t N, std::size_t K, const T* A, std::size_t lda, const T* B,
             std::size_t ldb, T* C, std::size_t ldc) {
  parallel_for(M, N * K, [&](std::size_t i) {
    const T* a = A + i * lda;
    T* c = C + i * ldc;
    std::size_t j = 0;
    if constexpr (Lanes == 1) {  // four in-order sums side by side: the same bits, 2-4x faster
      for (; j + 4 <= N; j += 4) {
        const T* rows[4] = {B + j * ldb, B + (j + 1) * ldb, B + (j + 2) * ldb, B + (j + 3) * ldb};
        T out[4];
        dot_rows<T, 1, 4>(rows, a, K, out);
        for (std::size_t r = 0; r < 4; ++r) c[j + r] = out[r];
      }
    }
    for (; j < N; ++j) c[j] = dot<T, Lanes>(B + j * ldb, a, K);
  });
}

// y (M) = A (M, K) · x (K).
template <class T, std::size_t Lanes = 16>
void gemv(std::size_t M, std::size_t K, const T* A, std::size_t lda, const T* x, T* y) {
  if constexpr (Lanes == 1) {
    // Blocks of four rows, their in-order sums interleaved (dot_rows): run.c's bits, without
    // one add's latency per multiply.
    constexpr std::size_t R = 4;
    parallel_for((M + R - 1) / R, R * K, [&](std::size_t block) {
      const std::size_t i0 = block * R;
      if (i0 + R <= M) {
        const T* rows[R] = {A + i0 * lda, A + (i0 + 1) * lda, A + (i0 + 2) * lda, A + (i0 + 3) * lda};
        T out[R];
        dot_rows<T, 1, R>(rows, x, K, out);
        for (std::size_t r = 0; r < R; ++r) y[i0 + r] = out[r];
      } else {
        for (std::size_t i = i0; i < M; ++i) y[i] = dot<T, 1>(A + i * lda, x, K);
      }
    });
  } else {
    parallel_for(M, K, [&](std::size_t i) { y[i] = dot<T, Lanes>(A + i * lda, x, K); });
  }
}

// The general form: A is stored (K, M) when trans_a, B is stored (N, K) when trans_b.
// float with Lanes > 1 (fast_sum) runs the packed GEMM (gemm_packed.hpp: one fma chain per
// element in k order, whatever the ISA and thread count); Lanes = 1 (ordered_sum) and other
// types run the kernels above. A transposed A with a transposed B (and, off the packed path, any
// transposed A) is copied into row-major order first (one allocation of M·K elements).
template <class T, std::size_t Lanes = 16>
void gemm(bool trans_a, bool trans_b, std::size_t M, std::size_t N, std::size_t K, const T* A,
          std::size_t lda, const T* B, std::size_t ldb, T* C, std::size_t ldc) {
  if constexpr (std::is_same_v<T, float> && Lanes != 1) {
    if (!trans_a && !trans_b) return packed::gemm_nn(M, N, K, A, lda, B, ldb, C, ldc);
    if (!trans_a && trans_b) return packed::gemm_nt(M, N, K, A, lda, B, ldb, C, ldc);
    if (trans_a && !trans_b) return packed::gemm_tn(M, N, K, A, lda, B, ldb, C, ldc);
  }
  if (trans_a) {
    std::vector<T> packed(M * K);
    for (std::size_t k = 0; k < K; ++k) {
      for (std::size_t i = 0; i < M; ++i) packed[i * K + k] = A[k * lda + i];
    }
    gemm<T, Lanes>(false, trans_b, M, N, K, packed.data(), K, B, ldb, C, ldc);
    return;
  }
  if (trans_b) {
    gemm_nt<T, Lanes>(M, N, K, A, lda, B, ldb, C, ldc);
  } else {
    gemm_nn(M, N, K, A, lda, B, ldb, C, ldc);
  }
}

}  // namespace forma::kernels::cpu
