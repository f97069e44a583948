// forma/kernels/cuda/grid.hpp — what every hand-written CUDA kernel is made of, in plain C++:
// launch shapes, the architectures' limits, block reductions written as barrier phases, and the
// CPU grid runner that executes a kernel body over its whole grid without a GPU.
//
// A kernel body is a struct holding the kernel's arguments with
//   shared_type                  the block's shared-memory tile (a trivial aggregate)
//   registers_type               what one thread keeps from one phase to the next
//   phases(block_dim)            the number of phases, separated by __syncthreads()
//   phase(p, at, tile, regs)     phase p of thread `at` (FORMA_HD)
// The GPU runs it as one __global__ (kernels/cuda/launch.cuh): each thread runs phase 0, barrier,
// phase 1, ... The CPU grid runner runs, for each block, phase p for every thread of the block
// before phase p + 1 of any — which is what the barriers guarantee on the GPU — so a body that is
// right on the runner for every thread order is right on the GPU. What the runner cannot model:
// warp-synchronous code (shuffles, votes) and library calls (cuBLAS); the bodies use neither.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "forma/core/config.hpp"
#include "forma/core/contract.hpp"

namespace forma::kernels::cuda {

// The block size every body's shared tile is sized for; a block has at most this many threads.
inline constexpr unsigned max_block_threads = 256;
// The smallest block a row kernel uses: one warp.
inline constexpr unsigned min_block_threads = 32;
// gridDim.x's limit (2³¹ − 1) on every architecture forma builds for.
inline constexpr std::size_t max_grid_blocks = 2147483647u;

// The limits a kernel's launch must respect, per compute capability (CUDA C++ Programming Guide,
// "Technical Specifications per Compute Capability").
struct architecture {
  unsigned compute_capability;         // 80 = sm_80
  std::size_t static_shared_bytes;     // statically declared __shared__ per block
  std::size_t max_shared_bytes_optin;  // dynamic shared memory per block, opted in
  unsigned max_threads_per_block;
};
inline constexpr architecture architectures[] = {
    {80, 48 * 1024, 163 * 1024, 1024},  // A100
    {86, 48 * 1024, 99 * 1024, 1024},   // RTX 30xx, A10, A40
    {89, 48 * 1024, 99 * 1024, 1024},   // RTX 40xx, L4, L40
    {90, 48 * 1024, 227 * 1024, 1024},  // H100, H200
};

// True when a body's shared tile fits the static shared memory of every architecture above and
// its block fits their thread limit (each launcher static_asserts it).
template <class Body>
constexpr bool fits_every_architecture() {
  for (const architecture& arch : architectures) {
    if (sizeof(typename Body::shared_type) > arch.static_shared_bytes) return false;
    if (max_block_threads > arch.max_threads_per_block) return false;
  }
  return true;
}

// Where a thread is: blockIdx.x, threadIdx.x, blockDim.x, gridDim.x.
struct thread_index {
  unsigned block;
  unsigned thread;
  unsigned block_dim;
  unsigned grid_dim;
};

struct launch_shape {
  unsigned grid;
  unsigned block;
  friend constexpr bool operator==(launch_shape, launch_shape) = default;
};

constexpr std::size_t ceil_div(std::size_t a, std::size_t b) noexcept { return (a + b - 1) / b; }

// The block of a kernel that reduces rows of n elements: a power of two in [32, 256], no wider
// than the row needs.
constexpr unsigned reduction_block(std::size_t n) noexcept {
  if (n <= min_block_threads) return min_block_threads;
  if (n >= max_block_threads) return max_block_threads;
  return static_cast<unsigned>(std::bit_ceil(n));
}

// One block per row (rows × n).
constexpr launch_shape rows_launch(std::size_t rows, std::size_t n) {
  if (rows > max_grid_blocks) contract::fail_shape("CUDA launch: more rows than gridDim.x allows");
  return {static_cast<unsigned>(rows), reduction_block(n)};
}

// One thread per element, blocks of 256.
constexpr launch_shape elementwise_launch(std::size_t count) {
  const std::size_t blocks = ceil_div(count, max_block_threads);
  if (blocks > max_grid_blocks) contract::fail_shape("CUDA launch: more elements than one grid holds");
  return {static_cast<unsigned>(blocks == 0 ? 1 : blocks), max_block_threads};
}

// The number of halving steps of a tree reduction over a power-of-two block.
FORMA_HD constexpr unsigned reduction_steps(unsigned block_dim) noexcept {
  unsigned steps = 0;
  while ((1u << steps) < block_dim) ++steps;
  return steps;
}

// Step `step` of a tree reduction of partial[0 .. block_dim) into partial[0]: thread t < stride
// combines partial[t] and partial[t + stride]. One phase per step; the combined pairs are fixed,
// so the result does not depend on the order threads run in.
template <class T, class Combine>
FORMA_HD void reduction_step(unsigned step, unsigned thread, unsigned block_dim, T* partial,
                             Combine combine) {
  const unsigned stride = block_dim >> (step + 1);
  if (thread < stride) partial[thread] = combine(partial[thread], partial[thread + stride]);
}

struct sum_op {
  template <class T>
  FORMA_HD T operator()(T a, T b) const noexcept {
    return a + b;
  }
};
struct max_op {
  template <class T>
  FORMA_HD T operator()(T a, T b) const noexcept {
    return b > a ? b : a;
  }
};

// The CPU grid runner. Threads of a phase run in increasing order, or in decreasing order when
// asked (a body whose result depends on it has a race on the GPU). Shared tiles start filled with
// 0xFF bytes (NaN floats), so a body that reads shared memory it did not write shows it.
enum class thread_order : unsigned char { forward, reverse };

template <class Body>
void run_on_cpu_grid(const Body& body, launch_shape shape,
                     thread_order order = thread_order::forward) {
  static_assert(std::is_trivially_copyable_v<typename Body::shared_type>,
                "a body's shared tile must be a trivial aggregate (as __shared__ requires)");
  if (shape.block == 0 || shape.block > max_block_threads || (shape.block & (shape.block - 1)) != 0) {
    contract::fail_shape("CUDA launch: the block must be a power of two in [1, 256]");
  }
  auto tile = std::make_unique<typename Body::shared_type>();
  std::vector<typename Body::registers_type> registers(shape.block);
  const unsigned phases = body.phases(shape.block);
  for (unsigned block = 0; block < shape.grid; ++block) {
    std::memset(static_cast<void*>(tile.get()), 0xFF, sizeof(typename Body::shared_type));
    std::fill(registers.begin(), registers.end(), typename Body::registers_type{});
    for (unsigned p = 0; p < phases; ++p) {
      for (unsigned i = 0; i < shape.block; ++i) {
        const unsigned thread = order == thread_order::forward ? i : shape.block - 1 - i;
        body.phase(p, thread_index{block, thread, shape.block, shape.grid}, *tile,
                   registers[thread]);
      }
    }
  }
}

// Bodies without shared memory or per-thread state use these.
struct no_shared {
  unsigned char unused;
};
struct no_registers {};

}  // namespace forma::kernels::cuda
