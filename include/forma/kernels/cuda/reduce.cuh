// forma/kernels/cuda/reduce.cuh — argmax of a device array (kernels/cpu/reduce.hpp's rule: first
// index on ties, first NaN), for greedy decoding: one index crosses to the host. Body: reduce.hpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "forma/core/contract.hpp"
#include "forma/kernels/cuda/launch.cuh"
#include "forma/kernels/cuda/reduce.hpp"

namespace forma::kernels::cuda {

// Writes the index into device memory (*device_index) on `stream`; count must be > 0.
inline void argmax(const float* x, std::size_t count, std::int64_t* device_index,
                   cudaStream_t stream) {
  if (count == 0) contract::fail_shape("argmax: the array is empty");
  launch(argmax_body{x, static_cast<unsigned>(count), device_index}, launch_shape{1, max_block_threads},
         stream);
}

// The index, copied back (synchronous); `device_index` is scratch for one std::int64_t.
inline std::size_t argmax(const float* x, std::size_t count, std::int64_t* device_index) {
  argmax(x, count, device_index, nullptr);
  std::int64_t index = 0;
  FORMA_CUDA_CHECK(cudaMemcpy(&index, device_index, sizeof index, cudaMemcpyDeviceToHost));
  return static_cast<std::size_t>(index);
}

}  // namespace forma::kernels::cuda
