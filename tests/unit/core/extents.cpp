// Unit tests: extents, the shape algebra, and the compile-time shape rules.
#include <doctest/doctest.h>

#include <array>
#include <type_traits>

#include <forma/core/extents.hpp>
#include <forma/core/shape_rules.hpp>

using forma::dyn;
using forma::extents;

TEST_CASE("static extents are empty objects known to the compiler") {
  using E = extents<2, 3, 4>;
  static_assert(E::rank() == 3 && E::rank_dynamic() == 0 && E::is_static());
  static_assert(E::static_extent(1) == 3);
  static_assert(E::static_size() == 24);
  static_assert(std::is_empty_v<E>);
  constexpr E e;
  static_assert(e.size() == 24 && e.extent(2) == 4);
  CHECK(forma::to_string(e) == "(2, 3, 4)");
  CHECK(forma::to_string(extents<5>{}) == "(5,)");
  CHECK(forma::to_string(extents<>{}) == "()");
  static_assert(extents<>::static_size() == 1);
}

TEST_CASE("dynamic extents store only the dynamic axes") {
  using E = extents<dyn, 4, dyn>;
  static_assert(E::rank_dynamic() == 2 && !E::is_static());
  static_assert(E::static_size() == dyn);
  static_assert(sizeof(E) == 2 * sizeof(std::size_t));
  const E e(3, 5);
  CHECK(e.extent(0) == 3);
  CHECK(e.extent(1) == 4);
  CHECK(e.extent(2) == 5);
  CHECK(e.size() == 60);
  CHECK(e.all() == std::array<std::size_t, 3>{3, 4, 5});
  const E from_all(std::array<std::size_t, 3>{7, 4, 1});
  CHECK(from_all.extent(0) == 7);
  CHECK(forma::to_string(from_all) == "(7, 4, 1)");
  // A static axis given the wrong run-time value is a shape_error, not silence.
  CHECK_THROWS_AS((E(std::array<std::size_t, 3>{7, 5, 1})), forma::shape_error);
  using D = forma::dextents<2>;
  static_assert(std::is_same_v<D, extents<dyn, dyn>>);
}

TEST_CASE("static converts to dynamic implicitly, dynamic to static only explicitly, checked") {
  static_assert(std::is_convertible_v<extents<3, 4>, extents<dyn, dyn>>);
  static_assert(std::is_convertible_v<extents<3, 4>, extents<3, dyn>>);
  static_assert(!std::is_convertible_v<extents<dyn, dyn>, extents<3, 4>>);
  static_assert(std::is_constructible_v<extents<3, 4>, extents<dyn, dyn>>);
  // Contradicting static extents do not convert at all.
  static_assert(!std::is_constructible_v<extents<3, 4>, extents<4, 3>>);
  static_assert(!std::is_constructible_v<extents<3, 4>, extents<3, 4, 1>>);
  const extents<dyn, dyn> d = extents<3, 4>{};
  CHECK(d.extent(0) == 3);
  CHECK(d.extent(1) == 4);
  CHECK(extents<3, 4>(extents<dyn, dyn>(3, 4)) == extents<3, 4>{});
  CHECK_THROWS_WITH_AS((extents<3, 4>(extents<dyn, dyn>(3, 5))),
                       "extents: axis 1 is static 4 but the value is 5", forma::shape_error);
  CHECK(extents<3, 4>{} == extents<dyn, dyn>(3, 4));
  CHECK_FALSE(extents<3, 4>{} == extents<dyn, dyn>(4, 3));
  CHECK_FALSE(extents<3, 4>{} == extents<12>{});
}

TEST_CASE("shape algebra: drop, insert and reverse axes") {
  static_assert(std::is_same_v<forma::drop_axis_t<extents<2, 3, 4>, 1>, extents<2, 4>>);
  static_assert(std::is_same_v<forma::drop_axis_t<extents<2, 3, 4>, 2>, extents<2, 3>>);
  static_assert(std::is_same_v<forma::drop_axis_t<extents<7>, 0>, extents<>>);
  static_assert(std::is_same_v<forma::insert_axis_t<extents<2, 4>, 1, 3>, extents<2, 3, 4>>);
  static_assert(std::is_same_v<forma::insert_axis_t<extents<2, 4>, 2, dyn>, extents<2, 4, dyn>>);
  static_assert(std::is_same_v<forma::insert_axis_t<extents<>, 0, 5>, extents<5>>);
  static_assert(std::is_same_v<forma::reverse_t<extents<2, dyn, 4>>, extents<4, dyn, 2>>);
  static_assert(forma::last_static_extent<extents<2, 9>> == 9);

  const extents<dyn, 3, dyn> e(2, 4);
  const auto dropped = forma::drop_axis<0>(e);
  static_assert(std::is_same_v<std::remove_const_t<decltype(dropped)>, extents<3, dyn>>);
  CHECK(dropped.extent(1) == 4);
  const auto inserted = forma::insert_axis<1, 7>(e);
  CHECK(forma::to_string(inserted) == "(2, 7, 3, 4)");
  CHECK(forma::to_string(forma::reverse(e)) == "(4, 3, 2)");
}

TEST_CASE("the shape rules as compile-time predicates") {
  using namespace forma::rules;
  static_assert(same_extent<3, 3> && !same_extent<3, 4>);
  static_assert(same_extent<3, dyn> && same_extent<dyn, 4>);  // decided at run time
  static_assert(divides<8, 64> && !divides<7, 64> && !divides<0, 64> && divides<dyn, 64>);
  static_assert(less<2, 3> && !less<3, 3> && less<dyn, 3>);
  static_assert(same_shape<extents<2, 3>, extents<2, 3>> && same_shape<extents<2, 3>, extents<dyn, 3>>);
  static_assert(!same_shape<extents<2, 3>, extents<3, 2>> && !same_shape<extents<2, 3>, extents<2, 3, 1>>);
  static_assert(forma::narrows_v<extents<dyn, 3>, extents<2, 3>>);
  static_assert(!forma::narrows_v<extents<2, 3>, extents<dyn, 3>>);
}

TEST_CASE("the run-time halves of the rules use the op's words and both numbers") {
  CHECK_THROWS_WITH_AS(
      FORMA_RULE_SAME_EXTENT("matmul: inner dimensions differ (A is (M, K), B is (K, N))", dyn,
                             std::size_t{4}, std::size_t{3}, std::size_t{4}),
      "matmul: inner dimensions differ (A is (M, K), B is (K, N)): 3 != 4", forma::shape_error);
  CHECK_NOTHROW(FORMA_RULE_SAME_EXTENT("same", dyn, dyn, std::size_t{5}, std::size_t{5}));
  CHECK_THROWS_WITH_AS(FORMA_RULE_DIVIDES("attention: heads must divide the width", dyn, dyn,
                                          std::size_t{7}, std::size_t{64}),
                       "attention: heads must divide the width: 7 does not divide 64",
                       forma::shape_error);
  CHECK_THROWS_AS(FORMA_RULE_DIVIDES("zero heads", dyn, dyn, std::size_t{0}, std::size_t{64}),
                  forma::shape_error);
  CHECK_THROWS_WITH_AS(FORMA_RULE_LESS("kv cache: position out of range", dyn, dyn,
                                       std::size_t{8}, std::size_t{8}),
                       "kv cache: position out of range: 8 >= 8", forma::shape_error);
  CHECK_THROWS_WITH_AS(
      FORMA_RULE_SAME_SHAPE("add: shapes differ", forma::dextents<2>, forma::dextents<2>,
                            forma::dextents<2>(2, 3), forma::dextents<2>(3, 2)),
      "add: shapes differ: (2, 3) vs (3, 2)", forma::shape_error);
}
