// Unit tests: cross-entropy over logits (mean, per row, one row), targets checked.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include <forma/forma.hpp>

#include "test_support.hpp"
#include "transformer_reference.hpp"

using forma::dyn;
using forma::Matrix;
using forma::Vector;
namespace ref = forma::testing::reference;

namespace {
template <class M>
double reference_row(const M& logits, std::size_t r, std::size_t target) {
  std::vector<double> row;
  for (std::size_t j = 0; j < logits.extent(1); ++j) row.push_back(logits(r, j));
  return -std::log(ref::softmax(row)[target]);
}
}  // namespace

TEST_CASE_TEMPLATE("cross_entropy is −log softmax at the target, per row and averaged", M,
                   Matrix<float, 6, 50>, Matrix<float, dyn, 50>, Matrix<float, dyn, dyn>) {
  M logits = forma::testing::make<M>(6, 50);
  forma::testing::fill_uniform(logits, 3, -10.0, 10.0);
  logits(2, 7) = 80.0f;  // a confident row: the loss of its argmax is tiny, of another large
  const std::vector<std::int32_t> targets{0, 49, 7, 13, 13, 21};
  Vector<float, dyn> losses(6);
  forma::cross_entropy(logits, targets, losses).value();
  double mean = 0;
  for (std::size_t r = 0; r < 6; ++r) {
    const double expected = reference_row(logits, r, static_cast<std::size_t>(targets[r]));
    CHECK(std::fabs(losses(r) - expected) <= 1e-5 * std::max(1.0, expected));
    mean += expected / 6;
  }
  const float loss = forma::cross_entropy(logits, targets).value();
  CHECK(std::fabs(loss - mean) <= 1e-5 * mean);
  const float one = forma::cross_entropy(logits[3], 13).value();
  CHECK(one == losses(3));
}

TEST_CASE("a target outside the classes is an Error, a wrong count is a shape_error") {
  Matrix<float, 2, 5> logits;
  const std::vector<std::int32_t> bad{1, 5};
  const auto result = forma::cross_entropy(logits, bad);
  REQUIRE_FALSE(result);
  CHECK(result.error().code == forma::errc::out_of_range);
  CHECK(result.error().message == "cross_entropy: target 5 of row 1 is out of range for 5 classes");
  Vector<float, 2> losses;
  forma::fill(losses, 3.0f);
  CHECK_FALSE(forma::cross_entropy(logits, std::vector<std::int32_t>{-1, 0}, losses));
  CHECK(losses(0) == 3.0f);
  CHECK_FALSE(forma::cross_entropy(logits[0], -3));
  CHECK_THROWS_AS((void)forma::cross_entropy(logits, std::vector<std::int32_t>{1, 2, 3}),
                  forma::shape_error);
}

TEST_CASE("cross_entropy of huge logits stays finite") {
  const auto logits = Vector<float, 3>::from_values({1e4f, -1e4f, 0.0f});
  CHECK(forma::cross_entropy(logits, 0).value() == 0.0f);
  CHECK(forma::cross_entropy(logits, 2).value() == doctest::Approx(1e4));
}
