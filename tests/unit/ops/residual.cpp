// Unit tests: the residual add.
#include <doctest/doctest.h>

#include <forma/forma.hpp>

#include "test_support.hpp"

using forma::dyn;
using forma::Matrix;

TEST_CASE_TEMPLATE("residual_add adds the branch to the stream", M, Matrix<float, 3, 72>,
                   Matrix<float, dyn, dyn>) {
  M stream = forma::testing::make<M>(3, 72), branch = forma::testing::make<M>(3, 72);
  forma::testing::fill_uniform(stream, 1);
  forma::testing::fill_uniform(branch, 2);
  M out = forma::testing::make<M>(3, 72);
  forma::residual_add(stream, branch, out);
  M before = stream;
  forma::residual_add(stream, branch);
  for (std::size_t r = 0; r < 3; ++r) {
    for (std::size_t j = 0; j < 72; ++j) {
      CHECK(out(r, j) == before(r, j) + branch(r, j));
      CHECK(stream(r, j) == out(r, j));
    }
  }
  Matrix<float, dyn, dyn> wrong(3, 71);
  CHECK_THROWS_WITH_AS(forma::residual_add(stream, wrong),
                       "residual_add: the branch does not fit the stream: shapes differ (A and B "
                       "must have the same shape): (3, 72) vs (3, 71)",
                       forma::shape_error);
}
