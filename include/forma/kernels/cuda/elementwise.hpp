// forma/kernels/cuda/elementwise.hpp — the bodies of the CUDA element-wise kernels
// (elementwise.cuh launches them): out[i] = op(a[i], b[i]) with kernels/math.hpp's operations
// (math::add is the residual add), and the embedding gather. One thread per element; the same
// bits as the CPU kernels on the grid runner and on the GPU (one IEEE operation, or a copy).
#pragma once

#include <cstddef>
#include <cstdint>

#include "forma/core/config.hpp"
#include "forma/kernels/cuda/grid.hpp"
#include "forma/kernels/math.hpp"

namespace forma::kernels::cuda {

// out[i] = op(a[i], b[i]); out may alias a or b exactly.
template <class T, class Op>
struct binary_body {
  const T* a;
  const T* b;
  T* out;
  std::size_t count;
  Op op;

  using shared_type = no_shared;
  using registers_type = no_registers;
  FORMA_HD unsigned phases(unsigned) const { return 1; }
  FORMA_HD void phase(unsigned, const thread_index& at, shared_type&, registers_type&) const {
    const std::size_t i = static_cast<std::size_t>(at.block) * at.block_dim + at.thread;
    if (i < count) out[i] = op(a[i], b[i]);
  }
};

// Embedding gather: out[r, :] = table[ids[r], :] for rows × width; the ids were checked against
// the table's rows on the host before the launch (embedding.cuh), so none is out of range here.
struct embedding_body {
  const float* table;
  const std::int32_t* ids;
  float* out;
  unsigned rows;
  unsigned width;

  using shared_type = no_shared;
  using registers_type = no_registers;
  FORMA_HD std::size_t count() const { return static_cast<std::size_t>(rows) * width; }
  FORMA_HD unsigned phases(unsigned) const { return 1; }
  FORMA_HD void phase(unsigned, const thread_index& at, shared_type&, registers_type&) const {
    const std::size_t i = static_cast<std::size_t>(at.block) * at.block_dim + at.thread;
    if (i >= count()) return;
    const std::size_t row = i / width, column = i % width;
    out[i] = table[static_cast<std::size_t>(ids[row]) * width + column];
  }
};

}  // namespace forma::kernels::cuda
