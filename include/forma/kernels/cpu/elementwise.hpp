// forma/kernels/cpu/elementwise.hpp — element-wise maps over contiguous arrays.
//
// out[i] = op(a[i], b[i]) and friends. `out` may alias `a` or `b` exactly (in-place updates);
// partial overlaps are the caller's error.
#pragma once

#include <cstddef>

#include "forma/core/parallel.hpp"

namespace forma::kernels::cpu {

// out[i] = op(a[i], b[i]) for i < count.
template <class T, class Op>
void binary(const T* a, const T* b, T* out, std::size_t count, Op op) {
  constexpr std::size_t chunk = 4096;
  const std::size_t chunks = (count + chunk - 1) / chunk;
  parallel_for(chunks, chunk, [&](std::size_t c) {
    const std::size_t begin = c * chunk, end = begin + chunk < count ? begin + chunk : count;
    for (std::size_t i = begin; i < end; ++i) out[i] = op(a[i], b[i]);
  });
}

// out[i] = op(a[i], scalar) for i < count.
template <class T, class Op>
void binary_scalar(const T* a, T scalar, T* out, std::size_t count, Op op) {
  for (std::size_t i = 0; i < count; ++i) out[i] = op(a[i], scalar);
}

// out[i] = op(scalar, a[i]) for i < count.
template <class T, class Op>
void scalar_binary(T scalar, const T* a, T* out, std::size_t count, Op op) {
  for (std::size_t i = 0; i < count; ++i) out[i] = op(scalar, a[i]);
}

// out[r, c] = op(x[r, c], row[c]) for a row-major rows × cols x: a row vector broadcast down
// the rows (a bias add).
template <class T, class Op>
void broadcast_rows(const T* x, const T* row, T* out, std::size_t rows, std::size_t cols, Op op) {
  parallel_for(rows, cols, [&](std::size_t r) {
    const T* in = x + r * cols;
    T* result = out + r * cols;
    for (std::size_t c = 0; c < cols; ++c) result[c] = op(in[c], row[c]);
  });
}

}  // namespace forma::kernels::cpu
