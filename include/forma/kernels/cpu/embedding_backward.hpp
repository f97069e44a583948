// forma/kernels/cpu/embedding_backward.hpp — the gradients of table lookups.
//
//   embedding:  out[t] = table[ids[t]]            => dtable[ids[t]] += dy[t]   (scatter-add)
//   positions:  out[t] = table[first + t]         => dtable[first + t] += dy[t]
// dy is (tokens, width), dtable (V, width), both row-major. A repeated id adds every one of its
// rows, in token order. The ids are valid (the op checks them first).
#pragma once

#include <cstddef>
#include <cstdint>

namespace forma::kernels::cpu {

template <class T>
void embedding_backward(const std::int32_t* ids, const T* dy, T* dtable, std::size_t tokens,
                        std::size_t width) noexcept {
  for (std::size_t t = 0; t < tokens; ++t) {
    T* row = dtable + static_cast<std::size_t>(ids[t]) * width;
    const T* g = dy + t * width;
    for (std::size_t j = 0; j < width; ++j) row[j] += g[j];
  }
}

template <class T>
void position_embedding_backward(std::size_t first, const T* dy, T* dtable, std::size_t tokens,
                                 std::size_t width) noexcept {
  for (std::size_t t = 0; t < tokens; ++t) {
    T* row = dtable + (first + t) * width;
    const T* g = dy + t * width;
    for (std::size_t j = 0; j < width; ++j) row[j] += g[j];
  }
}

}  // namespace forma::kernels::cpu
