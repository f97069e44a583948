// forma/kernels/cpu/vexp.hpp — exp over arrays, written so that the compiler vectorizes it.
//
//   exp_approx(x)          float exp with a relative error below 2 ulp over [-87.3, 88]
//                          (inputs are clamped there: below -87.3 the result is ~2^-126, not 0)
//   exp_inplace(x, n)      x[i] = exp_approx(x[i])
// Cody–Waite range reduction x = n·ln2 + r, |r| ≤ ln2/2 (n rounded to nearest by the 1.5·2^23
// trick, so no floor call), Cephes' degree-6 polynomial for e^r, 2^n built in the exponent bits.
// No branches and no library call: the loop vectorizes at any -m flags (SSE2 upward). Not
// std::exp's bits: used where speed matters and run.c's bits do not (training's softmaxes);
// double arrays use std::exp.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "forma/core/config.hpp"

namespace forma::kernels::cpu {

inline float exp_approx(float x) noexcept {
  constexpr float log2e = 1.44269504088896341f;
  constexpr float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
  constexpr float round_magic = 12582912.0f;  // 1.5 · 2^23
  x = x < -87.3365447f ? -87.3365447f : x;
  x = x > 88.0f ? 88.0f : x;  // n ≤ 127: 2^n stays a normal float
  const float shifted = x * log2e + round_magic;
  const float n = shifted - round_magic;  // round-to-nearest(x · log2 e)
  float r = x - n * ln2_hi;
  r = r - n * ln2_lo;
  const float r2 = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r2 + r + 1.0f;
  const std::int32_t e = std::bit_cast<std::int32_t>(shifted) - 0x4B400000;  // n as an integer
  return p * std::bit_cast<float>((e + 127) << 23);
}

inline void exp_inplace(float* FORMA_RESTRICT x, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) x[i] = exp_approx(x[i]);
}

inline void exp_inplace(double* FORMA_RESTRICT x, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) x[i] = std::exp(x[i]);
}

}  // namespace forma::kernels::cpu
