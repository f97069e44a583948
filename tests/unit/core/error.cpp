// Unit tests: Error formatting and Result semantics.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include <forma/core/error.hpp>

using forma::errc;
using forma::Error;
using forma::Result;

namespace {
Result<int> parse_positive(int value) {
  if (value <= 0) return forma::make_error(errc::invalid_argument, "value must be positive");
  return value;
}
}  // namespace

TEST_CASE("Error prints path, tensor and message on one line") {
  Error e = forma::mismatch(errc::shape_mismatch, "shape", "(3, 4)", "(4, 3)", "file has");
  CHECK(e.message == "expected shape (3, 4), file has (4, 3)");
  CHECK(e.expected == "(3, 4)");
  CHECK(e.found == "(4, 3)");
  CHECK(e.to_string() == "expected shape (3, 4), file has (4, 3)");
  e = std::move(e).with_path("weights.npy");
  CHECK(e.to_string() == "weights.npy: expected shape (3, 4), file has (4, 3)");
  e = std::move(e).with_tensor("wq");
  CHECK(e.to_string() == "weights.npy: tensor 'wq': expected shape (3, 4), file has (4, 3)");
  CHECK(forma::name_of(errc::truncated) == "truncated");
}

TEST_CASE("Result holds a value or an Error") {
  const auto good = parse_positive(5);
  REQUIRE(good.has_value());
  CHECK(static_cast<bool>(good));
  CHECK(*good == 5);
  CHECK(good.value() == 5);
  CHECK(good.value_or(7) == 5);

  const auto bad = parse_positive(-1);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().code == errc::invalid_argument);
  CHECK(bad.value_or(7) == 7);
  CHECK_THROWS_WITH_AS(bad.value(), "value must be positive", forma::error_exception);
  try {
    (void)bad.value();
  } catch (const forma::error_exception& ex) {
    CHECK(ex.error().code == errc::invalid_argument);
  }
}

TEST_CASE("Result chains with and_then and transform, keeping the first error") {
  auto doubled = parse_positive(4).transform([](int v) { return v * 2; });
  REQUIRE(doubled);
  CHECK(*doubled == 8);
  auto chained = parse_positive(3).and_then([](int v) { return parse_positive(v - 10); });
  REQUIRE_FALSE(chained);
  CHECK(chained.error().message == "value must be positive");
  auto text = parse_positive(-2).transform([](int v) { return std::to_string(v); });
  static_assert(std::is_same_v<decltype(text), Result<std::string>>);
  CHECK_FALSE(text);
}

TEST_CASE("Result works with move-only values and void") {
  Result<std::unique_ptr<int>> owned = std::make_unique<int>(9);
  REQUIRE(owned);
  std::unique_ptr<int> taken = std::move(owned).value();
  CHECK(*taken == 9);

  Result<void> ok;
  CHECK(ok.has_value());
  CHECK_NOTHROW(ok.value());
  Result<void> failed = forma::make_error(errc::io, "cannot open");
  CHECK_FALSE(failed);
  CHECK_THROWS_AS(failed.value(), forma::error_exception);
}
