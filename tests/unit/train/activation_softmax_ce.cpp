// Gradient checks: softmax_backward (plain and causal rows), silu/gelu/gelu_tanh_backward,
// swiglu_backward and cross_entropy_backward (the fused loss and dlogits, ignore index) against
// finite differences of forma's forwards in double, and in float against double.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <forma/forma.hpp>
#include <forma/ops/activation_backward.hpp>
#include <forma/ops/cross_entropy_backward.hpp>
#include <forma/ops/softmax_backward.hpp>

#include "gradcheck.hpp"
#include "test_support.hpp"

using gradcheck::DTensor;
using gradcheck::tensor;
using gradcheck::values;

TEST_CASE("softmax_backward: plain and causal rows against finite differences") {
  struct Case {
    std::size_t rows, n;
    bool causal;
  };
  for (const Case c : {Case{1, 5, false}, Case{3, 7, false}, Case{4, 6, true}}) {
    const std::string shape = gradcheck::shape_text({c.rows, c.n}) + (c.causal ? " causal" : "");
    const auto x = gradcheck::random_values(c.rows * c.n, 91, -4.0, 4.0);
    const auto g = gradcheck::random_values(c.rows * c.n, 92);
    const auto forward = [&](const std::vector<double>& v) {
      const auto X = tensor<double, 2>(v, {c.rows, c.n});
      DTensor<double, 2> y{forma::dextents<2>(c.rows, c.n)};
      if (c.causal) {
        forma::softmax_causal(X, y);
      } else {
        forma::softmax(X, y);
      }
      return y;
    };
    const auto y64 = forward(x);
    const auto f64 = values(forma::softmax_backward(y64, tensor<double, 2>(g, {c.rows, c.n})));
    const auto y32 = tensor<float, 2>(values(y64), {c.rows, c.n});
    const auto f32 = values(forma::softmax_backward(y32, tensor<float, 2>(g, {c.rows, c.n})));
    gradcheck::check_fd("softmax_backward", shape, f64, gradcheck::numeric_gradient(x, [&](const auto& v) { return gradcheck::dot(values(forward(v)), g); }));
    gradcheck::check_f32("softmax_backward", shape, f32, f64);
  }
}

namespace {
template <class Forward, class Backward64, class Backward32>
void check_activation(const char* name, Forward forward, Backward64 backward64,
                      Backward32 backward32) {
  constexpr std::size_t rows = 3, n = 11;
  const std::string shape = "(3, 11)";
  // Values over the interesting range, both signs, including near 0.
  const auto x = gradcheck::random_values(rows * n, 101, -6.0, 6.0);
  const auto g = gradcheck::random_values(rows * n, 102);
  const auto loss = [&](const std::vector<double>& v) {
    return gradcheck::dot(values(forward(tensor<double, 2>(v, {rows, n}))), g);
  };
  const auto f64 = values(backward64(tensor<double, 2>(x, {rows, n}), tensor<double, 2>(g, {rows, n})));
  const auto f32 = values(backward32(tensor<float, 2>(x, {rows, n}), tensor<float, 2>(g, {rows, n})));
  gradcheck::check_fd(name, shape, f64, gradcheck::numeric_gradient(x, loss));
  gradcheck::check_f32(name, shape, f32, f64);
}
}  // namespace

TEST_CASE("silu_backward, gelu_backward, gelu_tanh_backward against finite differences") {
  check_activation("silu_backward", [](const auto& x) { return forma::silu(x); },
                   [](const auto& x, const auto& g) { return forma::silu_backward(x, g); },
                   [](const auto& x, const auto& g) { return forma::silu_backward(x, g); });
  check_activation("gelu_backward", [](const auto& x) { return forma::gelu(x); },
                   [](const auto& x, const auto& g) { return forma::gelu_backward(x, g); },
                   [](const auto& x, const auto& g) { return forma::gelu_backward(x, g); });
  check_activation("gelu_tanh_backward", [](const auto& x) { return forma::gelu_tanh(x); },
                   [](const auto& x, const auto& g) { return forma::gelu_tanh_backward(x, g); },
                   [](const auto& x, const auto& g) { return forma::gelu_tanh_backward(x, g); });
}

TEST_CASE("swiglu_backward: dgate and dup against finite differences, dgate may be dy") {
  constexpr std::size_t rows = 2, n = 9;
  const auto gate = gradcheck::random_values(rows * n, 111, -6.0, 6.0);
  const auto up = gradcheck::random_values(rows * n, 112, -2.0, 2.0);
  const auto g = gradcheck::random_values(rows * n, 113);
  const auto loss = [&](const std::vector<double>& gv, const std::vector<double>& uv) {
    return gradcheck::dot(values(forma::swiglu(tensor<double, 2>(gv, {rows, n}),
                                               tensor<double, 2>(uv, {rows, n}))), g);
  };
  DTensor<double, 2> dg64{forma::dextents<2>(rows, n)}, du64{forma::dextents<2>(rows, n)};
  forma::swiglu_backward(tensor<double, 2>(gate, {rows, n}), tensor<double, 2>(up, {rows, n}),
                         tensor<double, 2>(g, {rows, n}), dg64, du64);
  auto dg32 = tensor<float, 2>(g, {rows, n});  // dgate written over dy
  DTensor<float, 2> du32{forma::dextents<2>(rows, n)};
  forma::swiglu_backward(tensor<float, 2>(gate, {rows, n}), tensor<float, 2>(up, {rows, n}), dg32,
                         dg32, du32);
  const std::string shape = "(2, 9)";
  gradcheck::check_fd("swiglu_backward dgate", shape, values(dg64), gradcheck::numeric_gradient(gate, [&](const auto& v) { return loss(v, up); }));
  gradcheck::check_fd("swiglu_backward dup", shape, values(du64), gradcheck::numeric_gradient(up, [&](const auto& v) { return loss(gate, v); }));
  gradcheck::check_f32("swiglu_backward dgate", shape, values(dg32), values(dg64));
  gradcheck::check_f32("swiglu_backward dup", shape, values(du32), values(du64));
}

TEST_CASE("activation backward: static shapes, and a dx of the wrong run-time shape is a shape_error") {
  forma::Matrix<float, 2, 4> x, dy, dx;
  forma::testing::fill_uniform(x, 121);
  forma::testing::fill_uniform(dy, 122);
  forma::silu_backward(x, dy, dx);
  CHECK(dx(1, 2) == doctest::Approx(dy(1, 2) * forma::math::silu_grad(x(1, 2))));
  forma::Matrix<float, forma::dyn, forma::dyn> xd(2, 4), bad(4, 2);
  CHECK_THROWS_WITH_AS(forma::gelu_backward(xd, xd, bad),
                       doctest::Contains("gelu_backward: dx must have the shape of x"),
                       forma::shape_error);
}

namespace {
// The mean cross-entropy of the rows whose target is not ignored (forma::cross_entropy, per row).
double mean_cross_entropy(const std::vector<double>& logits, const std::vector<std::int32_t>& targets,
                          std::size_t classes) {
  double total = 0;
  std::size_t counted = 0;
  for (std::size_t r = 0; r < targets.size(); ++r) {
    if (targets[r] == forma::default_ignore_index) continue;
    const std::vector<double> row(logits.begin() + static_cast<std::ptrdiff_t>(r * classes),
                                  logits.begin() + static_cast<std::ptrdiff_t>((r + 1) * classes));
    const auto loss = forma::cross_entropy(tensor<double, 1>(row, {classes}), targets[r]);
    REQUIRE(loss);
    total += *loss;
    ++counted;
  }
  return total / static_cast<double>(counted);
}
}  // namespace

TEST_CASE("cross_entropy_backward: the mean loss and dlogits against finite differences, ignore index") {
  struct Case {
    std::vector<std::int32_t> targets;
    std::size_t classes;
    double spread;
  };
  const Case cases[] = {{{3}, 5, 4.0},
                        {{0, 9, -100, 4}, 10, 4.0},
                        {{2, -100, 2, 7, 1, 0}, 8, 30.0}};
  for (const Case& c : cases) {
    const std::size_t rows = c.targets.size();
    const std::string shape = gradcheck::shape_text({rows, c.classes}) +
                              (c.spread > 10 ? " logits in ±30" : "");
    const auto logits = gradcheck::random_values(rows * c.classes, 131, -c.spread, c.spread);
    DTensor<double, 2> d64{forma::dextents<2>(rows, c.classes)};
    DTensor<float, 2> d32{forma::dextents<2>(rows, c.classes)};
    const auto loss64 = forma::cross_entropy_backward(tensor<double, 2>(logits, {rows, c.classes}), c.targets, d64);
    const auto loss32 = forma::cross_entropy_backward(tensor<float, 2>(logits, {rows, c.classes}), c.targets, d32);
    REQUIRE(loss64);
    REQUIRE(loss32);
    const double expected = mean_cross_entropy(logits, c.targets, c.classes);
    CHECK(*loss64 == doctest::Approx(expected).epsilon(1e-12));
    CHECK(*loss32 == doctest::Approx(expected).epsilon(1e-6));
    gradcheck::check_fd("cross_entropy_backward", shape, values(d64), gradcheck::numeric_gradient(logits, [&](const auto& v) { return mean_cross_entropy(v, c.targets, c.classes); }));
    gradcheck::check_f32("cross_entropy_backward", shape, values(d32), values(d64));
    for (std::size_t r = 0; r < rows; ++r) {
      if (c.targets[r] != forma::default_ignore_index) continue;
      for (std::size_t j = 0; j < c.classes; ++j) CHECK(d64(r, j) == 0.0);
    }
  }
}

TEST_CASE("cross_entropy_backward: huge logits stay finite, dlogits may be the logits, all ignored is NaN") {
  forma::Matrix<float, 2, 3> logits;
  logits(0, 0) = 1e4f, logits(0, 1) = -1e4f, logits(0, 2) = 0.0f;
  logits(1, 0) = 3e4f, logits(1, 1) = 3e4f, logits(1, 2) = -3e4f;
  const std::vector<std::int32_t> targets{1, 0};
  forma::Matrix<float, 2, 3> d;
  const auto loss = forma::cross_entropy_backward(logits, targets, d);
  REQUIRE(loss);
  CHECK(*loss == doctest::Approx((2e4 + std::log(2.0)) / 2));
  CHECK(d(0, 0) == doctest::Approx(0.5));
  CHECK(d(0, 1) == doctest::Approx(-0.5));
  CHECK(d(1, 0) == doctest::Approx(-0.25));
  CHECK(d(1, 1) == doctest::Approx(0.25));
  auto in_place = logits;
  const auto again = forma::cross_entropy_backward(in_place, targets, in_place);
  REQUIRE(again);
  CHECK(*again == *loss);
  CHECK(forma::max_abs_diff(in_place, d) == 0.0);

  const std::vector<std::int32_t> ignored{-100, -100};
  const auto none = forma::cross_entropy_backward(logits, ignored, d);
  REQUIRE(none);
  CHECK(std::isnan(*none));
  for (const float v : d) CHECK(v == 0.0f);
  // A custom ignore index.
  const std::vector<std::int32_t> custom{2, 0};
  const auto one_row = forma::cross_entropy_backward(logits, custom, d, 2);
  REQUIRE(one_row);
  CHECK(*one_row == doctest::Approx(std::log(2.0)));
}

TEST_CASE("cross_entropy_backward: a target outside 0 .. V-1 is an Error and dlogits is untouched") {
  forma::Matrix<float, 2, 3> logits, d;
  forma::fill(d, 7.0f);
  for (const std::int32_t bad : {3, -1}) {
    const std::vector<std::int32_t> targets{0, bad};
    const auto loss = forma::cross_entropy_backward(logits, targets, d);
    REQUIRE_FALSE(loss);
    CHECK(loss.error().code == forma::errc::out_of_range);
    CHECK(loss.error().message.find("target " + std::to_string(bad) + " of row 1") != std::string::npos);
    for (const float v : d) CHECK(v == 7.0f);
  }
  const std::vector<std::int32_t> short_targets{0};
  CHECK_THROWS_AS((void)forma::cross_entropy_backward(logits, short_targets, d), forma::shape_error);
}
