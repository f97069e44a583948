// forma/core/layout.hpp — how a multi-index maps to an offset in contiguous memory.
//
// Two contiguous layouts: row-major (`layout_right`, the last index varies fastest, the default)
// and column-major (`layout_left`). A transpose swaps one for the other without copying, which is
// how `transpose(m)` stays a view and how matmul learns it may call the "B transposed" kernel.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>

namespace forma {

struct layout_right {
  template <class Extents>
  static constexpr std::size_t offset(const Extents& e,
                                      const std::array<std::size_t, Extents::rank()>& index) noexcept {
    std::size_t result = 0;
    for (std::size_t axis = 0; axis < Extents::rank(); ++axis) {
      result = result * e.extent(axis) + index[axis];
    }
    return result;
  }
  // Distance between consecutive indices along `axis`.
  template <class Extents>
  static constexpr std::size_t stride(const Extents& e, std::size_t axis) noexcept {
    std::size_t result = 1;
    for (std::size_t a = axis + 1; a < Extents::rank(); ++a) result *= e.extent(a);
    return result;
  }
};

struct layout_left {
  template <class Extents>
  static constexpr std::size_t offset(const Extents& e,
                                      const std::array<std::size_t, Extents::rank()>& index) noexcept {
    std::size_t result = 0;
    for (std::size_t axis = Extents::rank(); axis-- > 0;) {
      result = result * e.extent(axis) + index[axis];
    }
    return result;
  }
  template <class Extents>
  static constexpr std::size_t stride(const Extents& e, std::size_t axis) noexcept {
    std::size_t result = 1;
    for (std::size_t a = 0; a < axis; ++a) result *= e.extent(a);
    return result;
  }
};

template <class L>
concept layout = std::is_same_v<L, layout_right> || std::is_same_v<L, layout_left>;

// The layout of the transpose (axes reversed) of a tensor in layout L.
template <layout L>
using transposed_layout_t =
    std::conditional_t<std::is_same_v<L, layout_right>, layout_left, layout_right>;

}  // namespace forma
