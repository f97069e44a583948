// forma/core/compare.hpp — comparing tensors within a tolerance (tests, golden checks).
//
//   max_abs_diff: a (s...), b (s...) => the largest |a − b| (NaN if either has a NaN where the
//                 other does not hold the same NaN position)
//   allclose:     every element satisfies |a − b| ≤ abs + rel·|b|  (NumPy's rule)
//   first_mismatch: the first element that breaks the rule, for a readable test failure.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>

#include "forma/core/dtype.hpp"
#include "forma/core/shape_rules.hpp"
#include "forma/core/tensor_view.hpp"

namespace forma {

struct tolerance {
  double abs = 1e-6;
  double rel = 1e-6;
};

namespace detail {
// Walks two host tensors of one shape (any layouts) in row-major order.
template <class VA, class VB, class F>
void zip_elements(const VA& a, const VB& b, F&& f) {
  using E = typename VA::extents_type;
  if constexpr (E::rank() == 0) {
    f(std::array<std::size_t, 0>{}, static_cast<double>(convert_element<float>(*a.data())),
      static_cast<double>(convert_element<float>(*b.data())));
  } else {
    std::array<std::size_t, E::rank()> index{};
    if (a.size() == 0) return;
    while (true) {
      const auto x = a[index];
      const auto y = b[index];
      if constexpr (std::is_same_v<std::remove_cv_t<typename VA::element_type>, double>) {
        if (!f(index, static_cast<double>(x), static_cast<double>(y))) return;
      } else {
        if (!f(index, static_cast<double>(convert_element<float>(x)),
               static_cast<double>(convert_element<float>(y)))) {
          return;
        }
      }
      std::size_t axis = E::rank();
      while (axis-- > 0) {
        if (++index[axis] < a.extent(axis)) break;
        index[axis] = 0;
        if (axis == 0) return;
      }
    }
  }
}

#define FORMA_RULE_COMPARE(OP_NAME, A_TYPE, B_TYPE, a_value, b_value)                         \
  (FORMA_RULE_SAME_TYPE(OP_NAME ": the tensors live on different devices",                     \
                        ::forma::device_of_t<A_TYPE>, ::forma::device_of_t<B_TYPE>),          \
   FORMA_RULE_SAME_SHAPE(OP_NAME ": shapes differ (A and B must have the same shape)",         \
                         ::forma::extents_of_t<A_TYPE>, ::forma::extents_of_t<B_TYPE>,        \
                         (a_value).extents(), (b_value).extents()))
}  // namespace detail

// A description of the first element where |a − b| > abs + rel·|b|, or nullopt if none.
template <host_tensor A, host_tensor B>
std::optional<std::string> first_mismatch(const A& a, const B& b, tolerance tol = {}) {
  FORMA_RULE_COMPARE("first_mismatch", A, B, a, b);
  std::optional<std::string> found;
  if constexpr (compatible_v<typename A::extents_type, typename B::extents_type>) {
    detail::zip_elements(forma::view(a), forma::view(b), [&](const auto& index, double x, double y) {
      const bool both_nan = std::isnan(x) && std::isnan(y);
      const bool ok = both_nan || (x == y) || std::fabs(x - y) <= tol.abs + tol.rel * std::fabs(y);
      if (ok) return true;
      std::string where = "(";
      for (std::size_t axis = 0; axis < index.size(); ++axis) {
        where += (axis ? ", " : "") + std::to_string(index[axis]);
      }
      found = "at " + where + "): " + std::to_string(x) + " vs " + std::to_string(y) +
              " (|diff| " + std::to_string(std::fabs(x - y)) + ")";
      return false;
    });
  }
  return found;
}

template <host_tensor A, host_tensor B>
bool allclose(const A& a, const B& b, tolerance tol = {}) {
  return !first_mismatch(a, b, tol).has_value();
}

// The largest |a − b| over all elements (0 for empty tensors; NaN if a NaN meets a number).
template <host_tensor A, host_tensor B>
double max_abs_diff(const A& a, const B& b) {
  FORMA_RULE_COMPARE("max_abs_diff", A, B, a, b);
  double worst = 0;
  if constexpr (compatible_v<typename A::extents_type, typename B::extents_type>) {
    detail::zip_elements(forma::view(a), forma::view(b), [&](const auto&, double x, double y) {
      if (std::isnan(x) != std::isnan(y)) {
        worst = std::numeric_limits<double>::quiet_NaN();
        return false;
      }
      if (!std::isnan(x) && std::fabs(x - y) > worst) worst = std::fabs(x - y);
      return true;
    });
  }
  return worst;
}

}  // namespace forma
