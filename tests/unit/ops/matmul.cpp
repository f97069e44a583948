// Unit tests: matmul, matmul_nt, matvec and dot against a double-precision triple loop, on static
// and dynamic shapes, sizes that are not multiples of the kernels' blocks, and transposed views.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <vector>
#include <type_traits>

#include <forma/forma.hpp>

#include "test_support.hpp"

using forma::dyn;
using forma::Matrix;
using forma::Vector;

namespace {

// The reference: C = op(A)·op(B) in double, element by element through the views.
template <class A, class B>
Matrix<double, dyn, dyn> reference_product(const A& a, const B& b) {
  Matrix<double, dyn, dyn> c(a.extent(0), b.extent(1));
  for (std::size_t i = 0; i < a.extent(0); ++i) {
    for (std::size_t j = 0; j < b.extent(1); ++j) {
      double acc = 0;
      for (std::size_t k = 0; k < a.extent(1); ++k) {
        acc += static_cast<double>(a(i, k)) * static_cast<double>(b(k, j));
      }
      c(i, j) = acc;
    }
  }
  return c;
}

template <class C>
void check_close(const C& c, const Matrix<double, dyn, dyn>& expected, double tolerance) {
  REQUIRE(c.extent(0) == expected.extent(0));
  REQUIRE(c.extent(1) == expected.extent(1));
  const auto as_double = forma::cast<double>(c);
  const Matrix<double, dyn, dyn> got = as_double;
  const auto mismatch = forma::first_mismatch(got, expected, {.abs = tolerance, .rel = tolerance});
  CHECK_MESSAGE(!mismatch.has_value(), mismatch.value_or(""));
}

template <std::size_t M, std::size_t N, std::size_t K>
void check_static_sizes() {
  Matrix<float, M, K> a;
  Matrix<float, K, N> b;
  Matrix<float, N, K> bt;
  forma::testing::fill_uniform(a, 1);
  forma::testing::fill_uniform(b, 2);
  forma::testing::fill_uniform(bt, 3);
  const auto c = forma::matmul(a, b);
  static_assert(std::is_same_v<std::remove_const_t<decltype(c)>, Matrix<float, M, N>>);
  check_close(c, reference_product(a, b), 1e-5);
  const auto d = forma::matmul_nt(a, bt);
  static_assert(std::is_same_v<std::remove_const_t<decltype(d)>, Matrix<float, M, N>>);
  check_close(d, reference_product(a, forma::transpose(bt)), 1e-5);
}

}  // namespace

TEST_CASE("matmul and matmul_nt match the reference at awkward static sizes") {
  check_static_sizes<1, 1, 1>();
  check_static_sizes<7, 5, 3>();
  check_static_sizes<4, 17, 33>();
  check_static_sizes<33, 65, 17>();
  check_static_sizes<64, 64, 64>();
  check_static_sizes<5, 600, 9>();  // N beyond the kernel's column block
}

TEST_CASE_TEMPLATE("the same products with dynamic extents", M, Matrix<float, dyn, dyn>,
                   Matrix<double, dyn, dyn>) {
  for (const auto [m, n, k] : {std::array<std::size_t, 3>{1, 1, 1}, {6, 9, 13}, {31, 2, 70}}) {
    M a = forma::testing::make<M>(m, k);
    M b = forma::testing::make<M>(k, n);
    M bt = forma::testing::make<M>(n, k);
    forma::testing::fill_uniform(a, 4);
    forma::testing::fill_uniform(b, 5);
    forma::testing::fill_uniform(bt, 6);
    check_close(forma::matmul(a, b), reference_product(a, b), 1e-5);
    check_close(forma::matmul_nt(a, bt), reference_product(a, forma::transpose(bt)), 1e-5);
  }
}

TEST_CASE("transposed views pick the right kernel: Aᵀ·B, A·Bᵀ, Aᵀ·Bᵀ") {
  Matrix<float, 9, 6> a_stored;   // used as Aᵀ: (6, 9)
  Matrix<float, 9, 11> b;
  Matrix<float, 11, 9> b_stored;  // used as Bᵀ: (9, 11)
  Matrix<float, 6, 9> a;
  forma::testing::fill_uniform(a_stored, 7);
  forma::testing::fill_uniform(b, 8);
  forma::testing::fill_uniform(b_stored, 9);
  forma::testing::fill_uniform(a, 10);
  const auto at = forma::transpose(a_stored);
  const auto bt = forma::transpose(b_stored);
  check_close(forma::matmul(at, b), reference_product(at, b), 1e-5);
  check_close(forma::matmul(a, bt), reference_product(a, bt), 1e-5);
  check_close(forma::matmul(at, bt), reference_product(at, bt), 1e-5);
  // matmul_nt of a transposed view is a plain product.
  check_close(forma::matmul_nt(a, forma::transpose(b)), reference_product(a, b), 1e-5);
}

TEST_CASE("fast_sum f32 products are the packed GEMM's bits, and ordered_sum rows are matvec's") {
  // 37 × 29 × 300: an odd M and N, K over one portable block of 128, threads split C.
  Matrix<float, dyn, dyn> a(37, 300), b(300, 29), w(29, 300), a_stored(300, 37);
  forma::testing::fill_uniform(a, 21);
  forma::testing::fill_uniform(b, 22);
  forma::testing::fill_uniform(w, 23);
  forma::testing::fill_uniform(a_stored, 24);
  namespace packed = forma::kernels::cpu::packed;
  std::vector<float> expected(37 * 29);
  const auto same = [&](const auto& got) {
    return std::memcmp(got.data(), expected.data(), expected.size() * sizeof(float)) == 0;
  };
  packed::gemm_nn(37, 29, 300, a.data(), 300, b.data(), 29, expected.data(), 29);
  CHECK(same(forma::matmul(a, b)));
  packed::gemm_nt(37, 29, 300, a.data(), 300, w.data(), 300, expected.data(), 29);
  CHECK(same(forma::matmul_nt(a, w)));
  CHECK(same(forma::matmul(a, forma::transpose(w))));
  packed::gemm_tn(37, 29, 300, a_stored.data(), 37, b.data(), 29, expected.data(), 29);
  CHECK(same(forma::matmul(forma::transpose(a_stored), b)));
  // ordered_sum: each row of matmul_nt is matvec of that row, bit for bit.
  Matrix<float, dyn, dyn> ordered(37, 29);
  forma::matmul_nt(a, w, ordered, forma::ordered_sum);
  Vector<float, dyn> row(29);
  for (std::size_t i = 0; i < 37; ++i) {
    forma::matvec(w, a[i], row, forma::ordered_sum);
    CHECK(std::memcmp(row.data(), ordered.data() + i * 29, 29 * sizeof(float)) == 0);
  }
}

TEST_CASE("integer products are exact") {
  const auto a = Matrix<std::int64_t, 2, 3>::from_values({{1, 2, 3}, {4, 5, 6}});
  const auto b = Matrix<std::int64_t, 3, 2>::from_values({{7, 8}, {9, 10}, {11, 12}});
  const auto c = forma::matmul(a, b);
  CHECK(c(0, 0) == 58);
  CHECK(c(0, 1) == 64);
  CHECK(c(1, 0) == 139);
  CHECK(c(1, 1) == 154);
}

TEST_CASE("matvec and dot") {
  Matrix<float, 37, 19> a;
  Vector<float, 19> x;
  forma::testing::fill_uniform(a, 11);
  forma::testing::fill_uniform(x, 12);
  const auto y = forma::matvec(a, x);
  static_assert(std::is_same_v<std::remove_const_t<decltype(y)>, Vector<float, 37>>);
  for (std::size_t i = 0; i < 37; ++i) {
    double expected = 0;
    for (std::size_t k = 0; k < 19; ++k) expected += double(a(i, k)) * double(x(k));
    CHECK(y(i) == doctest::Approx(expected).epsilon(1e-5));
  }
  // A transposed matrix goes through the general kernel.
  const auto z = forma::matvec(forma::transpose(a), forma::matvec(a, x));
  double expected0 = 0;
  for (std::size_t i = 0; i < 37; ++i) expected0 += double(a(i, 0)) * double(y(i));
  CHECK(z(0) == doctest::Approx(expected0).epsilon(1e-5));

  double expected_dot = 0;
  for (std::size_t k = 0; k < 19; ++k) expected_dot += double(x(k)) * double(x(k));
  CHECK(forma::dot(x, x) == doctest::Approx(expected_dot).epsilon(1e-6));
  Vector<float, 3> out_of_place;
  forma::matvec(Matrix<float, 3, 19>{}, x, out_of_place);
  CHECK(out_of_place(2) == 0.0f);
}

TEST_CASE("dynamic shape errors name the op, the operands and both numbers") {
  Matrix<float, dyn, dyn> a(2, 3), b(4, 5);
  CHECK_THROWS_WITH_AS(forma::matmul(a, b),
                       "matmul: inner dimensions differ (A is (M, K), B is (K, N)): 3 != 4",
                       forma::shape_error);
  CHECK_THROWS_WITH_AS(forma::matmul_nt(a, b),
                       "matmul_nt: inner dimensions differ (A is (M, K), B is (N, K)): 3 != 5",
                       forma::shape_error);
  Matrix<float, dyn, dyn> c(3, 4), out(2, 5);
  CHECK_THROWS_WITH_AS(forma::matmul(a, c, out),
                       "matmul: the result has the wrong number of columns (must be N): 5 != 4",
                       forma::shape_error);
  Vector<float, dyn> x(4);
  CHECK_THROWS_WITH_AS(forma::matvec(a, x),
                       "matvec: the vector's length differs from the matrix's columns (A is (M, K), x is (K)): 3 != 4",
                       forma::shape_error);
  CHECK_THROWS_WITH_AS(forma::dot(x, Vector<float, 3>{}), "dot: lengths differ (x is (N), y is (N)): 4 != 3",
                       forma::shape_error);
}

TEST_CASE("the rules as concepts") {
  static_assert(forma::matmul_compatible<Matrix<float, 2, 3>, Matrix<float, 3, 7>>);
  static_assert(!forma::matmul_compatible<Matrix<float, 2, 3>, Matrix<float, 4, 7>>);
  static_assert(forma::matmul_compatible<Matrix<float, 2, dyn>, Matrix<float, 4, 7>>);
  static_assert(!forma::matmul_compatible<Matrix<float, 2, 3>, Matrix<double, 3, 7>>);
  static_assert(!forma::matmul_compatible<Matrix<float, 2, 3>, Vector<float, 3>>);
  static_assert(forma::matmul_nt_compatible<Matrix<float, 2, 3>, Matrix<float, 5, 3>>);
  static_assert(!forma::matmul_nt_compatible<Matrix<float, 2, 3>, Matrix<float, 3, 5>>);
  static_assert(forma::matvec_compatible<Matrix<float, 2, 3>, Vector<float, 3>>);
  static_assert(!forma::matvec_compatible<Matrix<float, 2, 3>, Vector<float, 2>>);
}
