// Unit tests: embedding lookup, ids checked before any read.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include <forma/forma.hpp>

#include "test_support.hpp"

using forma::dyn;
using forma::Matrix;
using forma::Vector;

TEST_CASE_TEMPLATE("embedding copies the token's row, one id or many", Table, Matrix<float, 10, 72>,
                   Matrix<float, dyn, dyn>) {
  Table table = forma::testing::make<Table>(10, 72);
  forma::testing::fill_iota(table);
  Vector<float, 72> row;
  forma::embedding(table, 3, row).value();
  for (std::size_t j = 0; j < 72; ++j) CHECK(row(j) == table(3, j));
  const std::vector<std::int32_t> ids{9, 0, 9, 4};
  Matrix<float, dyn, 72> rows(ids.size());
  forma::embedding(table, ids, rows).value();
  for (std::size_t t = 0; t < ids.size(); ++t) {
    for (std::size_t j = 0; j < 72; ++j) CHECK(rows(t, j) == table(static_cast<std::size_t>(ids[t]), j));
  }
}

TEST_CASE("an id outside the vocabulary is an Error and nothing is written") {
  Matrix<float, 10, 4> table;
  forma::testing::fill_iota(table, 1);
  Vector<float, 4> row;
  forma::fill(row, -7.0f);
  for (const std::int64_t bad : {std::int64_t{10}, std::int64_t{-1}, std::int64_t{1} << 40}) {
    const auto result = forma::embedding(table, bad, row);
    REQUIRE_FALSE(result);
    CHECK(result.error().code == forma::errc::out_of_range);
    CHECK(result.error().expected == "[0, 10)");
    CHECK(result.error().found == std::to_string(bad));
  }
  for (const float v : row) CHECK(v == -7.0f);
  const std::vector<std::int32_t> ids{1, 2, 10};
  Matrix<float, 3, 4> rows;
  const auto batch = forma::embedding(table, ids, rows);
  REQUIRE_FALSE(batch);
  CHECK(batch.error().message == "embedding: token id 10 is out of range for a vocabulary of 10");
  for (const float v : rows) CHECK(v == 0.0f);  // checked before the first copy
}
