// Unit tests: element-wise ops, on static and dynamic shapes, mixed layouts and scalars.
#include <doctest/doctest.h>

#include <cstdint>
#include <type_traits>

#include <forma/forma.hpp>

#include "test_support.hpp"

using forma::dyn;
using forma::Matrix;
using forma::Tensor;

TEST_CASE_TEMPLATE("add, sub, mul, div: operators, named ops, out-params and compound forms", M,
                   Matrix<float, 2, 3>, Matrix<float, dyn, dyn>, Matrix<double, dyn, 3>,
                   Matrix<std::int32_t, 2, dyn>) {
  using T = typename M::value_type;
  M a = forma::testing::make<M>(2, 3);
  M b = forma::testing::make<M>(2, 3);
  forma::testing::fill_iota(a, 1);   // 1..6
  forma::testing::fill_iota(b, 10);  // 10..15

  const auto sum = a + b;
  const auto difference = b - a;
  const auto product = a * b;
  const auto quotient = b / a;
  for (std::size_t i = 0; i < 2; ++i) {
    for (std::size_t j = 0; j < 3; ++j) {
      CHECK(sum(i, j) == a(i, j) + b(i, j));
      CHECK(difference(i, j) == b(i, j) - a(i, j));
      CHECK(product(i, j) == a(i, j) * b(i, j));
      CHECK(quotient(i, j) == b(i, j) / a(i, j));
    }
  }
  // The result type keeps every static extent either operand had.
  static_assert(std::is_same_v<typename std::remove_cvref_t<decltype(sum)>::extents_type,
                               typename M::extents_type>);

  M out = forma::testing::make<M>(2, 3);
  forma::mul(a, b, out);
  CHECK(out(1, 2) == a(1, 2) * b(1, 2));
  forma::add(a, b, a);  // out may alias an input exactly
  CHECK(a(0, 0) == T(11));

  auto scaled = b * 2;
  CHECK(scaled(1, 1) == T(28));
  auto shifted = 100 - b;
  CHECK(shifted(0, 2) == T(88));
  auto halved = b / 2;
  CHECK(halved(0, 0) == T(10) / T(2));

  b += b;
  CHECK(b(1, 2) == T(30));
  b -= 1;
  CHECK(b(1, 2) == T(29));
  b.row(0) *= 0;  // compound ops work on (temporary) views
  CHECK(b(0, 1) == T(0));
  CHECK(b(1, 0) == T(25));
}

TEST_CASE("element-wise ops walk tensors of different layouts by index") {
  const auto a = Matrix<float, 2, 3>::from_values({{1, 2, 3}, {4, 5, 6}});
  const auto c = Matrix<float, 3, 2>::from_values({{10, 40}, {20, 50}, {30, 60}});
  const auto sum = a + forma::transpose(c);  // (2, 3) + (3, 2)ᵀ
  CHECK(sum(0, 1) == 22.0f);
  CHECK(sum(1, 2) == 66.0f);
  const auto back = forma::transpose(c) * 2.0f;
  CHECK(back(1, 0) == 80.0f);
  CHECK(forma::transpose(c)(1, 0) == 40.0f);
}

TEST_CASE("dynamic shapes that disagree fail at run time with the op's words and both shapes") {
  Matrix<float, dyn, dyn> a(2, 3), b(3, 2);
  CHECK_THROWS_WITH_AS(a + b, "add: shapes differ (A and B must have the same shape): (2, 3) vs (3, 2)",
                       forma::shape_error);
  Matrix<float, 2, 3> s;
  CHECK_THROWS_WITH_AS(s * b, "mul: shapes differ (A and B must have the same shape): (2, 3) vs (3, 2)",
                       forma::shape_error);
  Matrix<float, dyn, dyn> wrong_out(2, 2);
  CHECK_THROWS_WITH_AS(forma::sub(a, a, wrong_out),
                       "sub (result): shapes differ (A and B must have the same shape): (2, 3) vs (2, 2)",
                       forma::shape_error);
  CHECK_NOTHROW(forma::div(a, Matrix<float, 2, 3>{} + 1.0f));
}

TEST_CASE("the element-wise rule as a concept") {
  static_assert(forma::elementwise_compatible<Matrix<float, 2, 3>, Matrix<float, 2, 3>>);
  static_assert(forma::elementwise_compatible<Matrix<float, 2, 3>, Matrix<float, dyn, dyn>>);
  static_assert(!forma::elementwise_compatible<Matrix<float, 2, 3>, Matrix<float, 3, 2>>);
  static_assert(!forma::elementwise_compatible<Matrix<float, 2, 3>, Matrix<double, 2, 3>>);
  static_assert(!forma::elementwise_compatible<Matrix<float, 2, 3>, Tensor<float, forma::extents<2, 3, 1>>>);
  static_assert(!forma::elementwise_compatible<
                Matrix<float, 2, 2>, forma::TensorView<float, forma::extents<2, 2>, forma::cuda>>);
}
