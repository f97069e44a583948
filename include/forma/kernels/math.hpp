// forma/kernels/math.hpp — per-element math shared by the CPU and the CUDA kernels.
//
// Everything here is a small FORMA_HD function object, so a CPU loop and a CUDA thread compute
// an element with the same expression.
#pragma once

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

}  // namespace forma::math
