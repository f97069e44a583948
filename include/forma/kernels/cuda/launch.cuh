// forma/kernels/cuda/launch.cuh — runs a kernel body (grid.hpp) on the GPU: one __global__ for
// every body, its phases separated by __syncthreads(), its shared tile a static __shared__.
#pragma once

#include <cuda_runtime.h>

#include "forma/kernels/cuda/check.cuh"
#include "forma/kernels/cuda/grid.hpp"

namespace forma::kernels::cuda {

template <class Body>
__global__ void __launch_bounds__(max_block_threads) run_body(const Body body) {
  __shared__ typename Body::shared_type tile;
  typename Body::registers_type registers{};
  const thread_index at{blockIdx.x, threadIdx.x, blockDim.x, gridDim.x};
  const unsigned phases = body.phases(blockDim.x);
  for (unsigned p = 0; p < phases; ++p) {
    if (p != 0) __syncthreads();
    body.phase(p, at, tile, registers);
  }
}

// Queues `body` over `shape` on `stream` (0: the legacy default stream); a launch error is
// reported here, an execution error by the next synchronizing call.
template <class Body>
void launch(const Body& body, launch_shape shape, cudaStream_t stream = nullptr) {
  static_assert(fits_every_architecture<Body>(),
                "CUDA launch: the body's shared tile exceeds an architecture's 48 KiB of static "
                "shared memory per block");
  if (shape.grid == 0) return;
  run_body<Body><<<shape.grid, shape.block, 0, stream>>>(body);
  FORMA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace forma::kernels::cuda
