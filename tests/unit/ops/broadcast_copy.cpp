// Unit tests: add_bias, copy, fill, zero, cast.
#include <doctest/doctest.h>

#include <cstdint>
#include <type_traits>

#include <forma/forma.hpp>

#include "test_support.hpp"

using forma::dyn;
using forma::Matrix;
using forma::Tensor;
using forma::Vector;

TEST_CASE_TEMPLATE("add_bias broadcasts a row vector down every row", M, Matrix<float, 3, 4>,
                   Matrix<float, dyn, dyn>) {
  M x = forma::testing::make<M>(3, 4);
  forma::testing::fill_iota(x);
  const auto bias = Vector<float, 4>::from_values({10, 20, 30, 40});
  const auto y = forma::add_bias(x, bias);
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t j = 0; j < 4; ++j) CHECK(y(i, j) == x(i, j) + bias(j));
  }
  forma::add_bias(x, bias, x);  // in place
  CHECK(x(2, 3) == 11.0f + 40.0f);
  static_assert(forma::bias_compatible<Matrix<float, 3, 4>, Vector<float, 4>>);
  static_assert(!forma::bias_compatible<Matrix<float, 3, 4>, Vector<float, 3>>);
}

TEST_CASE("add_bias over rank 3 and its run-time check") {
  Tensor<float, forma::extents<2, 2, 3>> x;
  const auto y = forma::add_bias(x, Vector<float, 3>::from_values({1, 2, 3}));
  CHECK(y(1, 1, 2) == 3.0f);
  Matrix<float, dyn, dyn> m(2, 3);
  Vector<float, dyn> wrong(4);
  CHECK_THROWS_WITH_AS(forma::add_bias(m, wrong),
                       "add_bias: bias length differs from the last axis of x (x is (..., C), bias is (C)): 3 != 4",
                       forma::shape_error);
}

TEST_CASE("copy materializes a transposed view, fill and zero write every element") {
  const auto a = Matrix<float, 2, 3>::from_values({{1, 2, 3}, {4, 5, 6}});
  Matrix<float, 3, 2> t;
  forma::copy(forma::transpose(a), t);
  CHECK(t(2, 0) == 3.0f);
  CHECK(t(0, 1) == 4.0f);
  Matrix<float, dyn, dyn> d(2, 3);
  forma::copy(a, d);
  CHECK(d(1, 2) == 6.0f);
  forma::fill(d, 7);
  for (float x : d) CHECK(x == 7.0f);
  forma::zero(d.row(1));
  CHECK(d(0, 0) == 7.0f);
  CHECK(d(1, 0) == 0.0f);
  CHECK_THROWS_AS(forma::copy(a, Matrix<float, dyn, dyn>(3, 2)), forma::shape_error);
}

TEST_CASE("cast converts element types with round-to-nearest-even for 16-bit floats") {
  const auto a = Matrix<float, 1, 3>::from_values({{1.0f, 1.0f + 1.0f / 2048.0f, 65520.0f}});
  const auto h = forma::cast<forma::f16>(a);
  static_assert(std::is_same_v<std::remove_const_t<decltype(h)>, Matrix<forma::f16, 1, 3>>);
  CHECK(static_cast<float>(h(0, 1)) == 1.0f);  // a tie rounds to even
  CHECK(h(0, 2).bits() == 0x7C00u);            // overflow to +inf
  const auto back = forma::cast<double>(forma::cast<forma::bf16>(a));
  CHECK(back(0, 0) == 1.0);
  const auto ints = forma::cast<std::int32_t>(Matrix<double, 1, 2>::from_values({{2.9, -2.9}}));
  CHECK(ints(0, 0) == 2);
  CHECK(ints(0, 1) == -2);
}
