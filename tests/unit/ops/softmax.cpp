// Unit tests: softmax (plain, causal, valid length) on static and dynamic shapes.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <forma/forma.hpp>

#include "test_support.hpp"
#include "transformer_reference.hpp"

using forma::dyn;
using forma::Matrix;
using forma::Vector;
namespace ref = forma::testing::reference;

TEST_CASE_TEMPLATE("softmax rows match the double-precision formula and sum to one", M,
                   Matrix<float, 4, 7>, Matrix<float, dyn, 7>, Matrix<float, dyn, dyn>) {
  M x = forma::testing::make<M>(4, 7);
  forma::testing::fill_uniform(x, 11, -8.0, 8.0);
  const auto y = forma::softmax(x);
  for (std::size_t r = 0; r < 4; ++r) {
    std::vector<double> row;
    for (std::size_t j = 0; j < 7; ++j) row.push_back(x(r, j));
    const auto expected = ref::softmax(row);
    double total = 0;
    for (std::size_t j = 0; j < 7; ++j) {
      CHECK(std::fabs(y(r, j) - expected[j]) <= 1e-7);
      total += y(r, j);
    }
    CHECK(total == doctest::Approx(1.0).epsilon(1e-6));
  }
  // In place gives the same bits.
  M z = x;
  forma::softmax(z, z);
  CHECK(forma::max_abs_diff(z, y) == 0.0);
}

TEST_CASE("softmax of [1e4, -1e4, 0] is finite and exact") {
  const auto x = Vector<float, 3>::from_values({1e4f, -1e4f, 0.0f});
  const auto y = forma::softmax(x);
  // exp(0) = 1 for the maximum; exp(-1e4) and exp(-2e4) underflow to exactly 0.
  CHECK(y(0) == 1.0f);
  CHECK(y(1) == 0.0f);
  CHECK(y(2) == 0.0f);
  // A large shared offset does not change the result (the maximum is subtracted first).
  const auto shifted = forma::softmax(Vector<float, 3>::from_values({3e4f, 1e4f, 2e4f}));
  CHECK(shifted(0) == 1.0f);
  CHECK(std::isfinite(shifted(1)));
}

TEST_CASE_TEMPLATE("causal softmax keeps the first r + offset + 1 entries of row r", M,
                   Matrix<float, 3, 6>, Matrix<float, dyn, dyn>) {
  M x = forma::testing::make<M>(3, 6);
  forma::testing::fill_uniform(x, 5, -3.0, 3.0);
  for (const std::size_t offset : {std::size_t{0}, std::size_t{2}}) {
    M y = forma::testing::make<M>(3, 6);
    forma::softmax_causal(x, y, offset);
    for (std::size_t r = 0; r < 3; ++r) {
      const std::size_t visible = r + offset + 1;
      std::vector<double> prefix;
      for (std::size_t j = 0; j < visible; ++j) prefix.push_back(x(r, j));
      const auto expected = ref::softmax(prefix);
      for (std::size_t j = 0; j < 6; ++j) {
        if (j < visible) {
          CHECK(std::fabs(y(r, j) - expected[j]) <= 1e-7);
        } else {
          CHECK(y(r, j) == 0.0f);
        }
      }
    }
  }
}

TEST_CASE("softmax_valid keeps a prefix, a valid length past the row is a shape_error") {
  Matrix<float, 2, 5> x;
  forma::testing::fill_uniform(x, 3);
  Matrix<float, 2, 5> y;
  forma::softmax_valid(x, y, 2);
  for (std::size_t r = 0; r < 2; ++r) {
    const auto expected = ref::softmax({x(r, 0), x(r, 1)});
    CHECK(std::fabs(y(r, 0) - expected[0]) <= 1e-7);
    CHECK(std::fabs(y(r, 1) - expected[1]) <= 1e-7);
    CHECK(y(r, 2) == 0.0f);
    CHECK(y(r, 4) == 0.0f);
  }
  CHECK_THROWS_WITH_AS(forma::softmax_valid(x, y, 6),
                       "softmax_valid: the valid length exceeds the row (valid <= N fails): 6 >= 6",
                       forma::shape_error);
}

TEST_CASE("softmax of a result of another shape is a shape_error naming both shapes") {
  Matrix<float, dyn, dyn> x(2, 3), y(3, 2);
  CHECK_THROWS_WITH_AS(forma::softmax(x, y),
                       "softmax (result): shapes differ (A and B must have the same shape): (2, 3) vs (3, 2)",
                       forma::shape_error);
}
