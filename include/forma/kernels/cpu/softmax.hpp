// forma/kernels/cpu/softmax.hpp — numerically stable softmax over contiguous rows.
//
// softmax_row(x, n, valid): the first `valid` entries become softmax(x[0..valid)) — the max is
// subtracted first, so softmax of [1e4, −1e4, 0] is finite and exact — and the rest (a causal
// mask or padding) become exactly 0. The arithmetic is llama2.c's: float max, exp(x − max) and
// its float sum in order, then division.
#pragma once

#include <cmath>
#include <cstddef>

#include "forma/core/parallel.hpp"

namespace forma::kernels::cpu {

template <class T>
void softmax_row(T* x, std::size_t n, std::size_t valid) noexcept {
  if (valid > n) valid = n;
  for (std::size_t i = valid; i < n; ++i) x[i] = T(0);
  if (valid == 0) return;
  T max_value = x[0];
  for (std::size_t i = 1; i < valid; ++i) {
    if (x[i] > max_value) max_value = x[i];
  }
  T sum = 0;
  for (std::size_t i = 0; i < valid; ++i) {
    x[i] = std::exp(x[i] - max_value);
    sum += x[i];
  }
  for (std::size_t i = 0; i < valid; ++i) x[i] /= sum;
}

// Row r keeps valid(r) entries: every entry (no mask), or r + offset + 1 (a causal mask where
// row r is the query at position r + offset).
template <class T>
void softmax_rows(T* x, std::size_t rows, std::size_t n) {
  parallel_for(rows, n, [&](std::size_t r) { softmax_row(x + r * n, n, n); });
}

template <class T>
void softmax_rows_causal(T* x, std::size_t rows, std::size_t n, std::size_t offset) {
  parallel_for(rows, n, [&](std::size_t r) { softmax_row(x + r * n, n, r + offset + 1); });
}

}  // namespace forma::kernels::cpu
