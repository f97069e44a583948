// Unit tests: allclose, max_abs_diff, first_mismatch.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include <forma/core.hpp>
#include <forma/ops/copy.hpp>

using forma::dyn;
using forma::Matrix;

TEST_CASE("tolerances follow NumPy's rule |a - b| <= abs + rel * |b|") {
  const auto a = Matrix<float, 2, 2>::from_values({{1.0f, 2.0f}, {3.0f, 4.0f}});
  auto b = a;
  CHECK(forma::allclose(a, b));
  CHECK(forma::max_abs_diff(a, b) == 0.0);
  b(1, 1) = 4.001f;
  CHECK_FALSE(forma::allclose(a, b));
  CHECK(forma::allclose(a, b, {.abs = 1e-2, .rel = 0}));
  CHECK(forma::allclose(a, b, {.abs = 0, .rel = 1e-3}));
  CHECK(forma::max_abs_diff(a, b) == doctest::Approx(0.001).epsilon(1e-3));
  const auto where = forma::first_mismatch(a, b);
  REQUIRE(where.has_value());
  CHECK(where->find("at (1, 1)") == 0);
}

TEST_CASE("NaN only matches NaN, mixed layouts and dtypes compare by value") {
  auto a = Matrix<double, dyn, dyn>(2, 2);
  auto b = a;
  a(0, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_FALSE(forma::allclose(a, b));
  CHECK(std::isnan(forma::max_abs_diff(a, b)));
  b(0, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK(forma::allclose(a, b));

  const auto m = Matrix<float, 2, 3>::from_values({{1, 2, 3}, {4, 5, 6}});
  const auto mt = Matrix<float, 3, 2>::from_values({{1, 4}, {2, 5}, {3, 6}});
  CHECK(forma::allclose(forma::transpose(m), mt));
  CHECK(forma::allclose(forma::cast<forma::bf16>(m), m));
  CHECK_THROWS_AS(forma::allclose(Matrix<float, dyn, dyn>(2, 2), Matrix<float, dyn, dyn>(2, 3)),
                  forma::shape_error);
}
