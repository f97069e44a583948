// forma/kernels/cuda/activation.hpp — the bodies of the CUDA activation kernels (activation.cuh
// launches them): one thread per element, each computing kernels/math.hpp's formula, the one the
// CPU kernels use — identical bits on the CPU grid runner; the GPU's expf/erff/tanhf differ from
// glibc's by a few ulps.
#pragma once

#include <cstddef>

#include "forma/core/config.hpp"
#include "forma/kernels/cuda/grid.hpp"
#include "forma/kernels/math.hpp"

namespace forma::kernels::cuda {

enum class activation : unsigned char { silu, gelu_erf, gelu_tanh };

FORMA_HD inline float activate(activation kind, float value) {
  switch (kind) {
    case activation::silu: return math::silu(value);
    case activation::gelu_erf: return math::gelu_erf(value);
    case activation::gelu_tanh: return math::gelu_tanh(value);
  }
  return value;
}

// out[i] = f(x[i]); out may alias x.
struct activation_body {
  const float* x;
  float* out;
  std::size_t count;
  activation kind;

  using shared_type = no_shared;
  using registers_type = no_registers;
  FORMA_HD unsigned phases(unsigned) const { return 1; }
  FORMA_HD void phase(unsigned, const thread_index& at, shared_type&, registers_type&) const {
    const std::size_t i = static_cast<std::size_t>(at.block) * at.block_dim + at.thread;
    if (i < count) out[i] = activate(kind, x[i]);
  }
};

// SwiGLU: out[i] = silu(gate[i]) · up[i]; out may alias gate or up.
struct swiglu_body {
  const float* gate;
  const float* up;
  float* out;
  std::size_t count;

  using shared_type = no_shared;
  using registers_type = no_registers;
  FORMA_HD unsigned phases(unsigned) const { return 1; }
  FORMA_HD void phase(unsigned, const thread_index& at, shared_type&, registers_type&) const {
    const std::size_t i = static_cast<std::size_t>(at.block) * at.block_dim + at.thread;
    if (i < count) out[i] = math::silu(gate[i]) * up[i];
  }
};

}  // namespace forma::kernels::cuda
