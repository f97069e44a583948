// Gradient checks: linear_backward (dx, dw, db), embedding_backward (scatter-add) and
// position_embedding_backward (learned positions), against finite differences in double and in
// float against double; accumulation, static shapes, and the errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include <forma/forma.hpp>
#include <forma/ops/embedding_backward.hpp>
#include <forma/ops/linear_backward.hpp>

#include "gradcheck.hpp"
#include "test_support.hpp"

using gradcheck::DTensor;
using gradcheck::tensor;
using gradcheck::values;

namespace {

struct LinearShape {
  std::size_t rows, in, out;
};

// Σ (x · wᵀ + b) ⊙ g through forma's own forward (matmul_nt) in double.
double linear_loss(const std::vector<double>& x, const std::vector<double>& w,
                   const std::vector<double>& b, const std::vector<double>& g, LinearShape s) {
  const auto X = tensor<double, 2>(x, {s.rows, s.in});
  const auto W = tensor<double, 2>(w, {s.out, s.in});
  DTensor<double, 2> y{forma::dextents<2>(s.rows, s.out)};
  forma::matmul_nt(X, W, y);
  double loss = 0;
  for (std::size_t r = 0; r < s.rows; ++r) {
    for (std::size_t o = 0; o < s.out; ++o) {
      loss += (y(r, o) + b[o]) * g[r * s.out + o];
    }
  }
  return loss;
}

template <class T>
struct LinearGradients {
  std::vector<double> dx, dw, db;
};

template <class T>
LinearGradients<T> linear_gradients(const std::vector<double>& x, const std::vector<double>& w,
                                    const std::vector<double>& g, LinearShape s) {
  const auto X = tensor<T, 2>(x, {s.rows, s.in});
  const auto W = tensor<T, 2>(w, {s.out, s.in});
  const auto G = tensor<T, 2>(g, {s.rows, s.out});
  DTensor<T, 2> dx{forma::dextents<2>(s.rows, s.in)}, dw{forma::dextents<2>(s.out, s.in)};
  DTensor<T, 1> db{forma::dextents<1>(s.out)};
  forma::linear_backward(X, W, G, dx, dw, db);
  return {values(dx), values(dw), values(db)};
}

}  // namespace

TEST_CASE("linear_backward: dx, dw and db against finite differences, T = 1 and T > 1") {
  for (const LinearShape s : {LinearShape{1, 5, 3}, LinearShape{4, 7, 6}, LinearShape{9, 16, 12}}) {
    const std::string shape = "x " + gradcheck::shape_text({s.rows, s.in}) + ", w " +
                              gradcheck::shape_text({s.out, s.in});
    const auto x = gradcheck::random_values(s.rows * s.in, 1);
    const auto w = gradcheck::random_values(s.out * s.in, 2);
    const auto b = gradcheck::random_values(s.out, 3);
    const auto g = gradcheck::random_values(s.rows * s.out, 4);
    const auto f64 = linear_gradients<double>(x, w, g, s);
    const auto f32 = linear_gradients<float>(x, w, g, s);
    gradcheck::check_fd("linear_backward dx", shape, f64.dx, gradcheck::numeric_gradient(x, [&](const auto& v) { return linear_loss(v, w, b, g, s); }));
    gradcheck::check_fd("linear_backward dw", shape, f64.dw, gradcheck::numeric_gradient(w, [&](const auto& v) { return linear_loss(x, v, b, g, s); }));
    gradcheck::check_fd("linear_backward db", shape, f64.db, gradcheck::numeric_gradient(b, [&](const auto& v) { return linear_loss(x, w, v, g, s); }));
    gradcheck::check_f32("linear_backward dx", shape, f32.dx, f64.dx);
    gradcheck::check_f32("linear_backward dw", shape, f32.dw, f64.dw);
    gradcheck::check_f32("linear_backward db", shape, f32.db, f64.db);
  }
}

TEST_CASE("linear_backward accumulates dw and db, overwrites dx, and static shapes agree with dynamic") {
  forma::Matrix<float, 3, 4> x, dx;
  forma::Matrix<float, 5, 4> w, dw;
  forma::Matrix<float, 3, 5> dy;
  forma::Vector<float, 5> db;
  forma::testing::fill_uniform(x, 11);
  forma::testing::fill_uniform(w, 12);
  forma::testing::fill_uniform(dy, 13);
  forma::fill(dx, 99.0f);
  forma::linear_backward(x, w, dy, dx, dw, db);
  const auto dx1 = dx;
  const auto dw1 = dw;
  const auto db1 = db;
  forma::linear_backward(x, w, dy, dx, dw, db);  // a second call adds the same again
  CHECK(forma::max_abs_diff(dx, dx1) == 0.0);
  for (std::size_t i = 0; i < dw.size(); ++i) CHECK(dw.data()[i] == doctest::Approx(2 * dw1.data()[i]));
  for (std::size_t i = 0; i < db.size(); ++i) CHECK(db.data()[i] == doctest::Approx(2 * db1.data()[i]));
  // The dynamic form computes the same bits; without db it leaves the bias alone.
  forma::Matrix<float, forma::dyn, forma::dyn> xd(3, 4), dxd(3, 4), wd(5, 4), dwd(5, 4), dyd(3, 5);
  forma::copy(x, xd);
  forma::copy(w, wd);
  forma::copy(dy, dyd);
  forma::linear_backward(xd, wd, dyd, dxd, dwd);
  CHECK(forma::max_abs_diff(dxd, dx1) == 0.0);
  CHECK(forma::max_abs_diff(dwd, dw1) == 0.0);
}

TEST_CASE("linear_backward: a gradient of the wrong run-time shape is a shape_error naming it") {
  forma::Matrix<float, forma::dyn, forma::dyn> x(3, 4), dx(3, 4), w(5, 4), dy(3, 5), bad_dw(4, 5);
  CHECK_THROWS_WITH_AS(forma::linear_backward(x, w, dy, dx, bad_dw),
                       doctest::Contains("linear_backward: dw must have the shape of w (Out, In)"),
                       forma::shape_error);
  forma::Matrix<float, forma::dyn, forma::dyn> dw(5, 4), bad_dy(2, 5);
  CHECK_THROWS_WITH_AS(forma::linear_backward(x, w, bad_dy, dx, dw),
                       doctest::Contains("linear_backward: dy's rows differ from x's"),
                       forma::shape_error);
  forma::Vector<float, forma::dyn> bad_db(4);
  CHECK_THROWS_WITH_AS(forma::linear_backward(x, w, dy, dx, dw, bad_db),
                       doctest::Contains("linear_backward: db's length differs from w's outputs"),
                       forma::shape_error);
}

namespace {
// Σ table[ids[t]] ⊙ g[t] (forma::embedding in double).
double embedding_loss(const std::vector<double>& table, std::span<const std::int32_t> ids,
                      const std::vector<double>& g, std::size_t vocab, std::size_t width) {
  const auto t = tensor<double, 2>(table, {vocab, width});
  DTensor<double, 2> out{forma::dextents<2>(ids.size(), width)};
  REQUIRE(forma::embedding(t, ids, out));
  return gradcheck::dot(values(out), g);
}
}  // namespace

TEST_CASE("embedding_backward scatter-adds, repeated ids included") {
  constexpr std::size_t vocab = 7, width = 5;
  const std::vector<std::int32_t> ids{3, 0, 3, 6, 3, 1};
  const auto table = gradcheck::random_values(vocab * width, 21);
  const auto g = gradcheck::random_values(ids.size() * width, 22);
  const auto numeric = gradcheck::numeric_gradient(
      table, [&](const auto& v) { return embedding_loss(v, ids, g, vocab, width); });
  DTensor<double, 2> d64{forma::dextents<2>(vocab, width)};
  DTensor<float, 2> d32{forma::dextents<2>(vocab, width)};
  REQUIRE(forma::embedding_backward(ids, tensor<double, 2>(g, {ids.size(), width}), d64));
  REQUIRE(forma::embedding_backward(ids, tensor<float, 2>(g, {ids.size(), width}), d32));
  const std::string shape = "table (7, 5), 6 ids";
  gradcheck::check_fd("embedding_backward", shape, values(d64), numeric);
  gradcheck::check_f32("embedding_backward", shape, values(d32), values(d64));
  // Rows never looked up (2, 4, 5) stay zero; row 3 holds three rows of g.
  for (std::size_t j = 0; j < width; ++j) {
    CHECK(d64(2, j) == 0.0);
    CHECK(d64(3, j) == doctest::Approx(g[0 * width + j] + g[2 * width + j] + g[4 * width + j]));
  }
}

TEST_CASE("embedding_backward: an id outside the table is an Error and dtable is untouched") {
  forma::Matrix<float, 4, 3> dtable;
  forma::fill(dtable, 1.0f);
  forma::Matrix<float, 2, 3> dy;
  forma::fill(dy, 5.0f);
  for (const std::int32_t bad : {4, -1}) {
    const std::vector<std::int32_t> ids{1, bad};
    const auto result = forma::embedding_backward(ids, dy, dtable);
    REQUIRE_FALSE(result);
    CHECK(result.error().code == forma::errc::out_of_range);
    CHECK(result.error().message.find("embedding_backward: token id " + std::to_string(bad)) !=
          std::string::npos);
    for (const float v : dtable) CHECK(v == 1.0f);
  }
  const std::vector<std::int32_t> one{1};
  CHECK_THROWS_AS((void)forma::embedding_backward(one, dy, dtable), forma::shape_error);
}

TEST_CASE("position_embedding_backward adds dy to the rows first .. first + T - 1") {
  constexpr std::size_t positions = 8, width = 4, tokens = 3, first = 2;
  const auto table = gradcheck::random_values(positions * width, 31);
  const auto g = gradcheck::random_values(tokens * width, 32);
  const auto loss = [&](const std::vector<double>& v) {
    double s = 0;
    for (std::size_t t = 0; t < tokens; ++t) {
      for (std::size_t j = 0; j < width; ++j) s += v[(first + t) * width + j] * g[t * width + j];
    }
    return s;
  };
  DTensor<double, 2> d64{forma::dextents<2>(positions, width)};
  DTensor<float, 2> d32{forma::dextents<2>(positions, width)};
  REQUIRE(forma::position_embedding_backward(first, tensor<double, 2>(g, {tokens, width}), d64));
  REQUIRE(forma::position_embedding_backward(first, tensor<float, 2>(g, {tokens, width}), d32));
  gradcheck::check_fd("position_embedding_backward", "table (8, 4), T 3 from 2", values(d64),
                      gradcheck::numeric_gradient(table, loss));
  gradcheck::check_f32("position_embedding_backward", "table (8, 4), T 3 from 2", values(d32),
                       values(d64));
  // Past the table: an Error naming the last position, nothing written.
  const auto past = forma::position_embedding_backward(6, tensor<float, 2>(g, {tokens, width}), d32);
  REQUIRE_FALSE(past);
  CHECK(past.error().message.find("position_embedding_backward: position 8 is out of range") !=
        std::string::npos);
  CHECK(values(d32) == values(d64));
}
