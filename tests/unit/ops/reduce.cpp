// Unit tests: sum, mean, max and argmax along the last axis.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include <forma/forma.hpp>

#include "test_support.hpp"

using forma::dyn;
using forma::Matrix;
using forma::Tensor;
using forma::Vector;

TEST_CASE_TEMPLATE("row reductions on static and dynamic matrices", M, Matrix<float, 3, 4>,
                   Matrix<float, dyn, dyn>, Matrix<double, dyn, 4>) {
  M m = forma::testing::make<M>(3, 4);
  forma::testing::fill_iota(m);  // rows: 0..3, 4..7, 8..11
  m(1, 0) = 100;                 // row 1 max at index 0
  const auto s = forma::sum(m);
  CHECK(s.extent(0) == 3);
  CHECK(s(0) == 6);
  CHECK(s(1) == 100 + 5 + 6 + 7);
  const auto mu = forma::mean(m);
  CHECK(mu(2) == doctest::Approx((8 + 9 + 10 + 11) / 4.0));
  const auto mx = forma::max(m);
  CHECK(mx(1) == 100);
  CHECK(mx(2) == 11);
  const auto am = forma::argmax(m);
  static_assert(std::is_same_v<typename std::remove_cvref_t<decltype(am)>::value_type, std::int64_t>);
  CHECK(am(0) == 3);
  CHECK(am(1) == 0);
  CHECK(am(2) == 3);
}

TEST_CASE("a vector reduces to a scalar, rank 3 reduces to a matrix") {
  const auto v = Vector<float, 5>::from_values({3, 9, 9, -1, 2});
  static_assert(std::is_same_v<decltype(forma::sum(v)), float>);
  CHECK(forma::sum(v) == 22.0f);
  CHECK(forma::max(v) == 9.0f);
  CHECK(forma::argmax(v) == 1);  // ties go to the first index
  CHECK(forma::mean(v) == doctest::Approx(4.4));

  Tensor<int, forma::extents<2, 3, 4>> t;
  forma::testing::fill_iota(t);
  const auto s = forma::sum(t);
  static_assert(std::is_same_v<std::remove_const_t<decltype(s)>, Matrix<int, 2, 3>>);
  CHECK(s(1, 2) == 20 + 21 + 22 + 23);
}

TEST_CASE("NaN propagates like NumPy and PyTorch") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const auto v = Vector<float, 4>::from_values({1, nan, 5, nan});
  CHECK(std::isnan(forma::max(v)));
  CHECK(forma::argmax(v) == 1);
  CHECK(std::isnan(forma::sum(v)));
}

TEST_CASE("max and argmax of an empty dynamic row are shape errors") {
  Matrix<float, dyn, dyn> empty(2, 0);
  CHECK_THROWS_WITH_AS(forma::argmax(empty), "argmax: the last axis is empty (0 < N fails): 0 >= 0",
                       forma::shape_error);
  CHECK_THROWS_AS(forma::max(empty), forma::shape_error);
  const auto zeros = forma::sum(empty);  // an empty sum is 0
  CHECK(zeros(1) == 0.0f);
}
