// tests/support/logits_compare.hpp — comparing flat logit vectors in the model tests: the largest
// error against a reference, bit equality, and the agreement of decode and prefill.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

namespace forma::testing {

// The largest |got − expected| (a NaN wins); the sizes must match.
template <class Expected>
double max_error(const std::vector<float>& got, const std::vector<Expected>& expected) {
  REQUIRE(got.size() == expected.size());
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs(static_cast<double>(got[i]) - static_cast<double>(expected[i]));
    if (!(d <= worst)) worst = d;
  }
  return worst;
}

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Decode and prefill with fast_sum: the prefill's projections run the packed GEMM, the decode's
// the GEMV kernel, which round differently; they agree within this.
inline constexpr double path_tolerance = 1e-5;

inline bool agree(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && max_error(a, b) <= path_tolerance;
}

}  // namespace forma::testing
