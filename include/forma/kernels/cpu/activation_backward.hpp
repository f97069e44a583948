// forma/kernels/cpu/activation_backward.hpp — the gradients of the element-wise activations and
// of the SwiGLU gate.
//
//   activation:  dx[i] = dy[i] · f'(x[i])            (f' from kernels/math.hpp)
//   swiglu:      out = silu(gate) ⊙ up
//                dgate[i] = dy[i] · up[i] · silu'(gate[i]),  dup[i] = dy[i] · silu(gate[i])
// Outputs are overwritten and may alias dy.
#pragma once

#include <cstddef>

#include "forma/kernels/math.hpp"

namespace forma::kernels::cpu {

template <class T, class Derivative>
void activation_backward(const T* x, const T* dy, T* dx, std::size_t n, Derivative f) {
  for (std::size_t i = 0; i < n; ++i) dx[i] = dy[i] * f(x[i]);
}

template <class T>
void swiglu_backward(const T* gate, const T* up, const T* dy, T* dgate, T* dup,
                     std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const T g = gate[i], u = up[i], d = dy[i];
    dgate[i] = d * u * math::silu_grad(g);
    dup[i] = d * math::silu(g);
  }
}

}  // namespace forma::kernels::cpu
