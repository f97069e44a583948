// forma/kernels/cpu/reduce.hpp — reductions along the last axis of a row-major array.
//
// Each row is reduced by one thread in a fixed order, so results do not depend on the thread
// count. NaN propagates: max of a row with a NaN is NaN, and argmax points at the first NaN
// (NumPy and PyTorch do the same); ties go to the first index.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "forma/core/parallel.hpp"

namespace forma::kernels::cpu {

namespace detail {
template <class T>
constexpr bool is_nan(T value) noexcept {
  if constexpr (std::is_floating_point_v<T>) {
    return value != value;
  } else {
    return false;
  }
}
}  // namespace detail

// Sum of x[0..count) in double precision for floats (then rounded once), in T otherwise.
template <class T>
T sum(const T* x, std::size_t count) noexcept {
  using acc_t = std::conditional_t<std::is_floating_point_v<T>, double, T>;
  acc_t total = 0;
  for (std::size_t i = 0; i < count; ++i) total += static_cast<acc_t>(x[i]);
  return static_cast<T>(total);
}

// Index of the largest element (first on ties, first NaN if any); count must be > 0.
template <class T>
std::size_t argmax(const T* x, std::size_t count) noexcept {
  std::size_t best = 0;
  if (detail::is_nan(x[0])) return 0;
  for (std::size_t i = 1; i < count; ++i) {
    if (detail::is_nan(x[i])) return i;
    if (x[i] > x[best]) best = i;
  }
  return best;
}

// out[r] = sum of row r.
template <class T>
void sum_rows(const T* x, T* out, std::size_t rows, std::size_t cols) {
  parallel_for(rows, cols, [&](std::size_t r) { out[r] = sum(x + r * cols, cols); });
}

// out[r] = max of row r (cols must be > 0).
template <class T>
void max_rows(const T* x, T* out, std::size_t rows, std::size_t cols) {
  parallel_for(rows, cols, [&](std::size_t r) {
    const T* row = x + r * cols;
    out[r] = row[argmax(row, cols)];
  });
}

// out[r] = index of the max of row r (cols must be > 0).
template <class T>
void argmax_rows(const T* x, std::int64_t* out, std::size_t rows, std::size_t cols) {
  parallel_for(rows, cols, [&](std::size_t r) {
    out[r] = static_cast<std::int64_t>(argmax(x + r * cols, cols));
  });
}

}  // namespace forma::kernels::cpu
