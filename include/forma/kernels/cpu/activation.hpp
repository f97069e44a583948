// forma/kernels/cpu/activation.hpp — element-wise activations and the SwiGLU gate.
#pragma once

#include <cstddef>

#include "forma/kernels/math.hpp"

namespace forma::kernels::cpu {

// out[i] = f(x[i]); out may alias x.
template <class T, class F>
void map(const T* x, T* out, std::size_t n, F f) {
  for (std::size_t i = 0; i < n; ++i) out[i] = f(x[i]);
}

// SwiGLU: out[i] = silu(gate[i]) · up[i], as llama2.c computes it; out may alias gate or up.
template <class T>
void swiglu(const T* gate, const T* up, T* out, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = math::silu(gate[i]) * up[i];
}

}  // namespace forma::kernels::cpu
