// forma/kernels/cuda/check.cuh — every CUDA runtime and cuBLAS call checked, failures as forma's
// Error (errc::device) naming the call, the code and its text:
//   "cudaMalloc(&pointer, bytes) failed: cudaErrorMemoryAllocation (out of memory)"
// "No device" (cudaErrorNoDevice, cudaErrorInsufficientDriver) is an Error with the same words
// plus what it means, never a crash: `cuda::require_device()` checks it up front.
//
// Host code only (the CUDA runtime API and cuBLAS are C headers), so g++ can compile it too when
// the CUDA include directory is on its path.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>
#include <string_view>

#include "forma/core/error.hpp"

namespace forma::kernels::cuda {

inline Error cuda_error(std::string_view call, cudaError_t status) {
  std::string message = std::string(call) + " failed: " + cudaGetErrorName(status) + " (" +
                        cudaGetErrorString(status) + ")";
  if (status == cudaErrorNoDevice || status == cudaErrorInsufficientDriver) {
    message += ": no usable CUDA device (no GPU, or no driver for this CUDA runtime)";
  }
  return make_error(errc::device, std::move(message));
}

inline const char* cublas_status_name(cublasStatus_t status) noexcept {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

inline Error cublas_error(std::string_view call, cublasStatus_t status) {
  return make_error(errc::device, std::string(call) + " failed: " + cublas_status_name(status) +
                                      " (" + cublasGetStatusString(status) + ")");
}

namespace detail {
inline void check(cudaError_t status, std::string_view call) {
  if (status != cudaSuccess) {
    (void)cudaGetLastError();  // reset the (non-sticky) error state for the next call
    forma::detail::throw_error(cuda_error(call, status));
  }
}
inline void check(cublasStatus_t status, std::string_view call) {
  if (status != CUBLAS_STATUS_SUCCESS) forma::detail::throw_error(cublas_error(call, status));
}
}  // namespace detail

// The number of CUDA devices, or the Error that says why there are none.
inline Result<int> device_count() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    return cuda_error("cudaGetDeviceCount(&count)", status);
  }
  if (count == 0) {
    return cuda_error("cudaGetDeviceCount(&count)", cudaErrorNoDevice);
  }
  return count;
}

// Success when at least one CUDA device can be used; call it at startup for a clear message.
inline Result<void> require_device() {
  auto count = device_count();
  if (!count) return std::move(count).error();
  return {};
}

}  // namespace forma::kernels::cuda

// FORMA_CUDA_CHECK(call) / FORMA_CUBLAS_CHECK(call): run the call; a failure throws forma's
// error_exception (or aborts with the message where exceptions are off) naming the call.
#define FORMA_CUDA_CHECK(...) ::forma::kernels::cuda::detail::check((__VA_ARGS__), #__VA_ARGS__)
#define FORMA_CUBLAS_CHECK(...) ::forma::kernels::cuda::detail::check((__VA_ARGS__), #__VA_ARGS__)
