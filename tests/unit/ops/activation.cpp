// Unit tests: SiLU, GELU (exact and tanh), SwiGLU on static and dynamic shapes.
#include <doctest/doctest.h>

#include <cmath>

#include <forma/forma.hpp>

#include "test_support.hpp"
#include "transformer_reference.hpp"

using forma::dyn;
using forma::Matrix;
namespace ref = forma::testing::reference;

TEST_CASE_TEMPLATE("activations match their double-precision formulas", M, Matrix<float, 5, 40>,
                   Matrix<float, dyn, dyn>) {
  M x = forma::testing::make<M>(5, 40);
  forma::testing::fill_uniform(x, 21, -8.0, 8.0);
  const auto s = forma::silu(x);
  const auto g = forma::gelu(x);
  const auto t = forma::gelu_tanh(x);
  double worst_silu = 0, worst_gelu = 0, worst_tanh = 0, worst_erf_vs_tanh = 0;
  for (std::size_t r = 0; r < 5; ++r) {
    for (std::size_t j = 0; j < 40; ++j) {
      const double v = x(r, j);
      worst_silu = std::max(worst_silu, std::fabs(s(r, j) - ref::silu(v)));
      worst_gelu = std::max(worst_gelu, std::fabs(g(r, j) - ref::gelu_erf(v)));
      worst_tanh = std::max(worst_tanh, std::fabs(t(r, j) - ref::gelu_tanh(v)));
      worst_erf_vs_tanh = std::max(worst_erf_vs_tanh, std::fabs(ref::gelu_erf(v) - ref::gelu_tanh(v)));
    }
  }
  CHECK(worst_silu <= 2e-6);
  CHECK(worst_gelu <= 2e-6);
  CHECK(worst_tanh <= 2e-6);
  CHECK(worst_erf_vs_tanh > 1e-4);  // the two GELUs are different functions
}

TEST_CASE_TEMPLATE("swiglu is silu(gate) times up, in place too", M, Matrix<float, 3, 172>,
                   Matrix<float, dyn, 172>) {
  M gate = forma::testing::make<M>(3, 172), up = forma::testing::make<M>(3, 172);
  forma::testing::fill_uniform(gate, 1, -6.0, 6.0);
  forma::testing::fill_uniform(up, 2, -2.0, 2.0);
  const auto y = forma::swiglu(gate, up);
  double worst = 0;
  for (std::size_t r = 0; r < 3; ++r) {
    for (std::size_t j = 0; j < 172; ++j) {
      worst = std::max(worst, std::fabs(y(r, j) - ref::silu(gate(r, j)) * up(r, j)));
    }
  }
  CHECK(worst <= 2e-6);
  forma::swiglu(gate, up, gate);
  CHECK(forma::max_abs_diff(gate, y) == 0.0);
}

TEST_CASE("swiglu of mismatched dynamic shapes is a shape_error") {
  Matrix<float, dyn, dyn> gate(2, 4), up(2, 5);
  CHECK_THROWS_AS(forma::swiglu(gate, up), forma::shape_error);
}
