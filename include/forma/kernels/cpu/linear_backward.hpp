// forma/kernels/cpu/linear_backward.hpp — the gradients of y = x · wᵀ + b (the Linear layer).
//
//   x (rows, in), w (out, in), dy (rows, out)
//   dx (rows, in)  = dy · w            overwritten
//   dw (out, in)  += dyᵀ · x           accumulated (gradients of a shared weight add up)
//   db (out)      += Σ_rows dy          accumulated; skipped when db is null
// Each row of dw (and each entry of db) is summed by one thread over the rows in order, so the
// result does not depend on the number of threads.
#pragma once

#include <cstddef>

#include "forma/core/config.hpp"
#include "forma/core/parallel.hpp"
#include "forma/kernels/cpu/gemm.hpp"

namespace forma::kernels::cpu {

template <class T>
void linear_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, std::size_t rows,
                     std::size_t in, std::size_t out) {
  if (dx != nullptr) gemm_nn(rows, in, out, dy, out, w, in, dx, in);
  parallel_for(out, rows * in, [&](std::size_t o) {
    T* FORMA_RESTRICT g = dw + o * in;
    for (std::size_t r = 0; r < rows; ++r) {
      const T a = dy[r * out + o];
      const T* FORMA_RESTRICT xr = x + r * in;
      for (std::size_t i = 0; i < in; ++i) g[i] += a * xr[i];
    }
    if (db != nullptr) {
      T sum = db[o];
      for (std::size_t r = 0; r < rows; ++r) sum += dy[r * out + o];
      db[o] = sum;
    }
  });
}

}  // namespace forma::kernels::cpu
