// forma/kernels/cpu/dot.hpp — the inner product every matrix kernel is built on.
#pragma once

#include <cstddef>

#include "forma/core/config.hpp"

namespace forma::kernels::cpu {

// Σ a[i]·b[i] over 16 interleaved partial sums (which the compiler turns into SIMD lanes), then a
// fixed pairwise combine: the same inputs always give the same bits.
template <class T>
FORMA_ALWAYS_INLINE T dot(const T* FORMA_RESTRICT a, const T* FORMA_RESTRICT b,
                          std::size_t count) noexcept {
  constexpr std::size_t lanes = 16;
  T partial[lanes] = {};
  std::size_t i = 0;
  for (; i + lanes <= count; i += lanes) {
    for (std::size_t l = 0; l < lanes; ++l) partial[l] += a[i + l] * b[i + l];
  }
  for (std::size_t width = lanes / 2; width > 0; width /= 2) {
    for (std::size_t l = 0; l < width; ++l) partial[l] += partial[l + width];
  }
  T total = partial[0];
  for (; i < count; ++i) total += a[i] * b[i];
  return total;
}

}  // namespace forma::kernels::cpu
