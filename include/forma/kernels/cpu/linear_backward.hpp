// forma/kernels/cpu/linear_backward.hpp — the gradients of y = x · wᵀ + b (the Linear layer).
//
//   x (rows, in), w (out, in), dy (rows, out)
//   dx (rows, in)  = dy · w            overwritten; skipped when dx is null
//   dw (out, in)  += dyᵀ · x           accumulated (gradients of a shared weight add up)
//   db (out)      += Σ_rows dy          accumulated; skipped when db is null
// float runs the packed GEMM (gemm_packed.hpp): each element of dx and dw is one fused
// multiply-add chain over the rows (dw's starting from dw), the same bits on every ISA path and
// for any number of threads. Other types (double, for the gradient checks) run the generic loops,
// where each row of dw is summed by one thread over the rows in order. db is summed over the rows
// in order. Neither result depends on the number of threads.
#pragma once

#include <cstddef>
#include <type_traits>

#include "forma/core/config.hpp"
#include "forma/core/parallel.hpp"
#include "forma/kernels/cpu/gemm.hpp"
#include "forma/kernels/cpu/gemm_packed.hpp"

namespace forma::kernels::cpu {

template <class T>
void linear_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, std::size_t rows,
                     std::size_t in, std::size_t out) {
  if constexpr (std::is_same_v<T, float>) {
    if (dx != nullptr) packed::gemm_nn(rows, in, out, dy, out, w, in, dx, in);
    packed::gemm_tn(out, in, rows, dy, out, x, in, dw, in, /*accumulate=*/true);
    if (db != nullptr) {
      // Row by row over contiguous dy: each db[o] still adds dy[0][o], dy[1][o], … in order.
      for (std::size_t r = 0; r < rows; ++r) {
        const float* FORMA_RESTRICT d = dy + r * out;
        for (std::size_t o = 0; o < out; ++o) db[o] += d[o];
      }
    }
  } else {
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
}

}  // namespace forma::kernels::cpu
