// Unit tests: Tensor and TensorView — storage, access, views, conversions.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <forma/core.hpp>

#include "test_support.hpp"

using forma::dyn;
using forma::extents;
using forma::Matrix;
using forma::Tensor;
using forma::Vector;

namespace {
// A requires-expression only yields false for ill-formed code inside a template, hence these.
template <class V>
concept element_assignable = requires(V v) { v(0, 0) = 1.0f; };
template <class V>
concept has_rows = requires(V v) { v.row(0); };
template <class X>
concept transposable = requires(X&& x) { forma::transpose(static_cast<X&&>(x)); };
template <class V>
concept host_indexable = requires(V v) { v(0, 0); };
}  // namespace

TEST_CASE("a static shape lives on the heap, aligned and zeroed, at transformer scale") {
  Matrix<float, 32000, 288> embedding;  // 35 MB: static shape does not mean inline storage
  static_assert(sizeof(embedding) <= 2 * sizeof(void*));
  static_assert(decltype(embedding)::static_extent(0) == 32000);
  CHECK(embedding.size() == 32000u * 288u);
  CHECK(reinterpret_cast<std::uintptr_t>(embedding.data()) % 64 == 0);
  CHECK(embedding(31999, 287) == 0.0f);
  CHECK(embedding(0, 0) == 0.0f);
}

TEST_CASE_TEMPLATE("construction, element access and copies", M, Matrix<float, 3, 4>,
                   Matrix<float, dyn, dyn>, Matrix<float, dyn, 4>, Matrix<float, 3, dyn>) {
  M m = forma::testing::make<M>(3, 4);
  CHECK(m.extent(0) == 3);
  CHECK(m.extent(1) == 4);
  CHECK(m.size() == 12);
  CHECK(m.size_bytes() == 48);
  CHECK(reinterpret_cast<std::uintptr_t>(m.data()) % 64 == 0);
  for (float x : m) CHECK(x == 0.0f);

  forma::testing::fill_iota(m);
  CHECK(m(0, 0) == 0.0f);
  CHECK(m(1, 2) == 6.0f);
  CHECK(m(2, 3) == 11.0f);
  CHECK(m[2][1] == 9.0f);
  CHECK(m.row(1)(3) == 7.0f);
  CHECK(m.at(2, 3) == 11.0f);
  CHECK(m.view()[std::array<std::size_t, 2>{1, 1}] == 5.0f);

  M copy = m;  // deep copy
  copy(0, 0) = 100.0f;
  CHECK(m(0, 0) == 0.0f);
  CHECK(copy(0, 0) == 100.0f);

  M moved = std::move(copy);
  CHECK(moved(0, 0) == 100.0f);
  CHECK(moved.extent(0) == 3);
}

TEST_CASE("at() always checks bounds and names the index and the shape") {
  Matrix<float, dyn, dyn> m(2, 3);
  CHECK_THROWS_WITH_AS(m.at(2, 0), "index (2, 0) is out of range for shape (2, 3)",
                       forma::index_error);
  CHECK_THROWS_WITH_AS(m.at(0, 3), "index (0, 3) is out of range for shape (2, 3)",
                       forma::index_error);
  Vector<int, 4> v;
  CHECK_THROWS_AS(v.at(4), forma::index_error);
  CHECK_NOTHROW(v.at(3));
}

TEST_CASE("from_values takes nested braces whose shape the compiler checks") {
  const auto m = Matrix<double, 2, 3>::from_values({{1, 2, 3}, {4, 5, 6}});
  CHECK(m(1, 0) == 4.0);
  const auto d = Matrix<double, dyn, dyn>::from_values({{1, 2}, {3, 4}, {5, 6}});
  CHECK(d.extent(0) == 3);
  CHECK(d.extent(1) == 2);
  CHECK(d(2, 1) == 6.0);
  const auto v = Vector<int, 3>::from_values({7, 8, 9});
  CHECK(v[2] == 9);
}

TEST_CASE("static → dynamic converts implicitly, dynamic → static explicitly and checked") {
  const auto s = Matrix<float, 2, 3>::from_values({{1, 2, 3}, {4, 5, 6}});
  const Matrix<float, dyn, dyn> d = s;
  CHECK(d.extent(0) == 2);
  CHECK(d(1, 2) == 6.0f);
  static_assert(std::is_convertible_v<Matrix<float, 2, 3>, Matrix<float, dyn, dyn>>);
  static_assert(!std::is_convertible_v<Matrix<float, dyn, dyn>, Matrix<float, 2, 3>>);
  static_assert(std::is_constructible_v<Matrix<float, 2, 3>, Matrix<float, dyn, dyn>>);

  const Matrix<float, 2, 3> back(d);
  CHECK(back(1, 1) == 5.0f);
  const Matrix<float, dyn, dyn> wrong(3, 2);
  CHECK_THROWS_WITH_AS((Matrix<float, 2, 3>(wrong)),
                       "tensor copy: shapes differ (target and source must have the same shape): 2 != 3",
                       forma::shape_error);

  // A dynamic tensor takes the shape of what is assigned to it.
  Matrix<float, dyn, dyn> resized(1, 1);
  resized = s;
  CHECK(resized.extent(1) == 3);
  CHECK(resized(0, 2) == 3.0f);
  // A static one copies elements into its own storage.
  Matrix<float, 2, 3> target;
  target = s.view();
  CHECK(target(1, 2) == 6.0f);
}

TEST_CASE("views: const, rows, transposes, reshapes, flattening, shape_cast") {
  auto m = Matrix<float, 2, 3>::from_values({{1, 2, 3}, {4, 5, 6}});
  forma::MatrixView<float, 2, 3> v = m;
  v(0, 0) = 10.0f;
  CHECK(m(0, 0) == 10.0f);

  forma::MatrixView<const float, 2, 3> c = m;
  static_assert(!element_assignable<decltype(c)>);
  static_assert(element_assignable<decltype(v)>);
  static_assert(std::is_convertible_v<forma::MatrixView<float, 2, 3>, forma::MatrixView<const float, 2, 3>>);
  static_assert(!std::is_convertible_v<forma::MatrixView<const float, 2, 3>, forma::MatrixView<float, 2, 3>>);
  static_assert(sizeof(c) == sizeof(void*));  // a static view is one pointer

  auto row = m.row(1);
  static_assert(std::is_same_v<decltype(row), forma::VectorView<float, 3>>);
  CHECK(row(2) == 6.0f);
  std::vector<float> seen(row.begin(), row.end());
  CHECK(seen == std::vector<float>{4, 5, 6});

  auto t = forma::transpose(m);
  static_assert(std::is_same_v<decltype(t)::extents_type, extents<3, 2>>);
  static_assert(std::is_same_v<decltype(t)::layout_type, forma::layout_left>);
  CHECK(t(2, 1) == 6.0f);
  CHECK(t(0, 1) == 4.0f);
  CHECK(t.col(1)(2) == 6.0f);  // a column of the transpose is a row of m
  static_assert(!has_rows<decltype(t)>);  // rows of a column-major view are not contiguous
  auto tt = forma::transpose(t);
  static_assert(std::is_same_v<decltype(tt)::layout_type, forma::layout_right>);
  CHECK(tt(1, 2) == 6.0f);
  // A view of a temporary tensor would dangle: not allowed.
  static_assert(!transposable<Matrix<float, 2, 3>>);   // an rvalue tensor
  static_assert(transposable<Matrix<float, 2, 3>&>);
  static_assert(transposable<forma::MatrixView<float, 2, 3>>);

  auto r = forma::reshape<extents<3, 2>>(m);
  CHECK(r(2, 0) == 5.0f);
  auto rd = forma::reshape<extents<dyn, 2>>(m, 3);
  CHECK(rd.extent(0) == 3);
  CHECK_THROWS_WITH_AS((forma::reshape<extents<dyn, 4>>(m, 2)),
                       "reshape: element counts differ (source size vs target size): 6 != 8",
                       forma::shape_error);
  auto flat = forma::flatten(m);
  static_assert(std::is_same_v<decltype(flat)::extents_type, extents<6>>);
  CHECK(flat(5) == 6.0f);

  Matrix<float, dyn, dyn> d(2, 3);
  auto fixed = forma::shape_cast<extents<2, 3>>(d);
  REQUIRE(fixed);
  static_assert(std::is_same_v<std::remove_cvref_t<decltype(*fixed)>, forma::MatrixView<float, 2, 3>>);
  CHECK(fixed->data() == d.data());
  auto wrong = forma::shape_cast<extents<3, 2>>(d);
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().code == forma::errc::shape_mismatch);
  CHECK(wrong.error().to_string() == "expected shape (3, 2), tensor has (2, 3)");
  auto partial = forma::shape_cast<extents<dyn, 4>>(d);
  REQUIRE_FALSE(partial);
  CHECK(partial.error().to_string() == "expected shape (?, 4), tensor has (2, 3)");
}

TEST_CASE("static element access is checked by the compiler") {
  auto m = Matrix<int, 2, 3>::from_values({{1, 2, 3}, {4, 5, 6}});
  CHECK(forma::get<1, 2>(m) == 6);
  forma::get<0, 0>(m) = 9;
  CHECK(m(0, 0) == 9);
  // Dynamic extents: the same call checks at run time.
  Matrix<int, dyn, 3> d(2);
  CHECK_THROWS_WITH_AS((forma::get<2, 0>(d)),
                       "get: a static index is out of range (index < extent fails): 2 >= 2",
                       forma::shape_error);
}

TEST_CASE("rank-3 tensors, sub-tensors and vector views of std containers") {
  Tensor<float, extents<2, 3, 4>> t;
  forma::testing::fill_iota(t);
  auto slab = t[1];
  static_assert(std::is_same_v<decltype(slab)::extents_type, extents<3, 4>>);
  CHECK(slab(2, 3) == 23.0f);
  CHECK(t[1][2][3] == 23.0f);
  CHECK(t(1, 2, 3) == 23.0f);

  std::vector<double> values{1, 2, 3};
  auto v = forma::vector_view(values);
  static_assert(std::is_same_v<decltype(v), forma::TensorView<double, extents<dyn>>>);
  CHECK(v.size() == 3);
  v(1) = 20;
  CHECK(values[1] == 20);
}

TEST_CASE("concepts name what an op requires") {
  static_assert(forma::tensor<Matrix<float, 2, 3>>);
  static_assert(forma::tensor<forma::MatrixView<const float, 2, 3>>);
  static_assert(forma::matrix<Matrix<float, dyn, dyn>>);
  static_assert(!forma::matrix<Vector<float, 3>>);
  static_assert(forma::vector<Vector<float, 3>>);
  static_assert(forma::host_tensor<Matrix<float, 2, 2>>);
  static_assert(!forma::host_tensor<forma::TensorView<float, extents<2, 2>, forma::cuda>>);
  static_assert(forma::writable_tensor<forma::MatrixView<float, 2, 2>>);
  static_assert(!forma::writable_tensor<forma::MatrixView<const float, 2, 2>>);
  static_assert(!forma::tensor<std::vector<float>>);
  // Element access on device memory does not exist on the host.
  using DeviceView = forma::TensorView<float, extents<2, 2>, forma::cuda>;
  static_assert(!host_indexable<DeviceView>);
  static_assert(host_indexable<forma::MatrixView<float, 2, 2>>);
}
