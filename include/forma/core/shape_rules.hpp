// forma/core/shape_rules.hpp — the named shape rules every op uses.
//
// A rule is a compile-time predicate on static extents (usable in concepts and tests) plus a
// check macro for the op's body. The check macro
//   * at compile time, when both extents are static, is a static_assert written as a bare
//     comparison of two template parameters, so GCC prints "the comparison reduces to (4 == 5)"
//     and Clang "requirement '4UL == 5UL'", next to the op's own message (FORMA_RULE_DIVIDES
//     asserts `rules::divides<3, 8>` instead, so both print the divisor and the value);
//   * at run time, when either extent is dynamic, runs the same rule in every build type and
//     throws forma::shape_error with the same message and the two numbers.
// The message names the operation and the operands: "matmul: inner dimensions differ (A is
// (M, K), B is (K, N))". It must be a string literal (static_assert takes nothing else in C++20),
// which is why the checks are macros; the rules themselves are ordinary templates.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "forma/core/contract.hpp"
#include "forma/core/extents.hpp"

namespace forma::rules {

// Two extents agree: equal, or at least one is dynamic (then checked at run time).
template <std::size_t Left, std::size_t Right>
inline constexpr bool same_extent = Left == dyn || Right == dyn || Left == Right;

// `Divisor` divides `Value` (heads divide the width, kv heads divide heads, ...).
template <std::size_t Divisor, std::size_t Value>
inline constexpr bool divides =
    Divisor == dyn || Value == dyn || (Divisor != 0 && Value % Divisor == 0);

// `Left < Right` (a static index inside a static extent).
template <std::size_t Left, std::size_t Right>
inline constexpr bool less = Left == dyn || Right == dyn || Left < Right;

// Two shapes have the same rank and every axis agrees.
template <class A, class B>
inline constexpr bool same_shape = compatible_v<A, B>;

}  // namespace forma::rules

namespace forma::contract {

// The run-time form of `rules::same_shape`: "add: shapes differ (A and B): (2, 3) vs (3, 2)".
template <std::size_t... Ls, std::size_t... Rs>
void require_same_shape(const extents<Ls...>& left, const extents<Rs...>& right,
                        std::string_view rule_message) {
#if FORMA_SHAPE_CHECKS
  if (!(left == right)) {
    fail_shape(std::string(rule_message) + ": " + to_string(left) + " vs " + to_string(right));
  }
#else
  (void)left, (void)right, (void)rule_message;
#endif
}


// A config field that is static (not dyn) must equal the run-time value it describes.
constexpr void require_same_unless_dyn(std::size_t field, std::size_t value,
                                       std::string_view rule_message) {
  if (field != dyn) require_same(field, value, rule_message);
}

// The `_when` forms run the check only when `Dynamic` (some extent was not known statically).
template <bool Dynamic>
constexpr void require_same_when(std::size_t left, std::size_t right, std::string_view message) {
  if constexpr (Dynamic) require_same(left, right, message);
  else (void)left, (void)right, (void)message;
}
template <bool Dynamic>
constexpr void require_divides_when(std::size_t divisor, std::size_t value,
                                    std::string_view message) {
  if constexpr (Dynamic) require_divides(divisor, value, message);
  else (void)divisor, (void)value, (void)message;
}
template <bool Dynamic>
constexpr void require_less_when(std::size_t left, std::size_t right, std::string_view message) {
  if constexpr (Dynamic) require_less(left, right, message);
  else (void)left, (void)right, (void)message;
}
template <bool Dynamic, class Left, class Right>
void require_same_shape_when(const Left& left, const Right& right, std::string_view message) {
  if constexpr (Dynamic) {
    if constexpr (Left::rank() == Right::rank()) require_same_shape(left, right, message);
  } else {
    (void)left, (void)right, (void)message;
  }
}

}  // namespace forma::contract

// Every check macro is one expression (so it can sit in a fold over axes) of type void.

// FORMA_RULE_SAME_EXTENT(message, left_static, right_static, left_value, right_value)
//   left_static / right_static: constant expressions (the static extents, maybe `dyn`);
//   left_value / right_value: the run-time extents, compared only when one side is dynamic.
#define FORMA_RULE_SAME_EXTENT(MESSAGE, LEFT_STATIC, RIGHT_STATIC, left_value, right_value)   \
  ([]<std::size_t left, std::size_t right>() {                                                \
     if constexpr (left != ::forma::dyn && right != ::forma::dyn) {                            \
       static_assert(left == right, MESSAGE);                                                 \
     }                                                                                        \
   }.template operator()<(LEFT_STATIC), (RIGHT_STATIC)>(),                                    \
   ::forma::contract::require_same_when<(LEFT_STATIC) == ::forma::dyn ||                      \
                                        (RIGHT_STATIC) == ::forma::dyn>((left_value),         \
                                                                         (right_value), MESSAGE))

// FORMA_RULE_DIVIDES(message, divisor_static, value_static, divisor_value, value_value)
//   The static check asserts the rule itself, `rules::divides<divisor, value>`, not
//   `value % divisor == 0`: GCC folds a failing comparison's operands and would print only the
//   remainder ("the comparison reduces to '(2 == 0)'"), whereas for a variable template it prints
//   the template-id, so both compilers name the divisor and the value next to the message —
//   GCC "note: 'forma::rules::divides<3, 8>' evaluates to false", Clang "requirement
//   '::forma::rules::divides<3, 8>'". A zero divisor fails the same assertion (divides<0, 8>).
#define FORMA_RULE_DIVIDES(MESSAGE, DIVISOR_STATIC, VALUE_STATIC, divisor_value, value_value) \
  ([]<std::size_t divisor, std::size_t value>() {                                             \
     if constexpr (divisor != ::forma::dyn && value != ::forma::dyn) {                         \
       static_assert(::forma::rules::divides<divisor, value>, MESSAGE);                        \
     }                                                                                        \
   }.template operator()<(DIVISOR_STATIC), (VALUE_STATIC)>(),                                 \
   ::forma::contract::require_divides_when<(DIVISOR_STATIC) == ::forma::dyn ||                \
                                           (VALUE_STATIC) == ::forma::dyn>(                   \
       (divisor_value), (value_value), MESSAGE))

// FORMA_RULE_LESS(message, left_static, right_static, left_value, right_value): left < right.
#define FORMA_RULE_LESS(MESSAGE, LEFT_STATIC, RIGHT_STATIC, left_value, right_value)          \
  ([]<std::size_t index, std::size_t extent>() {                                              \
     if constexpr (index != ::forma::dyn && extent != ::forma::dyn) {                          \
       static_assert(index < extent, MESSAGE);                                                \
     }                                                                                        \
   }.template operator()<(LEFT_STATIC), (RIGHT_STATIC)>(),                                    \
   ::forma::contract::require_less_when<(LEFT_STATIC) == ::forma::dyn ||                      \
                                        (RIGHT_STATIC) == ::forma::dyn>((left_value),         \
                                                                         (right_value), MESSAGE))

// FORMA_RULE_SAME_RANK(message, left_rank, right_rank): ranks are always static.
#define FORMA_RULE_SAME_RANK(MESSAGE, LEFT_RANK, RIGHT_RANK)                                  \
  []<std::size_t left_rank, std::size_t right_rank>() {                                       \
    static_assert(left_rank == right_rank, MESSAGE);                                          \
  }.template operator()<(LEFT_RANK), (RIGHT_RANK)>()

// FORMA_RULE_SAME_SHAPE(message, LeftExtents, RightExtents, left_extents, right_extents):
// same rank, and every axis agrees; the compiler names the first axis that differs and its two
// extents, the run-time check prints both whole shapes.
#define FORMA_RULE_SAME_SHAPE(MESSAGE, LEFT_EXTENTS, RIGHT_EXTENTS, left_value, right_value)  \
  (FORMA_RULE_SAME_RANK(MESSAGE, LEFT_EXTENTS::rank(), RIGHT_EXTENTS::rank()),                \
   []<class left_extents, class right_extents>() {                                            \
     if constexpr (left_extents::rank() == right_extents::rank()) {                           \
       []<std::size_t... axes>(std::index_sequence<axes...>) {                                \
         ([]<std::size_t axis, std::size_t left, std::size_t right>() {                       \
            if constexpr (left != ::forma::dyn && right != ::forma::dyn) {                     \
              static_assert(left == right, MESSAGE);                                          \
            }                                                                                 \
          }.template operator()<axes, left_extents::static_extent(axes),                      \
                                right_extents::static_extent(axes)>(),                        \
          ...);                                                                               \
       }(std::make_index_sequence<left_extents::rank()>{});                                   \
     }                                                                                        \
   }.template operator()<LEFT_EXTENTS, RIGHT_EXTENTS>(),                                      \
   ::forma::contract::require_same_shape_when<!(LEFT_EXTENTS::is_static() &&                  \
                                                RIGHT_EXTENTS::is_static())>(                 \
       (left_value), (right_value), MESSAGE))

// FORMA_RULE_SAME_TYPE(message, Left, Right): element types (dtypes) or devices that must match.
#define FORMA_RULE_SAME_TYPE(MESSAGE, LEFT_TYPE, RIGHT_TYPE)                                  \
  []<class left_type, class right_type>() {                                                   \
    static_assert(std::is_same_v<left_type, right_type>, MESSAGE);                            \
  }.template operator()<LEFT_TYPE, RIGHT_TYPE>()
