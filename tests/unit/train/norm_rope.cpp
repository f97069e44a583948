// Gradient checks: rmsnorm_backward, layernorm_backward and rope_backward (both layouts) against
// finite differences of the forwards in double, and in float against double.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include <forma/forma.hpp>
#include <forma/ops/norm_backward.hpp>
#include <forma/ops/rope_backward.hpp>

#include "gradcheck.hpp"
#include "test_support.hpp"

using gradcheck::DTensor;
using gradcheck::tensor;
using gradcheck::values;

namespace {

struct NormCase {
  std::array<std::size_t, 3> shape;  // (A, B, D): rows = A·B
  std::string text;
};

const NormCase norm_cases[] = {
    {{1, 1, 8}, "(1, 8)"}, {{1, 3, 16}, "(3, 16)"}, {{2, 3, 24}, "(2, 3, 24)"}};

// Σ rmsnorm(x, w) ⊙ g / Σ layernorm(x, w, b) ⊙ g, through forma's forwards in double.
double rmsnorm_loss(const std::vector<double>& x, const std::vector<double>& w,
                    const std::vector<double>& g, const std::array<std::size_t, 3>& shape) {
  const auto X = tensor<double, 3>(x, shape);
  const auto W = tensor<double, 1>(w, {shape[2]});
  return gradcheck::dot(values(forma::rmsnorm(X, W, 1e-5)), g);
}

double layernorm_loss(const std::vector<double>& x, const std::vector<double>& w,
                      const std::vector<double>& b, const std::vector<double>& g,
                      const std::array<std::size_t, 3>& shape) {
  const auto X = tensor<double, 3>(x, shape);
  const auto W = tensor<double, 1>(w, {shape[2]});
  const auto B = tensor<double, 1>(b, {shape[2]});
  return gradcheck::dot(values(forma::layernorm(X, W, B, 1e-5)), g);
}

template <class T>
std::array<std::vector<double>, 2> rmsnorm_gradients(const std::vector<double>& x,
                                                     const std::vector<double>& w,
                                                     const std::vector<double>& g,
                                                     const std::array<std::size_t, 3>& shape) {
  DTensor<T, 3> dx{forma::dextents<3>(shape)};
  DTensor<T, 1> dw{forma::dextents<1>(shape[2])};
  forma::rmsnorm_backward(tensor<T, 3>(x, shape), tensor<T, 1>(w, {shape[2]}),
                          tensor<T, 3>(g, shape), dx, dw, T(1e-5));
  return {values(dx), values(dw)};
}

template <class T>
std::array<std::vector<double>, 3> layernorm_gradients(const std::vector<double>& x,
                                                       const std::vector<double>& w,
                                                       const std::vector<double>& g,
                                                       const std::array<std::size_t, 3>& shape) {
  DTensor<T, 3> dx{forma::dextents<3>(shape)};
  DTensor<T, 1> dw{forma::dextents<1>(shape[2])}, db{forma::dextents<1>(shape[2])};
  forma::layernorm_backward(tensor<T, 3>(x, shape), tensor<T, 1>(w, {shape[2]}),
                            tensor<T, 3>(g, shape), dx, dw, db, T(1e-5));
  return {values(dx), values(dw), values(db)};
}

}  // namespace

TEST_CASE("rmsnorm_backward: dx and dweight against finite differences") {
  for (const NormCase& c : norm_cases) {
    const std::size_t n = c.shape[0] * c.shape[1] * c.shape[2];
    const auto x = gradcheck::random_values(n, 41, -2.0, 2.0);
    const auto w = gradcheck::random_values(c.shape[2], 42, 0.5, 1.5);
    const auto g = gradcheck::random_values(n, 43);
    const auto f64 = rmsnorm_gradients<double>(x, w, g, c.shape);
    const auto f32 = rmsnorm_gradients<float>(x, w, g, c.shape);
    gradcheck::check_fd("rmsnorm_backward dx", c.text, f64[0], gradcheck::numeric_gradient(x, [&](const auto& v) { return rmsnorm_loss(v, w, g, c.shape); }));
    gradcheck::check_fd("rmsnorm_backward dweight", c.text, f64[1], gradcheck::numeric_gradient(w, [&](const auto& v) { return rmsnorm_loss(x, v, g, c.shape); }));
    gradcheck::check_f32("rmsnorm_backward dx", c.text, f32[0], f64[0]);
    gradcheck::check_f32("rmsnorm_backward dweight", c.text, f32[1], f64[1]);
  }
}

TEST_CASE("layernorm_backward: dx, dweight and dbias against finite differences") {
  for (const NormCase& c : norm_cases) {
    const std::size_t n = c.shape[0] * c.shape[1] * c.shape[2];
    const auto x = gradcheck::random_values(n, 51, -3.0, 5.0);
    const auto w = gradcheck::random_values(c.shape[2], 52, 0.5, 1.5);
    const auto b = gradcheck::random_values(c.shape[2], 53, -0.5, 0.5);
    const auto g = gradcheck::random_values(n, 54);
    const auto f64 = layernorm_gradients<double>(x, w, g, c.shape);
    const auto f32 = layernorm_gradients<float>(x, w, g, c.shape);
    gradcheck::check_fd("layernorm_backward dx", c.text, f64[0], gradcheck::numeric_gradient(x, [&](const auto& v) { return layernorm_loss(v, w, b, g, c.shape); }));
    gradcheck::check_fd("layernorm_backward dweight", c.text, f64[1], gradcheck::numeric_gradient(w, [&](const auto& v) { return layernorm_loss(x, v, b, g, c.shape); }));
    gradcheck::check_fd("layernorm_backward dbias", c.text, f64[2], gradcheck::numeric_gradient(b, [&](const auto& v) { return layernorm_loss(x, w, v, g, c.shape); }));
    gradcheck::check_f32("layernorm_backward dx", c.text, f32[0], f64[0]);
    gradcheck::check_f32("layernorm_backward dweight", c.text, f32[1], f64[1]);
    gradcheck::check_f32("layernorm_backward dbias", c.text, f32[2], f64[2]);
  }
}

TEST_CASE("norm backward: dweight and dbias accumulate, dx may be dy, static shapes agree") {
  forma::Matrix<float, 3, 16> x, dy;
  forma::Vector<float, 16> w, dw, db;
  forma::testing::fill_uniform(x, 61, -2.0, 2.0);
  forma::testing::fill_uniform(w, 62, 0.5, 1.5);
  forma::testing::fill_uniform(dy, 63);
  forma::Matrix<float, 3, 16> dx;
  forma::rmsnorm_backward(x, w, dy, dx, dw);
  const auto dw1 = dw;
  forma::Matrix<float, 3, 16> in_place = dy;
  forma::rmsnorm_backward(x, w, in_place, in_place, dw);
  CHECK(forma::max_abs_diff(in_place, dx) == 0.0);
  for (std::size_t j = 0; j < 16; ++j) CHECK(dw(j) == doctest::Approx(2 * dw1(j)));
  forma::Matrix<float, forma::dyn, forma::dyn> xd(3, 16), dyd(3, 16), dxd(3, 16);
  forma::copy(x, xd);
  forma::copy(dy, dyd);
  forma::Vector<float, forma::dyn> dwd(16), dbd(16);
  forma::layernorm_backward(x, w, dy, dx, dw, db);
  forma::layernorm_backward(xd, w, dyd, dxd, dwd, dbd);
  CHECK(forma::max_abs_diff(dx, dxd) == 0.0);
  forma::Vector<float, forma::dyn> short_dw(15);
  CHECK_THROWS_WITH_AS(forma::rmsnorm_backward(xd, w, dyd, dxd, short_dw),
                       doctest::Contains("rmsnorm_backward: dweight length differs from the last axis of x"),
                       forma::shape_error);
  forma::Matrix<float, forma::dyn, forma::dyn> bad_dy(2, 16);
  CHECK_THROWS_WITH_AS(forma::layernorm_backward(xd, w, bad_dy, dxd, dwd, dbd),
                       doctest::Contains("layernorm_backward: dy must have the shape of x"),
                       forma::shape_error);
}

namespace {

// RoPE in double with the forward's angles (math::rope_frequency, the angle in float), rows at
// positions first .. first + T − 1.
std::vector<double> rope_reference(std::vector<double> x, std::size_t T, std::size_t H,
                                   std::size_t Dh, std::size_t first, bool interleaved) {
  const std::size_t pairs = Dh / 2;
  for (std::size_t t = 0; t < T; ++t) {
    for (std::size_t i = 0; i < pairs; ++i) {
      const float angle = static_cast<float>(first + t) *
                          forma::math::rope_frequency(static_cast<unsigned>(i),
                                                      static_cast<unsigned>(Dh), 10000.0f);
      const double c = std::cos(static_cast<double>(angle)), s = std::sin(static_cast<double>(angle));
      for (std::size_t h = 0; h < H; ++h) {
        double* head = x.data() + (t * H + h) * Dh;
        double& a = interleaved ? head[2 * i] : head[i];
        double& b = interleaved ? head[2 * i + 1] : head[i + pairs];
        const double a0 = a, b0 = b;
        a = a0 * c - b0 * s;
        b = a0 * s + b0 * c;
      }
    }
  }
  return x;
}

template <forma::rope_layout Layout, class T>
std::vector<double> rope_gradient(const std::vector<double>& g, std::size_t T_, std::size_t H,
                                  std::size_t Dh, std::size_t first) {
  auto d = tensor<T, 3>(g, {T_, H, Dh});
  forma::rope_backward<Layout>(d, first);
  return values(d);
}

template <forma::rope_layout Layout>
void check_rope(bool interleaved, const char* name) {
  struct Case {
    std::size_t T, H, Dh, first;
  };
  for (const Case c : {Case{1, 2, 8, 5}, Case{4, 3, 8, 0}, Case{5, 2, 16, 7}}) {
    const std::string shape = gradcheck::shape_text({c.T, c.H, c.Dh}) + " from " + std::to_string(c.first);
    const std::size_t n = c.T * c.H * c.Dh;
    const auto x = gradcheck::random_values(n, 71);
    const auto g = gradcheck::random_values(n, 72);
    const auto numeric = gradcheck::numeric_gradient(x, [&](const auto& v) {
      return gradcheck::dot(rope_reference(v, c.T, c.H, c.Dh, c.first, interleaved), g);
    });
    const auto f64 = rope_gradient<Layout, double>(g, c.T, c.H, c.Dh, c.first);
    gradcheck::check_fd(name, shape, f64, numeric);
    gradcheck::check_f32(name, shape, rope_gradient<Layout, float>(g, c.T, c.H, c.Dh, c.first), f64);
    // The float forward and backward are inverse rotations: backward(forward(x)) ≈ x.
    auto y = tensor<float, 3>(x, {c.T, c.H, c.Dh});
    forma::rope<Layout>(y, c.first);
    CHECK(gradcheck::relative_error(values(y), rope_reference(x, c.T, c.H, c.Dh, c.first, interleaved)) <= 1e-6);
    forma::rope_backward<Layout>(y, c.first);
    CHECK(gradcheck::relative_error(values(y), x) <= 1e-6);
  }
}

}  // namespace

TEST_CASE("rope_backward, interleaved pairs: the inverse rotation, against finite differences") {
  check_rope<forma::rope_layout::interleaved>(true, "rope_backward interleaved");
}

TEST_CASE("rope_backward, half pairs: the inverse rotation, against finite differences") {
  check_rope<forma::rope_layout::half>(false, "rope_backward half");
}

TEST_CASE("rope_backward of one position (H, Dh) equals the (1, H, Dh) form, and static shapes work") {
  forma::Tensor<float, forma::extents<1, 2, 8>> a;
  forma::Matrix<float, 2, 8> b;
  forma::testing::fill_uniform(a, 81);
  std::copy(a.begin(), a.end(), b.begin());
  forma::rope_backward<forma::rope_layout::half>(a, 9);
  forma::rope_backward<forma::rope_layout::half>(b, 9);
  CHECK(std::equal(a.begin(), a.end(), b.begin()));
}
