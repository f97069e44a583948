// Unit tests: rmsnorm (llama2.c's arithmetic) and layernorm (biased variance) on static and
// dynamic shapes.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include <forma/forma.hpp>

#include "test_support.hpp"
#include "transformer_reference.hpp"

using forma::dyn;
using forma::Matrix;
using forma::Vector;
namespace ref = forma::testing::reference;

namespace {
// llama2.c's rmsnorm(), as run.c writes it.
void run_c_rmsnorm(float* o, const float* x, const float* weight, int size) {
  float ss = 0.0f;
  for (int j = 0; j < size; j++) ss += x[j] * x[j];
  ss /= size;
  ss += 1e-5f;
  ss = 1.0f / sqrtf(ss);
  for (int j = 0; j < size; j++) o[j] = weight[j] * (ss * x[j]);
}
}  // namespace

TEST_CASE_TEMPLATE("rmsnorm matches the formula and run.c's arithmetic bit for bit", M,
                   Matrix<float, 3, 72>, Matrix<float, dyn, 72>, Matrix<float, dyn, dyn>) {
  M x = forma::testing::make<M>(3, 72);
  forma::testing::fill_uniform(x, 1, -2.0, 2.0);
  Vector<float, 72> w;
  forma::testing::fill_uniform(w, 2, 0.5, 1.5);
  const auto y = forma::rmsnorm(x, w);
  CHECK(ref::max_abs_diff(y, ref::rmsnorm(ref::to_doubles(x), ref::to_doubles(w), 1e-5)) <= 1e-6);
  for (std::size_t r = 0; r < 3; ++r) {
    float expected[72];
    run_c_rmsnorm(expected, x.data() + r * 72, w.data(), 72);
    CHECK(std::memcmp(expected, y.data() + r * 72, sizeof expected) == 0);
  }
  M z = x;
  forma::rmsnorm(z, w, z);  // in place
  CHECK(forma::max_abs_diff(z, y) == 0.0);
}

TEST_CASE("rmsnorm of zeros is zeros, eps is configurable") {
  Matrix<float, 2, 8> zeros;
  Vector<float, 8> w;
  forma::fill(w, 3.0f);
  const auto y = forma::rmsnorm(zeros, w);
  for (const float v : y) CHECK(v == 0.0f);
  Vector<float, 8> x;
  forma::testing::fill_uniform(x, 4);
  const auto loose = forma::rmsnorm(x, w, 0.5f);
  CHECK(ref::max_abs_diff(loose, ref::rmsnorm(ref::to_doubles(x), ref::to_doubles(w), 0.5)) <= 1e-6);
}

TEST_CASE_TEMPLATE("layernorm uses the biased variance, then weight and bias", M,
                   Matrix<float, 4, 72>, Matrix<float, dyn, dyn>) {
  M x = forma::testing::make<M>(4, 72);
  forma::testing::fill_uniform(x, 5, -3.0, 5.0);
  Vector<float, 72> w, b;
  forma::testing::fill_uniform(w, 6, 0.5, 1.5);
  forma::testing::fill_uniform(b, 7, -0.5, 0.5);
  const auto y = forma::layernorm(x, w, b);
  const auto expected = ref::layernorm(ref::to_doubles(x), ref::to_doubles(w), ref::to_doubles(b), 1e-5);
  CHECK(ref::max_abs_diff(y, expected) <= 2e-6);
  // A constant row normalizes to zero: the result is the bias.
  Matrix<float, 1, 72> constant;
  forma::fill(constant, 4.25f);
  const auto c = forma::layernorm(constant, w, b);
  for (std::size_t j = 0; j < 72; ++j) CHECK(c(0, j) == b(j));
}

TEST_CASE("a weight of the wrong length is a shape_error with both numbers") {
  Matrix<float, dyn, dyn> x(2, 6);
  Vector<float, dyn> w(5), b(6);
  CHECK_THROWS_WITH_AS(forma::rmsnorm(x, w),
                       "rmsnorm: weight length differs from the last axis of x (x is (..., D), "
                       "weight is (D)): 6 != 5",
                       forma::shape_error);
  Vector<float, dyn> w6(6), b5(5);
  CHECK_THROWS_WITH_AS(forma::layernorm(x, w6, b5),
                       "layernorm: bias length differs from the last axis of x (x is (..., D), "
                       "bias is (D)): 6 != 5",
                       forma::shape_error);
}
