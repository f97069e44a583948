// forma/kernels/cuda/elementwise.cuh — element-wise maps (the residual add) and the embedding
// gather on device arrays, with the CPU kernels' names (kernels/cpu/elementwise.hpp, and
// ops/embedding.hpp's checks). Body: elementwise.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "forma/core/error.hpp"
#include "forma/kernels/cuda/elementwise.hpp"
#include "forma/kernels/cuda/launch.cuh"

namespace forma::kernels::cuda {

// out[i] = op(a[i], b[i]) for i < count; out may alias a or b exactly.
template <class T, class Op>
void binary(const T* a, const T* b, T* out, std::size_t count, Op op, cudaStream_t stream = nullptr) {
  launch(binary_body<T, Op>{a, b, out, count, op}, elementwise_launch(count), stream);
}

// out (rows, width) = table[ids] with device ids already known to lie in [0, vocab).
inline void gather_rows(const float* table, const std::int32_t* device_ids, float* out,
                        std::size_t rows, std::size_t width, cudaStream_t stream = nullptr) {
  const embedding_body body{table, device_ids, out, static_cast<unsigned>(rows),
                            static_cast<unsigned>(width)};
  launch(body, elementwise_launch(body.count()), stream);
}

// The embedding lookup from host token ids: every id is checked against the vocabulary first (an
// out-of-range id is an errc::out_of_range Error and nothing is written), then the ids are copied
// into `device_ids` (room for ids.size()) and the rows gathered. Synchronous.
inline Result<void> embedding(const float* table, std::size_t vocab, std::size_t width,
                              std::span<const std::int32_t> ids, std::int32_t* device_ids,
                              float* out) {
  for (const std::int32_t id : ids) {
    if (id < 0 || static_cast<std::size_t>(id) >= vocab) {
      return make_error(errc::out_of_range, "embedding: token id " + std::to_string(id) +
                                                " is out of range for a vocabulary of " +
                                                std::to_string(vocab));
    }
  }
  if (ids.empty()) return {};
  FORMA_CUDA_CHECK(cudaMemcpy(device_ids, ids.data(), ids.size_bytes(), cudaMemcpyHostToDevice));
  gather_rows(table, device_ids, out, ids.size(), width);
  FORMA_CUDA_CHECK(cudaDeviceSynchronize());
  return {};
}

}  // namespace forma::kernels::cuda
