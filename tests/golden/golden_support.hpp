// tests/golden/golden_support.hpp — reading the PyTorch fixtures of tests/data/golden/ and
// comparing with them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <forma/core.hpp>
#include <forma/io/npy.hpp>

namespace golden {

inline std::string path(const std::string& fixture, const std::string& name) {
  return std::string(FORMA_TEST_DATA_DIR) + "/golden/" + fixture + "/" + name + ".npy";
}

// A fixture tensor as the given tensor type (static extents are checked against the file).
template <class TensorType>
TensorType load(const std::string& fixture, const std::string& name) {
  auto loaded = forma::io::load_npy<TensorType>(path(fixture, name));
  if (!loaded) FAIL(loaded.error().to_string());
  return std::move(loaded).value();
}

// A fixture tensor of floats with every extent dynamic.
template <std::size_t Rank>
forma::Tensor<float, forma::dextents<Rank>> load_dyn(const std::string& fixture, const std::string& name) {
  return load<forma::Tensor<float, forma::dextents<Rank>>>(fixture, name);
}

inline std::vector<std::int32_t> load_ids(const std::string& fixture, const std::string& name) {
  const auto ids = load<forma::Tensor<std::int32_t, forma::dextents<1>>>(fixture, name);
  return {ids.begin(), ids.end()};
}

// How far `got` is from PyTorch's `expected`: the largest absolute difference, and the largest
// difference relative to max(1, |expected|) (the "abs or rel" tolerance).
struct Error {
  double abs = 0;
  double scaled = 0;
};

template <class A, class B>
Error compare(const A& got, const B& expected) {
  REQUIRE(got.size() == expected.size());
  Error e;
  auto g = forma::view(got).begin();
  for (const float want : forma::view(expected)) {
    const double d = std::fabs(static_cast<double>(*g++) - static_cast<double>(want));
    if (!(d <= e.abs)) e.abs = d;  // NaN wins
    const double s = d / std::max(1.0, std::fabs(static_cast<double>(want)));
    if (!(s <= e.scaled)) e.scaled = s;
  }
  return e;
}

// Checks `got` against `expected` within `tolerance` (absolute, or relative where |expected| > 1)
// and reports the error under `what`.
template <class A, class B>
void check(const std::string& what, const A& got, const B& expected, double tolerance) {
  const Error e = compare(got, expected);
  MESSAGE(what << ": max abs error " << e.abs << " (scaled " << e.scaled << ")");
  CHECK(e.scaled <= tolerance);
}

}  // namespace golden
