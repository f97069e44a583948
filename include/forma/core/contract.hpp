// forma/core/contract.hpp — run-time halves of the shape rules.
//
// When an extent is dynamic, a shape rule that the compiler could not check runs here instead,
// in every build type, and fails with the same words the static_assert would have printed plus
// the two numbers. The default reaction is to throw `forma::shape_error`; a program built without
// exceptions prints the message and aborts. Either way the op never runs on a wrong shape.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "forma/core/config.hpp"

namespace forma {

// A shape rule failed on dynamic extents (or a dynamic → static conversion did not fit).
class shape_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A run-time index was outside its axis (`at(...)`, checked `operator()`).
class index_error : public std::out_of_range {
 public:
  using std::out_of_range::out_of_range;
};

namespace contract {

[[noreturn]] inline void fail_shape(const std::string& message) {
#if FORMA_HAS_EXCEPTIONS
  throw shape_error(message);
#else
  std::fprintf(stderr, "forma: %s\n", message.c_str());
  std::abort();
#endif
}

[[noreturn]] inline void fail_index(const std::string& message) {
#if FORMA_HAS_EXCEPTIONS
  throw index_error(message);
#else
  std::fprintf(stderr, "forma: %s\n", message.c_str());
  std::abort();
#endif
}

// "matmul: inner dimensions differ (A is (M, K), B is (K, N)): 4 != 5"
inline std::string describe_mismatch(std::string_view rule_message, std::size_t left,
                                     std::string_view relation, std::size_t right) {
  std::string text(rule_message);
  text += ": ";
  text += std::to_string(left);
  text += ' ';
  text += relation;
  text += ' ';
  text += std::to_string(right);
  return text;
}

// The run-time form of `rules::same_extent`.
constexpr void require_same(std::size_t left, std::size_t right, std::string_view rule_message) {
#if FORMA_SHAPE_CHECKS
  if (left != right) fail_shape(describe_mismatch(rule_message, left, "!=", right));
#else
  (void)left, (void)right, (void)rule_message;
#endif
}

// The run-time form of `rules::divides`: `divisor` divides `value` exactly.
constexpr void require_divides(std::size_t divisor, std::size_t value,
                               std::string_view rule_message) {
#if FORMA_SHAPE_CHECKS
  if (divisor == 0 || value % divisor != 0) {
    fail_shape(describe_mismatch(rule_message, divisor, "does not divide", value));
  }
#else
  (void)divisor, (void)value, (void)rule_message;
#endif
}

// The run-time form of `rules::less`: `left < right` (indices, positions).
constexpr void require_less(std::size_t left, std::size_t right, std::string_view rule_message) {
#if FORMA_SHAPE_CHECKS
  if (!(left < right)) fail_shape(describe_mismatch(rule_message, left, ">=", right));
#else
  (void)left, (void)right, (void)rule_message;
#endif
}

// A static extent met a run-time value that must equal it (explicit dynamic → static conversion).
constexpr void require_extent(std::string_view what, std::size_t axis, std::size_t expected,
                              std::size_t found) {
  if (expected != found) {
    fail_shape(std::string(what) + ": axis " + std::to_string(axis) + " is static " +
               std::to_string(expected) + " but the value is " + std::to_string(found));
  }
}

}  // namespace contract
}  // namespace forma
