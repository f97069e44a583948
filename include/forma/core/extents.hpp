// forma/core/extents.hpp — per-axis static or dynamic extents and the shape algebra on them.
//
// `extents<3, 4>` is a 3×4 shape known to the compiler; `extents<dyn, 4>` knows its column count
// and learns its row count at run time. Only the dynamic extents take storage, so an all-static
// shape is an empty object. Static → dynamic converts implicitly; dynamic → static is explicit and
// checked (see `shape_cast` in tensor_view.hpp for the Result-returning form).
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "forma/core/contract.hpp"

namespace forma {

// The marker for an extent that is known only at run time (the same value as
// std::dynamic_extent, so a static extent can never collide with it).
inline constexpr std::size_t dyn = static_cast<std::size_t>(-1);

namespace detail {

template <std::size_t... Es>
inline constexpr std::array<std::size_t, sizeof...(Es)> static_extent_array{Es...};

// Position of axis `axis` among the dynamic axes (the number of dynamic axes before it).
template <std::size_t... Es>
constexpr std::size_t dynamic_index(std::size_t axis) noexcept {
  std::size_t index = 0;
  for (std::size_t i = 0; i < axis; ++i) {
    if (static_extent_array<Es...>[i] == dyn) ++index;
  }
  return index;
}

// Storage for the dynamic extents only; empty when there are none.
template <std::size_t Count>
struct dynamic_storage {
  std::array<std::size_t, Count> values{};
  constexpr std::size_t& operator[](std::size_t i) noexcept { return values[i]; }
  constexpr const std::size_t& operator[](std::size_t i) const noexcept { return values[i]; }
};
template <>
struct dynamic_storage<0> {};

}  // namespace detail

template <std::size_t... Es>
class extents;

// True when converting From → To would turn a dynamic extent into a static one (so the
// conversion must be explicit and checked at run time). Both must have the same rank.
template <class From, class To>
inline constexpr bool narrows_v = [] {
  if constexpr (From::rank() != To::rank()) {
    return false;
  } else {
    for (std::size_t axis = 0; axis < To::rank(); ++axis) {
      if (To::static_extent(axis) != dyn && From::static_extent(axis) == dyn) return true;
    }
    return false;
  }
}();

// True when two shapes of one rank could be equal (no axis where both are static and differ).
template <class A, class B>
inline constexpr bool compatible_v = [] {
  if constexpr (A::rank() != B::rank()) {
    return false;
  } else {
    for (std::size_t axis = 0; axis < A::rank(); ++axis) {
      const std::size_t left = A::static_extent(axis), right = B::static_extent(axis);
      if (left != dyn && right != dyn && left != right) return false;
    }
    return true;
  }
}();

template <std::size_t... Es>
class extents {
 public:
  using index_type = std::size_t;

  static constexpr std::size_t rank() noexcept { return sizeof...(Es); }
  static constexpr std::size_t rank_dynamic() noexcept { return ((Es == dyn ? 1 : 0) + ... + 0); }
  static constexpr bool is_static() noexcept { return rank_dynamic() == 0; }

  // The compile-time extent of `axis`, or `dyn`.
  static constexpr std::size_t static_extent(std::size_t axis) noexcept {
    return detail::static_extent_array<Es...>[axis];
  }

  // The number of elements when every extent is static, else `dyn`.
  static constexpr std::size_t static_size() noexcept {
    if constexpr (is_static()) {
      return (std::size_t{1} * ... * Es);
    } else {
      return dyn;
    }
  }

  // Zero for every dynamic extent.
  constexpr extents() noexcept = default;

  // The dynamic extents only, in axis order: `extents<dyn, 4, dyn>(3, 5)` is 3×4×5.
  template <class... Sizes>
    requires(sizeof...(Sizes) == rank_dynamic() && sizeof...(Sizes) > 0 &&
             (std::is_convertible_v<Sizes, std::size_t> && ...))
  constexpr explicit extents(Sizes... dynamic_sizes) noexcept
      : dynamic_{{static_cast<std::size_t>(dynamic_sizes)...}} {}

  // Every extent, in axis order; static ones must match (a checked contract).
  constexpr explicit extents(std::span<const std::size_t, rank()> all) {
    for (std::size_t axis = 0; axis < rank(); ++axis) {
      if constexpr (rank_dynamic() > 0) {
        if (static_extent(axis) == dyn) {
          dynamic_[detail::dynamic_index<Es...>(axis)] = all[axis];
          continue;
        }
      }
      contract::require_extent("extents", axis, static_extent(axis), all[axis]);
    }
  }
  constexpr explicit extents(const std::array<std::size_t, rank()>& all)
      : extents(std::span<const std::size_t, rank()>(all)) {}

  // From another shape of the same rank. Implicit when no information is lost (every axis of
  // `this` is dynamic or equal to the other's static extent); explicit, and checked at run time,
  // when a dynamic extent of the other must match a static one here.
  template <std::size_t... Os>
    requires(sizeof...(Os) == rank() && rank() > 0 && compatible_v<extents<Os...>, extents>)
  constexpr explicit(narrows_v<extents<Os...>, extents>) extents(const extents<Os...>& other)
      : extents(other.all()) {}

  constexpr std::size_t extent(std::size_t axis) const noexcept {
    if (static_extent(axis) != dyn) return static_extent(axis);
    if constexpr (rank_dynamic() > 0) {
      return dynamic_[detail::dynamic_index<Es...>(axis)];
    } else {
      return 0;  // unreachable: every axis is static
    }
  }

  // Every extent as an array (static ones included).
  constexpr std::array<std::size_t, rank()> all() const noexcept {
    std::array<std::size_t, rank()> result{};
    for (std::size_t axis = 0; axis < rank(); ++axis) result[axis] = extent(axis);
    return result;
  }

  // Number of elements: the product of the extents (1 for rank 0).
  constexpr std::size_t size() const noexcept {
    if constexpr (is_static()) {
      return static_size();
    } else {
      std::size_t product = 1;
      for (std::size_t axis = 0; axis < rank(); ++axis) product *= extent(axis);
      return product;
    }
  }

  template <std::size_t... Os>
  friend constexpr bool operator==(const extents& a, const extents<Os...>& b) noexcept {
    if constexpr (sizeof...(Os) != rank()) {
      return false;
    } else {
      for (std::size_t axis = 0; axis < rank(); ++axis) {
        if (a.extent(axis) != b.extent(axis)) return false;
      }
      return true;
    }
  }

 private:
  [[no_unique_address]] detail::dynamic_storage<rank_dynamic()> dynamic_{};
};

namespace detail {
template <class Seq>
struct dextents_impl;
template <std::size_t... I>
struct dextents_impl<std::index_sequence<I...>> {
  using type = extents<((void)I, dyn)...>;
};
}  // namespace detail

// All-dynamic extents of a given rank.
template <std::size_t Rank>
using dextents = typename detail::dextents_impl<std::make_index_sequence<Rank>>::type;

// ---- traits --------------------------------------------------------------------------------

template <class T>
inline constexpr bool is_extents_v = false;
template <std::size_t... Es>
inline constexpr bool is_extents_v<extents<Es...>> = true;

template <class T>
concept extents_type = is_extents_v<T>;

// ---- shape algebra on types ----------------------------------------------------------------

namespace detail {

template <class E, std::size_t Axis, class Seq>
struct drop_axis_impl;
template <class E, std::size_t Axis, std::size_t... I>
struct drop_axis_impl<E, Axis, std::index_sequence<I...>> {
  using type = extents<E::static_extent(I < Axis ? I : I + 1)...>;
};

template <class E, std::size_t Axis, std::size_t Extent, class Seq>
struct insert_axis_impl;
template <class E, std::size_t Axis, std::size_t Extent, std::size_t... I>
struct insert_axis_impl<E, Axis, Extent, std::index_sequence<I...>> {
  using type = extents<(I < Axis ? E::static_extent(I)
                                 : I == Axis ? Extent : E::static_extent(I - 1))...>;
};

template <class E, class Seq>
struct reverse_impl;
template <class E, std::size_t... I>
struct reverse_impl<E, std::index_sequence<I...>> {
  using type = extents<E::static_extent(E::rank() - 1 - I)...>;
};

}  // namespace detail

// The shape without axis `Axis`: drop_axis_t<extents<2, 3, 4>, 1> is extents<2, 4>.
template <extents_type E, std::size_t Axis>
  requires(Axis < E::rank())
using drop_axis_t =
    typename detail::drop_axis_impl<E, Axis, std::make_index_sequence<E::rank() - 1>>::type;

// The shape with a new axis of extent `Extent` at position `Axis` (0 ≤ Axis ≤ rank).
template <extents_type E, std::size_t Axis, std::size_t Extent>
  requires(Axis <= E::rank())
using insert_axis_t = typename detail::insert_axis_impl<E, Axis, Extent,
                                                        std::make_index_sequence<E::rank() + 1>>::type;

// The shape with its axes in reverse order (the shape of a transpose).
template <extents_type E>
using reverse_t = typename detail::reverse_impl<E, std::make_index_sequence<E::rank()>>::type;

// The extent of the last axis as known to the compiler.
template <extents_type E>
  requires(E::rank() > 0)
inline constexpr std::size_t last_static_extent = E::static_extent(E::rank() - 1);

// ---- shape algebra on values ---------------------------------------------------------------

template <std::size_t Axis, std::size_t... Es>
  requires(Axis < sizeof...(Es))
constexpr auto drop_axis(const extents<Es...>& e) noexcept {
  using result = drop_axis_t<extents<Es...>, Axis>;
  std::array<std::size_t, result::rank()> all{};
  for (std::size_t axis = 0, out = 0; axis < e.rank(); ++axis) {
    if (axis != Axis) all[out++] = e.extent(axis);
  }
  return result(all);
}

template <std::size_t Axis, std::size_t Extent, std::size_t... Es>
  requires(Axis <= sizeof...(Es) && Extent != dyn)
constexpr auto insert_axis(const extents<Es...>& e) noexcept {
  using result = insert_axis_t<extents<Es...>, Axis, Extent>;
  std::array<std::size_t, result::rank()> all{};
  for (std::size_t axis = 0, in = 0; axis < result::rank(); ++axis) {
    all[axis] = axis == Axis ? Extent : e.extent(in++);
  }
  return result(all);
}

template <std::size_t... Es>
constexpr auto reverse(const extents<Es...>& e) noexcept {
  using result = reverse_t<extents<Es...>>;
  std::array<std::size_t, result::rank()> all{};
  for (std::size_t axis = 0; axis < e.rank(); ++axis) all[axis] = e.extent(e.rank() - 1 - axis);
  return result(all);
}

// "(3, 4)" — the spelling every diagnostic uses for a shape.
template <std::size_t... Es>
std::string to_string(const extents<Es...>& e) {
  std::string text = "(";
  for (std::size_t axis = 0; axis < e.rank(); ++axis) {
    if (axis > 0) text += ", ";
    text += std::to_string(e.extent(axis));
  }
  if (e.rank() == 1) text += ",";
  return text + ")";
}

}  // namespace forma
