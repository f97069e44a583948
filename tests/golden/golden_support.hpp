// tests/golden/golden_support.hpp — reading the PyTorch fixtures of tests/data/golden/, comparing
// with them, and reporting what was measured.
//
// Every comparison asserts its tolerance and records its error. Run the suite with
//   FORMA_GOLDEN_TABLE=1   build/test/tests/golden/forma_golden   (the largest error of each op / layer)
//   FORMA_GOLDEN_TABLE=all build/test/tests/golden/forma_golden   (and every comparison)
// to print the measurements as Markdown tables after the run.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include <forma/core.hpp>
#include <forma/io/npy.hpp>
#include <forma/nn/config.hpp>

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

template <class T>
std::string shape_of(const T& t) {
  std::string text = "(";
  for (std::size_t axis = 0; axis < T::extents_type::rank(); ++axis) {
    if (axis > 0) text += ", ";
    text += std::to_string(t.extent(axis));
  }
  return text + ")";
}

// One comparison with a fixture: what (op or layer), which case, the shape of the result, the
// errors and the tolerance it was held to (0: bit-exact).
struct Measurement {
  std::string op;
  std::string detail;
  std::string shape;
  Error error;
  double tolerance = 0;
};

// The measurements of this run, printed at exit when FORMA_GOLDEN_TABLE is set.
class Report {
 public:
  Report() = default;
  Report(const Report&) = delete;
  Report& operator=(const Report&) = delete;
  ~Report() {
    const char* mode = std::getenv("FORMA_GOLDEN_TABLE");
    if (mode == nullptr || *mode == '\0') return;
    print_summary();
    if (std::string(mode) == "all") print_all();
    std::fflush(stdout);
  }

  void add(Measurement m) { rows_.push_back(std::move(m)); }

 private:
  static std::string number(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3g", value);
    return text;
  }
  static std::string tolerance(double value) { return value == 0 ? "exact" : number(value); }

  // The largest error of each op, over all its cases (ops in the order they were first checked).
  void print_summary() const {
    std::printf("\n| op / layer | comparisons | worst case | shape | max abs error | max scaled error | tolerance |\n");
    std::printf("|---|---|---|---|---|---|---|\n");
    std::vector<std::string> ops;
    for (const Measurement& m : rows_) {
      if (std::find(ops.begin(), ops.end(), m.op) == ops.end()) ops.push_back(m.op);
    }
    for (const std::string& op : ops) {
      const Measurement* worst = nullptr;
      std::size_t count = 0;
      double loosest = 0;
      for (const Measurement& m : rows_) {
        if (m.op != op) continue;
        ++count;
        loosest = std::max(loosest, m.tolerance);
        if (worst == nullptr || !(m.error.abs <= worst->error.abs)) worst = &m;
      }
      std::printf("| %s | %zu | %s | %s | %s | %s | %s |\n", op.c_str(), count,
                  worst->detail.c_str(), worst->shape.c_str(), number(worst->error.abs).c_str(),
                  number(worst->error.scaled).c_str(), tolerance(loosest).c_str());
    }
  }

  void print_all() const {
    std::printf("\n| op / layer | case | shape | max abs error | max scaled error | tolerance |\n");
    std::printf("|---|---|---|---|---|---|\n");
    for (const Measurement& m : rows_) {
      std::printf("| %s | %s | %s | %s | %s | %s |\n", m.op.c_str(), m.detail.c_str(),
                  m.shape.c_str(), number(m.error.abs).c_str(), number(m.error.scaled).c_str(),
                  tolerance(m.tolerance).c_str());
    }
  }

  std::vector<Measurement> rows_;
};

inline Report report;

// Checks `got` against `expected` within `tolerance` (absolute, or relative where |expected| > 1),
// logs the error and records it under `op` / `detail`.
template <class A, class B>
void check(const std::string& op, const std::string& detail, const A& got, const B& expected,
           double tolerance) {
  const Error e = compare(got, expected);
  MESSAGE(op << " " << detail << ": max abs error " << e.abs << " (scaled " << e.scaled
             << "), tolerance " << tolerance);
  CHECK(e.scaled <= tolerance);
  report.add({op, detail, shape_of(expected), e, tolerance});
}

// Checks that `got` equals `expected` exactly: every difference 0 (a NaN fails).
template <class A, class B>
void check_exact(const std::string& op, const std::string& detail, const A& got, const B& expected) {
  const Error e = compare(got, expected);
  MESSAGE(op << " " << detail << ": max abs error " << e.abs << ", must be exact");
  CHECK(e.abs == 0.0);
  report.add({op, detail, shape_of(expected), e, 0.0});
}

// A block config with flash attention of the given block size.
constexpr forma::nn::TransformerConfig with_flash(forma::nn::TransformerConfig c, std::size_t block) {
  c.flash_block = block;
  return c;
}
// The same config with every extent dynamic (the run-time-shaped instantiation).
constexpr forma::nn::TransformerConfig dynamic_of(forma::nn::TransformerConfig c) {
  c.dim = c.hidden = c.layers = c.heads = c.kv_heads = c.max_seq = forma::dyn;
  return c;
}

}  // namespace golden
