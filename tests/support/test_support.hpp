// tests/support/test_support.hpp — helpers shared by forma's unit tests.
#pragma once

#include <array>
#include <cstddef>
#include <random>
#include <string>

#include <forma/core.hpp>

namespace forma::testing {

// The error text of a Result for a REQUIRE_MESSAGE, empty when it holds a value. doctest builds a
// message also for an assertion that passes (with -s), so `r.error()` must not be read then: on a
// Result that holds a value it names a union member that is not there.
template <class R>
std::string error_text(const R& result) {
  return result ? std::string() : result.error().to_string();
}

// A tensor of type TensorType with the given extents (static ones must match, dynamic ones are
// taken), so one test body runs on Matrix<float, 3, 4> and Matrix<float, dyn, dyn> alike.
template <class TensorType, class... Sizes>
TensorType make(Sizes... sizes) {
  using E = typename TensorType::extents_type;
  static_assert(sizeof...(Sizes) == E::rank(), "make: give every extent");
  return TensorType(E(std::array<std::size_t, E::rank()>{static_cast<std::size_t>(sizes)...}));
}

// Fills with uniform values in [low, high) from a fixed seed.
template <class TensorLike>
void fill_uniform(TensorLike&& t, unsigned seed, double low = -1.0, double high = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(low, high);
  for (auto& x : forma::view(t)) x = static_cast<std::remove_reference_t<decltype(x)>>(dist(rng));
}

// Fills with 0, 1, 2, ... in memory order.
template <class TensorLike>
void fill_iota(TensorLike&& t, double start = 0) {
  double value = start;
  for (auto& x : forma::view(t)) {
    x = static_cast<std::remove_reference_t<decltype(x)>>(value);
    value += 1;
  }
}

}  // namespace forma::testing
