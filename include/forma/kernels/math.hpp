// forma/kernels/math.hpp — per-element math shared by the CPU and the CUDA kernels.
//
// Everything here is a small FORMA_HD function (object), so a CPU loop and a CUDA thread compute
// an element with the same expression. The float versions follow llama2.c's run.c operation for
// operation (same functions, same order), so forma's Llama reproduces its outputs.
#pragma once

#include <cmath>

#include "forma/core/config.hpp"

namespace forma::math {

struct add {
  template <class T>
  FORMA_HD constexpr T operator()(T a, T b) const noexcept { return a + b; }
};
struct subtract {
  template <class T>
  FORMA_HD constexpr T operator()(T a, T b) const noexcept { return a - b; }
};
struct multiply {
  template <class T>
  FORMA_HD constexpr T operator()(T a, T b) const noexcept { return a * b; }
};
struct divide {
  template <class T>
  FORMA_HD constexpr T operator()(T a, T b) const noexcept { return a / b; }
};

// SiLU (swish): x · σ(x), written as run.c writes it: x * (1 / (1 + exp(-x))).
template <class T>
FORMA_HD inline T silu(T x) noexcept {
  using std::exp;
  return x * (T(1) / (T(1) + exp(-x)));
}

// GELU, exact: ½·x·(1 + erf(x/√2)) (PyTorch's approximate='none').
template <class T>
FORMA_HD inline T gelu_erf(T x) noexcept {
  using std::erf;
  return T(0.5) * x * (T(1) + erf(x * T(0.70710678118654752440)));
}

// GELU, tanh approximation: ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (GPT-2, approximate='tanh').
template <class T>
FORMA_HD inline T gelu_tanh(T x) noexcept {
  using std::tanh;
  const T inner = T(0.79788456080286535588) * (x + T(0.044715) * x * x * x);
  return T(0.5) * x * (T(1) + tanh(inner));
}

// The derivatives of the activations above (the backward passes multiply them by dy).
// silu'(x) = σ(x) · (1 + x · (1 − σ(x))).
template <class T>
FORMA_HD inline T silu_grad(T x) noexcept {
  using std::exp;
  const T sigmoid = T(1) / (T(1) + exp(-x));
  return sigmoid * (T(1) + x * (T(1) - sigmoid));
}

// gelu_erf'(x) = Φ(x) + x · φ(x), with Φ the normal CDF and φ its density e^(−x²/2) / √(2π).
template <class T>
FORMA_HD inline T gelu_erf_grad(T x) noexcept {
  using std::erf;
  using std::exp;
  const T cdf = T(0.5) * (T(1) + erf(x * T(0.70710678118654752440)));
  const T density = T(0.39894228040143267794) * exp(T(-0.5) * x * x);
  return cdf + x * density;
}

// gelu_tanh'(x) = ½(1 + t) + ½·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²), t = tanh(√(2/π)(x + 0.044715x³)).
template <class T>
FORMA_HD inline T gelu_tanh_grad(T x) noexcept {
  using std::tanh;
  const T k = T(0.79788456080286535588);
  const T t = tanh(k * (x + T(0.044715) * x * x * x));
  const T inner_grad = k * (T(1) + T(3) * T(0.044715) * x * x);
  return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * inner_grad;
}

// One RoPE rotation of the pair (a, b) by the angle whose cosine and sine are given: run.c's
// a·cos − b·sin and a·sin + b·cos, each product and sum rounded on its own. The difference is
// written as a sum with the negated sine, which rounds identically (negation is exact), because
// GCC 12's loop vectorizer turns the subtract/add pair into vfmaddsub (a fused multiply-add)
// when FMA is available (-march=native), even under -ffp-contract=off — and the logits drift
// from run.c's in the last bits (tests/fma).
template <class T>
FORMA_HD inline void rotate_pair(T& a, T& b, T cos_angle, T sin_angle) noexcept {
  const T a0 = a, b0 = b;
  a = a0 * cos_angle + b0 * -sin_angle;
  b = a0 * sin_angle + b0 * cos_angle;
}

// The RoPE frequency of rotation index i (pair i of a head of width head_dim): θ^(−2i/head_dim),
// computed as run.c does: 1 / pow(theta, (2i) / head_dim) in float.
FORMA_HD inline float rope_frequency(unsigned pair_index, unsigned head_dim, float theta) noexcept {
  const float exponent = static_cast<float>(2 * pair_index) / static_cast<float>(head_dim);
  return 1.0f / std::pow(theta, exponent);
}

// Online softmax (flash attention): a running maximum m and a running sum l of exp(s − m) absorb
// new scores; when the maximum grows from `old_max` to `new_max`, everything summed so far is
// scaled by exp(old_max − new_max). Nothing summed yet (old_max = −∞) scales by 0.
FORMA_HD inline float online_softmax_rescale(float old_max, float new_max) noexcept {
  using std::exp;
  return old_max == -INFINITY ? 0.0f : exp(old_max - new_max);
}

}  // namespace forma::math
