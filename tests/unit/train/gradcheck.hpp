// tests/unit/train/gradcheck.hpp — gradient checks for the backward ops.
//
// Every backward op is checked twice:
//   1. its double-precision result against central finite differences of the forward, also in
//      double: for L(θ) = Σ forward(θ) ⊙ G with a random upstream gradient G,
//      dL/dθ_i ≈ (L(θ + h e_i) − L(θ − h e_i)) / 2h;
//   2. its float result against its double result on the same (float-representable) inputs.
// The error is relative to the largest gradient entry: max_i |got_i − want_i| / max_i |want_i|.
// FORMA_GRAD_TABLE=1 prints every measurement as a Markdown table row.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <forma/core.hpp>

namespace gradcheck {

template <class T, std::size_t Rank>
using DTensor = forma::Tensor<T, forma::dextents<Rank>>;

// Uniform values in [low, high), rounded to float (so float and double runs see the same inputs).
inline std::vector<double> random_values(std::size_t n, unsigned seed, double low = -1.0,
                                         double high = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(low, high);
  std::vector<double> v(n);
  for (double& x : v) x = static_cast<double>(static_cast<float>(dist(rng)));
  return v;
}

template <class T, std::size_t Rank>
DTensor<T, Rank> tensor(const std::vector<double>& values, std::array<std::size_t, Rank> shape) {
  DTensor<T, Rank> t{forma::dextents<Rank>(shape)};
  REQUIRE(t.size() == values.size());
  std::size_t i = 0;
  for (auto& x : t) x = static_cast<T>(values[i++]);
  return t;
}

template <class X>
std::vector<double> values(const X& x) {
  std::vector<double> v;
  v.reserve(x.size());
  for (const auto& e : forma::view(x)) v.push_back(static_cast<double>(e));
  return v;
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Central differences of the scalar `loss` at `x`.
template <class Loss>
std::vector<double> numeric_gradient(std::vector<double> x, Loss loss, double h = 1e-5) {
  std::vector<double> g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + h;
    const double up = loss(x);
    x[i] = saved - h;
    const double down = loss(x);
    x[i] = saved;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

// max |got − want| / max |want| (0 when both are 0; NaN anywhere gives NaN).
inline double relative_error(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs(got[i] - want[i]);
    if (!(d <= diff)) diff = d;
    scale = std::max(scale, std::fabs(want[i]));
  }
  if (std::isnan(diff)) return diff;
  return scale == 0 ? diff : diff / scale;
}

// Records and (with FORMA_GRAD_TABLE set) prints one measurement.
inline void report(const std::string& op, const std::string& shape, const std::string& against,
                   double error) {
  if (std::getenv("FORMA_GRAD_TABLE") != nullptr) {
    std::printf("| %s | %s | %s | %.2e |\n", op.c_str(), shape.c_str(), against.c_str(), error);
  }
}

// The checks every gradient goes through.
inline constexpr double fd_tolerance = 1e-6;   // double analytic vs double finite differences
inline constexpr double f32_tolerance = 1e-4;  // float analytic vs double analytic

inline void check_fd(const std::string& op, const std::string& shape,
                     const std::vector<double>& analytic, const std::vector<double>& numeric) {
  const double e = relative_error(analytic, numeric);
  report(op, shape, "f64 vs finite differences", e);
  INFO(op, " ", shape, ": relative error vs finite differences ", e);
  CHECK(e <= fd_tolerance);
}

inline void check_f32(const std::string& op, const std::string& shape,
                      const std::vector<double>& got_f32, const std::vector<double>& want_f64) {
  const double e = relative_error(got_f32, want_f64);
  report(op, shape, "f32 vs f64 analytic", e);
  INFO(op, " ", shape, ": relative error of f32 vs the f64 gradient ", e);
  CHECK(e <= f32_tolerance);
}

inline std::string shape_text(std::initializer_list<std::size_t> dims) {
  std::string s = "(";
  bool first = true;
  for (const std::size_t d : dims) {
    if (!first) s += ", ";
    s += std::to_string(d);
    first = false;
  }
  return s + ")";
}

}  // namespace gradcheck
