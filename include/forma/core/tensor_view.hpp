// forma/core/tensor_view.hpp — a non-owning, shape-typed window on contiguous memory.
//
// TensorView<T, Extents, Device, Layout> is a pointer plus the dynamic extents (an all-static
// view is one pointer wide). `T` may be const for a read-only view. Views are cheap to copy;
// copying a view copies the window, not the elements (use forma::copy for that).
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "forma/core/config.hpp"
#include "forma/core/contract.hpp"
#include "forma/core/device.hpp"
#include "forma/core/dtype.hpp"
#include "forma/core/error.hpp"
#include "forma/core/extents.hpp"
#include "forma/core/layout.hpp"
#include "forma/core/shape_rules.hpp"

namespace forma {

template <class T, extents_type Extents, device Device = host, layout Layout = layout_right>
class TensorView;

namespace detail {
template <class Extents, class... Indices>
std::string index_text(const std::array<std::size_t, Extents::rank()>& index) {
  std::string text = "(";
  for (std::size_t axis = 0; axis < index.size(); ++axis) {
    if (axis > 0) text += ", ";
    text += std::to_string(index[axis]);
  }
  return text + ")";
}

template <class Extents>
[[noreturn]] void fail_index(const Extents& e, const std::array<std::size_t, Extents::rank()>& index) {
  contract::fail_index("index " + index_text<Extents>(index) + " is out of range for shape " +
                       to_string(e));
}

template <class Extents>
constexpr bool in_bounds(const Extents& e,
                         const std::array<std::size_t, Extents::rank()>& index) noexcept {
  for (std::size_t axis = 0; axis < Extents::rank(); ++axis) {
    if (index[axis] >= e.extent(axis)) return false;
  }
  return true;
}
}  // namespace detail

template <class T, extents_type Extents, device Device, layout Layout>
class TensorView {
  static_assert(element<T>, "TensorView: T must be an element type (see forma/core/dtype.hpp)");

 public:
  using element_type = T;
  using value_type = std::remove_cv_t<T>;
  using extents_type = Extents;
  using device_type = Device;
  using layout_type = Layout;
  using pointer = T*;
  using reference = T&;

  static constexpr std::size_t rank() noexcept { return Extents::rank(); }
  static constexpr std::size_t static_extent(std::size_t axis) noexcept {
    return Extents::static_extent(axis);
  }

  constexpr TensorView() noexcept = default;
  constexpr TensorView(T* data, const Extents& e) noexcept : data_(data), extents_(e) {}

  // All-static: just the pointer. Otherwise the dynamic extents follow the pointer.
  constexpr explicit TensorView(T* data) noexcept
    requires(Extents::is_static())
      : data_(data) {}
  template <class... Sizes>
    requires(sizeof...(Sizes) == Extents::rank_dynamic() && sizeof...(Sizes) > 0 &&
             (std::is_convertible_v<Sizes, std::size_t> && ...))
  constexpr TensorView(T* data, Sizes... dynamic_sizes) noexcept
      : data_(data), extents_(dynamic_sizes...) {}

  // From another view of the same layout and device: adds const, forgets static extents
  // (implicit), or checks dynamic extents against static ones (explicit, throws shape_error).
  template <class U, std::size_t... Os>
    requires(std::is_convertible_v<U (*)[], T (*)[]> && sizeof...(Os) == rank())
  constexpr explicit(narrows_v<forma::extents<Os...>, Extents>)
      TensorView(const TensorView<U, forma::extents<Os...>, Device, Layout>& other)
      : data_(other.data()), extents_(checked_extents(other.extents())) {}

  constexpr T* data() const noexcept { return data_; }
  constexpr const Extents& extents() const noexcept { return extents_; }
  constexpr std::size_t extent(std::size_t axis) const noexcept { return extents_.extent(axis); }
  constexpr std::size_t size() const noexcept { return extents_.size(); }
  constexpr std::size_t size_bytes() const noexcept { return size() * sizeof(T); }
  constexpr bool empty() const noexcept { return size() == 0; }

  // Distance in elements between consecutive indices along `axis`.
  constexpr std::size_t stride(std::size_t axis) const noexcept {
    return Layout::stride(extents_, axis);
  }

  // Element access with run-time indices; bounds-checked when FORMA_CHECK_BOUNDS is on.
  template <class... Indices>
    requires(sizeof...(Indices) == rank() && (std::is_convertible_v<Indices, std::size_t> && ...) &&
             std::is_same_v<Device, host>)
  constexpr T& operator()(Indices... indices) const {
    const std::array<std::size_t, rank()> index{static_cast<std::size_t>(indices)...};
#if FORMA_CHECK_BOUNDS
    if (!detail::in_bounds(extents_, index)) detail::fail_index(extents_, index);
#endif
    return data_[Layout::offset(extents_, index)];
  }

  // Element access by a whole multi-index (as std::mdspan's operator[] in C++23).
  constexpr T& operator[](const std::array<std::size_t, rank()>& index) const
    requires(std::is_same_v<Device, host>)
  {
#if FORMA_CHECK_BOUNDS
    if (!detail::in_bounds(extents_, index)) detail::fail_index(extents_, index);
#endif
    return data_[Layout::offset(extents_, index)];
  }

  // Element access that is always bounds-checked (throws forma::index_error).
  template <class... Indices>
    requires(sizeof...(Indices) == rank() && (std::is_convertible_v<Indices, std::size_t> && ...) &&
             std::is_same_v<Device, host>)
  constexpr T& at(Indices... indices) const {
    const std::array<std::size_t, rank()> index{static_cast<std::size_t>(indices)...};
    if (!detail::in_bounds(extents_, index)) detail::fail_index(extents_, index);
    return data_[Layout::offset(extents_, index)];
  }

  // v[i] on a vector is the element; t[i] on a row-major tensor of rank ≥ 2 is the sub-tensor
  // at index i of the first axis (a matrix's row).
  constexpr decltype(auto) operator[](std::size_t i) const
    requires(rank() >= 1 && (rank() == 1 || std::is_same_v<Layout, layout_right>))
  {
    if constexpr (rank() == 1) {
      return (*this)(i);
    } else {
#if FORMA_CHECK_BOUNDS
      if (i >= extent(0)) detail::fail_index(extents_, leading_index(i));
#endif
      using sub_extents = drop_axis_t<Extents, 0>;
      return TensorView<T, sub_extents, Device, Layout>(data_ + i * stride(0),
                                                        drop_axis<0>(extents_));
    }
  }

  // The i-th row of a row-major matrix, as a contiguous vector view.
  constexpr auto row(std::size_t i) const
    requires(rank() == 2 && std::is_same_v<Layout, layout_right>)
  {
    return (*this)[i];
  }

  // The j-th column of a column-major matrix (e.g. a transposed row-major one), contiguous.
  constexpr auto col(std::size_t j) const
    requires(rank() == 2 && std::is_same_v<Layout, layout_left>)
  {
#if FORMA_CHECK_BOUNDS
    if (j >= extent(1)) detail::fail_index(extents_, std::array<std::size_t, 2>{0, j});
#endif
    return TensorView<T, forma::extents<Extents::static_extent(0)>, Device, Layout>(
        data_ + j * extent(0), drop_axis<1>(extents_));
  }

  // The elements in memory order (every view is contiguous).
  constexpr T* begin() const noexcept { return data_; }
  constexpr T* end() const noexcept { return data_ + size(); }

  constexpr auto span() const noexcept {
    constexpr std::size_t n = Extents::static_size();
    if constexpr (n == dyn) {
      return std::span<T>(data_, size());
    } else {
      return std::span<T, n>(data_, n);
    }
  }

  // This view as read-only.
  constexpr TensorView<const T, Extents, Device, Layout> as_const() const noexcept {
    return {data_, extents_};
  }

 private:
  template <class Other>
  static constexpr Extents checked_extents(const Other& other) {
    FORMA_RULE_SAME_SHAPE("view conversion: shapes differ (target and source must have the same shape)",
                          Extents, Other, Extents(), other);
    if constexpr (compatible_v<Other, Extents>) {
      return Extents(other.all());
    } else {
      return Extents{};
    }
  }

  static constexpr std::array<std::size_t, rank()> leading_index(std::size_t i) noexcept {
    std::array<std::size_t, rank()> index{};
    index[0] = i;
    return index;
  }

  T* data_ = nullptr;
  [[no_unique_address]] Extents extents_{};
};

// ---- aliases -------------------------------------------------------------------------------

template <class T, std::size_t Rows, std::size_t Cols, device Device = host>
using MatrixView = TensorView<T, extents<Rows, Cols>, Device>;
template <class T, std::size_t N, device Device = host>
using VectorView = TensorView<T, extents<N>, Device>;

// ---- concepts ------------------------------------------------------------------------------

// Anything shaped like a tensor: a view, an owning Tensor, or a user type with the same members.
template <class X>
concept tensor = requires(const X& x) {
  typename X::element_type;
  typename X::value_type;
  typename X::extents_type;
  typename X::device_type;
  typename X::layout_type;
  { x.data() };
  { x.extents() } -> std::convertible_to<const typename X::extents_type&>;
} && extents_type<typename X::extents_type> && device<typename X::device_type>;

template <class X>
concept host_tensor = tensor<X> && std::is_same_v<typename X::device_type, host>;

template <class X>
concept matrix = tensor<X> && X::extents_type::rank() == 2;

template <class X>
concept vector = tensor<X> && X::extents_type::rank() == 1;

template <class X>
using extents_of_t = typename std::remove_cvref_t<X>::extents_type;
template <class X>
using value_of_t = typename std::remove_cvref_t<X>::value_type;
template <class X>
using device_of_t = typename std::remove_cvref_t<X>::device_type;

// An owning tensor type (forma::Tensor specializes this); views and user types do not own.
template <class X>
inline constexpr bool owns_elements = false;

// An argument a view may be taken of without dangling: any lvalue, or a view by value.
template <class X>
concept borrowable = tensor<std::remove_cvref_t<X>> &&
                     (std::is_lvalue_reference_v<X> || !owns_elements<std::remove_cvref_t<X>>);

// A tensor whose elements may be written through it.
template <class X>
concept writable_tensor =
    tensor<X> && !std::is_const_v<std::remove_pointer_t<decltype(std::declval<X&>().data())>>;

// ---- making views --------------------------------------------------------------------------

// The view of a tensor (identity on views): forma::view(tensor) or forma::view(view).
template <tensor X>
constexpr auto view(X& x) noexcept {
  using pointee = std::remove_pointer_t<decltype(x.data())>;
  return TensorView<pointee, typename X::extents_type, typename X::device_type,
                    typename X::layout_type>(x.data(), x.extents());
}
template <tensor X>
constexpr auto view(const X& x) noexcept {
  using pointee = std::remove_pointer_t<decltype(x.data())>;
  return TensorView<pointee, typename X::extents_type, typename X::device_type,
                    typename X::layout_type>(x.data(), x.extents());
}

// The view type of a tensor expression.
template <tensor X>
using view_t = decltype(forma::view(std::declval<X&>()));

// The transpose: axes reversed, no copy (row-major becomes column-major and back).
template <borrowable X>
constexpr auto transpose(X&& x) noexcept {
  auto v = forma::view(x);
  using V = decltype(v);
  return TensorView<typename V::element_type, reverse_t<typename V::extents_type>,
                    typename V::device_type, transposed_layout_t<typename V::layout_type>>(
      v.data(), reverse(v.extents()));
}

// Wraps a contiguous range (std::vector, std::array, C array, span) as a rank-1 view.
template <class Range>
  requires requires(Range& r) {
    std::data(r);
    std::size(r);
  }
constexpr auto vector_view(Range& range) noexcept {
  using T = std::remove_pointer_t<decltype(std::data(range))>;
  return TensorView<T, extents<dyn>>(std::data(range), std::size(range));
}

// ---- static element access -----------------------------------------------------------------

// forma::get<i, j>(m): the index is checked against the static extents at compile time (against
// dynamic ones at run time).
template <std::size_t... Index, borrowable X>
  requires(sizeof...(Index) == std::remove_cvref_t<X>::extents_type::rank() &&
           host_tensor<std::remove_cvref_t<X>>)
constexpr decltype(auto) get(X&& x) {
  using E = typename std::remove_cvref_t<X>::extents_type;
  [&]<std::size_t... Axis>(std::index_sequence<Axis...>) {
    (FORMA_RULE_LESS("get: a static index is out of range (index < extent fails)",
                     Index, E::static_extent(Axis), Index, x.extent(Axis)),
     ...);
  }(std::make_index_sequence<E::rank()>{});
  return forma::view(x)(Index...);
}

// ---- shape conversions ---------------------------------------------------------------------

// Views `x` with the static shape `Target`, checking that its run-time extents fit. Fails with a
// shape_mismatch Error naming both shapes instead of throwing.
template <extents_type Target, tensor X>
  requires(Target::rank() == X::extents_type::rank())
auto shape_cast(X& x) -> Result<TensorView<std::remove_pointer_t<decltype(x.data())>, Target,
                                           typename X::device_type, typename X::layout_type>> {
  static_assert(rules::same_shape<Target, typename X::extents_type>,
                "shape_cast: the target shape contradicts the static extents of the source");
  for (std::size_t axis = 0; axis < Target::rank(); ++axis) {
    const std::size_t want = Target::static_extent(axis);
    if (want != dyn && want != x.extent(axis)) {
      std::string target = "(";
      for (std::size_t a = 0; a < Target::rank(); ++a) {
        if (a > 0) target += ", ";
        target += Target::static_extent(a) == dyn ? std::string("?")
                                                  : std::to_string(Target::static_extent(a));
      }
      target += Target::rank() == 1 ? ",)" : ")";
      return mismatch(errc::shape_mismatch, "shape", target, to_string(x.extents()), "tensor has");
    }
  }
  std::array<std::size_t, Target::rank()> all{};
  for (std::size_t axis = 0; axis < Target::rank(); ++axis) all[axis] = x.extent(axis);
  return TensorView<std::remove_pointer_t<decltype(x.data())>, Target, typename X::device_type,
                    typename X::layout_type>(x.data(), Target(all));
}

// The same elements seen with another shape of the same size (row-major only). With static
// extents on both sides the sizes are compared by the compiler; dynamic target extents are
// passed as arguments.
template <extents_type Target, borrowable X, class... Sizes>
  requires(sizeof...(Sizes) == Target::rank_dynamic() &&
           std::is_same_v<typename std::remove_cvref_t<X>::layout_type, layout_right>)
constexpr auto reshape(X&& x, Sizes... dynamic_sizes) {
  auto source = forma::view(x);
  using Device = typename decltype(source)::device_type;
  using Source = typename decltype(source)::extents_type;
  Target target;
  if constexpr (sizeof...(Sizes) > 0) target = Target(dynamic_sizes...);
  FORMA_RULE_SAME_EXTENT("reshape: element counts differ (source size vs target size)",
                         Source::static_size(), Target::static_size(), source.size(),
                         target.size());
  return TensorView<typename decltype(source)::element_type, Target, Device>(source.data(), target);
}

// The same elements seen with the shape `target` (same size; row-major only).
template <borrowable X, std::size_t... Ts>
  requires std::is_same_v<typename std::remove_cvref_t<X>::layout_type, layout_right>
constexpr auto reshape(X&& x, const extents<Ts...>& target) {
  auto source = forma::view(x);
  using Source = typename decltype(source)::extents_type;
  using Target = extents<Ts...>;
  using Device = typename decltype(source)::device_type;
  FORMA_RULE_SAME_EXTENT("reshape: element counts differ (source size vs target size)",
                         Source::static_size(), Target::static_size(), source.size(),
                         target.size());
  return TensorView<typename decltype(source)::element_type, Target, Device>(source.data(), target);
}

// Rows [begin, begin + count) of the first axis, as a view whose first extent is dynamic.
// Checked: begin + count must not pass the end (forma::shape_error otherwise).
template <borrowable X>
  requires(std::remove_cvref_t<X>::extents_type::rank() >= 1 &&
           std::is_same_v<typename std::remove_cvref_t<X>::layout_type, layout_right>)
constexpr auto slice(X&& x, std::size_t begin, std::size_t count) {
  auto source = forma::view(x);
  using V = decltype(source);
  using Source = typename V::extents_type;
  using Target = insert_axis_t<drop_axis_t<Source, 0>, 0, dyn>;
  contract::require_less(begin + count, source.extent(0) + 1,
                         "slice: the rows run past the end (begin + count <= extent fails)");
  auto all = source.extents().all();
  all[0] = count;
  return TensorView<typename V::element_type, Target, typename V::device_type>(
      source.data() + begin * source.stride(0), Target(all));
}

// A rank-1 view of all elements, in memory order.
template <borrowable X>
constexpr auto flatten(X&& x) noexcept {
  auto source = forma::view(x);
  using Device = typename decltype(source)::device_type;
  using Source = typename decltype(source)::extents_type;
  using Flat = forma::extents<Source::static_size()>;
  if constexpr (Source::is_static()) {
    return TensorView<typename decltype(source)::element_type, Flat, Device>(source.data());
  } else {
    return TensorView<typename decltype(source)::element_type, Flat, Device>(source.data(),
                                                                              source.size());
  }
}

}  // namespace forma
