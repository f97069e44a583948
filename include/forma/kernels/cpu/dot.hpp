// forma/kernels/cpu/dot.hpp — the inner product every matrix kernel is built on.
#pragma once

#include <cstddef>

#include "forma/core/config.hpp"

namespace forma::kernels::cpu {

// Σ a[i]·b[i] over `Lanes` interleaved partial sums (which the compiler turns into SIMD lanes),
// then a fixed pairwise combine: the same inputs always give the same bits. Lanes = 1 is the plain
// left-to-right sum (llama2.c's order, bit for bit).
template <class T, std::size_t Lanes = 16>
FORMA_ALWAYS_INLINE T dot(const T* FORMA_RESTRICT a, const T* FORMA_RESTRICT b,
                          std::size_t count) noexcept {
  static_assert(Lanes > 0 && (Lanes & (Lanes - 1)) == 0, "dot: Lanes must be a power of two");
  if constexpr (Lanes == 1) {
    T total = 0;
    for (std::size_t i = 0; i < count; ++i) total += a[i] * b[i];
    return total;
  }
  constexpr std::size_t lanes = Lanes;
  const std::size_t full = count - count % lanes;
  T partial[lanes] = {};
  for (std::size_t i = 0; i < full; i += lanes) {
    for (std::size_t l = 0; l < lanes; ++l) partial[l] += a[i + l] * b[i + l];
  }
  for (std::size_t width = lanes / 2; width > 0; width /= 2) {
    for (std::size_t l = 0; l < width; ++l) partial[l] += partial[l + width];
  }
  T total = partial[0];
  for (std::size_t i = full; i < count; ++i) total += a[i] * b[i];
  return total;
}

// Rows dot products against one b: out[r] = dot<T, Lanes>(a[r], b, count), the same bits as Rows
// calls of dot(). For Lanes = 1 (run.c's left-to-right order) the rows' sums are interleaved:
// Rows independent add chains instead of one waiting on each add's latency (2-4x on the
// decode matrix-vector products, same operations in the same order per row).
template <class T, std::size_t Lanes, std::size_t Rows>
FORMA_ALWAYS_INLINE void dot_rows(const T* const (&a)[Rows], const T* FORMA_RESTRICT b, std::size_t count,
                                  T (&out)[Rows]) noexcept {
  static_assert(Lanes > 0 && (Lanes & (Lanes - 1)) == 0, "dot_rows: Lanes must be a power of two");
  if constexpr (Lanes == 1) {
    T total[Rows] = {};
    for (std::size_t i = 0; i < count; ++i) {
      for (std::size_t r = 0; r < Rows; ++r) total[r] += a[r][i] * b[i];
    }
    for (std::size_t r = 0; r < Rows; ++r) out[r] = total[r];
  } else {
    // Lanes partial sums already give the adds enough independent chains; an interleaved
    // Rows × Lanes version spilled its accumulators to the stack and ran slower (GCC 12, AVX2).
    for (std::size_t r = 0; r < Rows; ++r) out[r] = dot<T, Lanes>(a[r], b, count);
  }
}

}  // namespace forma::kernels::cpu
