// forma/kernels/cuda/gemm.cuh — matrix products on the device with the CPU kernels' names and
// arguments (kernels/cpu/gemm.hpp): row-major arrays with leading dimensions, C overwritten.
//   gemm_nn: A (M, K), B (K, N)               => C (M, N)     cuBLAS
//   gemm_nt: A (M, K), B (N, K) used as Bᵀ    => C (M, N)     cuBLAS; f32, or bf16/f16 inputs
//                                                             with f32 accumulation and output
//   gemv:    A (M, K) · x (K)                 => y (M)        hand-written (gemm.hpp), for decode:
//                                                             A in f32, bf16 or ggml Q8_0 (K % 32 == 0)
// cuBLAS is column-major: a row-major (M, N) C is its (N, M) Cᵀ, so C = A·B is computed as
// Cᵀ = Bᵀ·Aᵀ with the operands swapped. f32 uses CUBLAS_COMPUTE_32F (no TF32), so results agree
// with the CPU to f32 rounding.
#pragma once

#include <cublas_v2.h>

#include <cstddef>
#include <utility>

#include "forma/core/contract.hpp"
#include "forma/core/dtype.hpp"
#include "forma/kernels/cuda/check.cuh"
#include "forma/kernels/cuda/gemm.hpp"
#include "forma/kernels/cuda/launch.cuh"

namespace forma::kernels::cuda {

// An owned cuBLAS handle.
class Blas {
 public:
  Blas() { FORMA_CUBLAS_CHECK(cublasCreate(&handle_)); }
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;
  Blas(Blas&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Blas& operator=(Blas&& other) noexcept {
    if (this != &other) {
      destroy();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  ~Blas() { destroy(); }

  cublasHandle_t get() const noexcept { return handle_; }
  void set_stream(cudaStream_t stream) { FORMA_CUBLAS_CHECK(cublasSetStream(handle_, stream)); }

 private:
  void destroy() noexcept {
    if (handle_ != nullptr) (void)cublasDestroy(handle_);
    handle_ = nullptr;
  }
  cublasHandle_t handle_ = nullptr;
};

// This thread's handle, created on first use (on the legacy default stream).
inline Blas& default_blas() {
  thread_local Blas blas;
  return blas;
}

namespace detail {
template <class T>
constexpr cudaDataType_t cuda_data_type() {
  if constexpr (std::is_same_v<T, float>) {
    return CUDA_R_32F;
  } else if constexpr (std::is_same_v<T, bf16>) {
    return CUDA_R_16BF;
  } else {
    static_assert(std::is_same_v<T, f16>, "cuBLAS products take f32, bf16 or f16 inputs");
    return CUDA_R_16F;
  }
}

// Row-major C (M, N) = op(A) · op(B), through column-major cuBLAS as Cᵀ = op(B)ᵀ · op(A)ᵀ.
template <class T>
void gemm_row_major(const Blas& blas, bool b_transposed, std::size_t M, std::size_t N,
                    std::size_t K, const T* A, std::size_t lda, const T* B, std::size_t ldb,
                    float* C, std::size_t ldc) {
  if (M == 0 || N == 0) return;
  const float one = 1.0f, zero = 0.0f;
  FORMA_CUBLAS_CHECK(cublasGemmEx(
      blas.get(), b_transposed ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(N),
      static_cast<int>(M), static_cast<int>(K), &one, B, cuda_data_type<T>(), static_cast<int>(ldb),
      A, cuda_data_type<T>(), static_cast<int>(lda), &zero, C, CUDA_R_32F, static_cast<int>(ldc),
      CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}
}  // namespace detail

inline void gemm_nn(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda,
                    const float* B, std::size_t ldb, float* C, std::size_t ldc,
                    const Blas& blas = default_blas()) {
  detail::gemm_row_major(blas, false, M, N, K, A, lda, B, ldb, C, ldc);
}

// A and B in f32, bf16 or f16; C in f32 (the accumulation's precision).
template <class T>
void gemm_nt(std::size_t M, std::size_t N, std::size_t K, const T* A, std::size_t lda, const T* B,
             std::size_t ldb, float* C, std::size_t ldc, const Blas& blas = default_blas()) {
  detail::gemm_row_major(blas, true, M, N, K, A, lda, B, ldb, C, ldc);
}

inline void gemv(std::size_t M, std::size_t K, const float* A, std::size_t lda, const float* x,
                 float* y, cudaStream_t stream = nullptr) {
  launch(gemv_body{A, lda, x, y, static_cast<unsigned>(K)}, rows_launch(M, K), stream);
}

inline void gemv(std::size_t M, std::size_t K, const bf16* A, std::size_t lda, const float* x,
                 float* y, cudaStream_t stream = nullptr) {
  launch(gemv_bf16_body{A, lda, x, y, static_cast<unsigned>(K)}, rows_launch(M, K), stream);
}

// A: M rows of K / 32 Q8_0 blocks (34 bytes each: f16 scale, 32 int8), as GGUF stores them.
inline void gemv_q8_0(std::size_t M, std::size_t K, const std::uint8_t* A, const float* x, float* y,
                      cudaStream_t stream = nullptr) {
  if (K % q8_0_block_values != 0) contract::fail_shape("gemv_q8_0: K is not a multiple of 32");
  launch(gemv_q8_0_body{A, x, y, static_cast<unsigned>(K)},
         rows_launch(M, K / q8_0_block_values), stream);
}

}  // namespace forma::kernels::cuda
