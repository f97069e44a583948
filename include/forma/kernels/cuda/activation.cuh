// forma/kernels/cuda/activation.cuh — activations and the SwiGLU gate on device arrays, with
// kernels/math.hpp's formulas (the CPU's, kernels/cpu/activation.hpp). Body: activation.hpp.
// out may alias x (gate, up).
#pragma once

#include <cstddef>

#include "forma/kernels/cuda/activation.hpp"
#include "forma/kernels/cuda/launch.cuh"

namespace forma::kernels::cuda {

inline void activate(activation kind, const float* x, float* out, std::size_t n,
                     cudaStream_t stream = nullptr) {
  launch(activation_body{x, out, n, kind}, elementwise_launch(n), stream);
}
inline void silu(const float* x, float* out, std::size_t n, cudaStream_t stream = nullptr) {
  activate(activation::silu, x, out, n, stream);
}
inline void gelu_erf(const float* x, float* out, std::size_t n, cudaStream_t stream = nullptr) {
  activate(activation::gelu_erf, x, out, n, stream);
}
inline void gelu_tanh(const float* x, float* out, std::size_t n, cudaStream_t stream = nullptr) {
  activate(activation::gelu_tanh, x, out, n, stream);
}

inline void swiglu(const float* gate, const float* up, float* out, std::size_t n,
                   cudaStream_t stream = nullptr) {
  launch(swiglu_body{gate, up, out, n}, elementwise_launch(n), stream);
}

}  // namespace forma::kernels::cuda
