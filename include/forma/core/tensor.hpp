// forma/core/tensor.hpp — the owning, shape-typed tensor.
//
// Tensor<T, Extents, Device> owns size() elements of 64-byte-aligned storage on Device, zeroed
// unless constructed with forma::uninitialized. Copying copies the elements; moving moves the
// buffer (a moved-from tensor must be assigned before it is used again). Everything that reads
// or writes elements goes through the view, so a Tensor converts implicitly to its TensorView.
#pragma once

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <type_traits>
#include <utility>

#include "forma/core/device.hpp"
#include "forma/core/dtype.hpp"
#include "forma/core/extents.hpp"
#include "forma/core/layout.hpp"
#include "forma/core/shape_rules.hpp"
#include "forma/core/storage.hpp"
#include "forma/core/tensor_view.hpp"

namespace forma {

template <class T, extents_type Extents, device Device = host>
class Tensor {
  static_assert(element<T> && !std::is_const_v<T>,
                "Tensor: T must be a non-const element type (see forma/core/dtype.hpp)");

 public:
  using element_type = T;
  using value_type = T;
  using extents_type = Extents;
  using device_type = Device;
  using layout_type = layout_right;
  using view_type = TensorView<T, Extents, Device>;
  using const_view_type = TensorView<const T, Extents, Device>;

  static constexpr std::size_t rank() noexcept { return Extents::rank(); }
  static constexpr std::size_t static_extent(std::size_t axis) noexcept {
    return Extents::static_extent(axis);
  }

  // A static shape allocates its elements (zeroed); a dynamic one starts empty (extents 0).
  Tensor() : Tensor(Extents{}) {}

  explicit Tensor(const Extents& e) : storage_(e.size(), true), extents_(e) {}
  Tensor(uninitialized_t, const Extents& e) : storage_(e.size(), false), extents_(e) {}
  explicit Tensor(uninitialized_t)
    requires(Extents::is_static())
      : Tensor(uninitialized, Extents{}) {}

  // The dynamic extents, in axis order: Matrix<float, dyn, 4> m(3) is 3×4.
  template <class... Sizes>
    requires(sizeof...(Sizes) == Extents::rank_dynamic() && sizeof...(Sizes) > 0 &&
             (std::is_convertible_v<Sizes, std::size_t> && ...))
  explicit Tensor(Sizes... dynamic_sizes) : Tensor(Extents(dynamic_sizes...)) {}
  template <class... Sizes>
    requires(sizeof...(Sizes) == Extents::rank_dynamic() && sizeof...(Sizes) > 0 &&
             (std::is_convertible_v<Sizes, std::size_t> && ...))
  Tensor(uninitialized_t, Sizes... dynamic_sizes)
      : Tensor(uninitialized, Extents(dynamic_sizes...)) {}

  Tensor(const Tensor&) = default;
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(const Tensor&) = default;
  Tensor& operator=(Tensor&&) noexcept = default;
  ~Tensor() = default;

  // A copy of another tensor or view of the same element type. Shapes must agree: checked by the
  // compiler where both are static, at run time otherwise (and then the conversion is explicit,
  // as every dynamic → static conversion is).
  template <tensor Source>
    requires(!std::is_same_v<std::remove_cvref_t<Source>, Tensor>)
  explicit(narrows_v<typename Source::extents_type, Extents>) Tensor(const Source& source)
      : Tensor(uninitialized, converted_extents(source)) {
    device_allocator<Device>::copy(data(), source.data(), size_bytes());
  }

  // Copies the elements of another tensor or view. A tensor with dynamic extents takes the
  // source's shape (like std::vector); a static one must already have it.
  template <tensor Source>
    requires(!std::is_same_v<std::remove_cvref_t<Source>, Tensor>)
  Tensor& operator=(const Source& source) {
    static_assert(Source::extents_type::rank() != Extents::rank() ||
                      !narrows_v<typename Source::extents_type, Extents>,
                  "tensor assignment: the source has dynamic extents where the target's are "
                  "static; convert explicitly (Tensor's explicit constructor or forma::shape_cast)");
    if constexpr (Extents::is_static()) {
      (void)converted_extents(source);
      device_allocator<Device>::copy(data(), source.data(), size_bytes());
    } else {
      *this = Tensor(source);
    }
    return *this;
  }

  // Builds a tensor from nested braces whose shape is checked by the compiler:
  // Matrix<float, 2, 3>::from_values({{1, 2, 3}, {4, 5, 6}}). Dynamic extents take the braces'.
  template <std::size_t N>
    requires(rank() == 1)
  static Tensor from_values(const T (&values)[N]) {
    FORMA_RULE_SAME_EXTENT("from_values: the values have the wrong length", N,
                           Extents::static_extent(0), N, N);
    Tensor result(uninitialized, Extents(std::array<std::size_t, 1>{N}));
    std::copy_n(values, N, result.data());
    return result;
  }
  template <std::size_t Rows, std::size_t Cols>
    requires(rank() == 2)
  static Tensor from_values(const T (&values)[Rows][Cols]) {
    FORMA_RULE_SAME_EXTENT("from_values: the values have the wrong number of rows", Rows,
                           Extents::static_extent(0), Rows, Rows);
    FORMA_RULE_SAME_EXTENT("from_values: the values have the wrong number of columns", Cols,
                           Extents::static_extent(1), Cols, Cols);
    Tensor result(uninitialized, Extents(std::array<std::size_t, 2>{Rows, Cols}));
    for (std::size_t r = 0; r < Rows; ++r) std::copy_n(values[r], Cols, result.data() + r * Cols);
    return result;
  }

  T* data() noexcept { return storage_.data(); }
  const T* data() const noexcept { return storage_.data(); }
  const Extents& extents() const noexcept { return extents_; }
  std::size_t extent(std::size_t axis) const noexcept { return extents_.extent(axis); }
  std::size_t size() const noexcept { return extents_.size(); }
  std::size_t size_bytes() const noexcept { return size() * sizeof(T); }
  bool empty() const noexcept { return size() == 0; }

  view_type view() noexcept { return {data(), extents_}; }
  const_view_type view() const noexcept { return {data(), extents_}; }
  operator view_type() noexcept { return view(); }              // NOLINT: a tensor is usable as its view
  operator const_view_type() const noexcept { return view(); }  // NOLINT

  template <class... Indices>
  T& operator()(Indices... indices) {
    return view()(indices...);
  }
  template <class... Indices>
  const T& operator()(Indices... indices) const {
    return view()(indices...);
  }
  template <class... Indices>
  T& at(Indices... indices) {
    return view().at(indices...);
  }
  template <class... Indices>
  const T& at(Indices... indices) const {
    return view().at(indices...);
  }
  decltype(auto) operator[](std::size_t i) { return view()[i]; }
  decltype(auto) operator[](std::size_t i) const { return view()[i]; }
  auto row(std::size_t i) { return view().row(i); }
  auto row(std::size_t i) const { return view().row(i); }

  T* begin() noexcept { return data(); }
  T* end() noexcept { return data() + size(); }
  const T* begin() const noexcept { return data(); }
  const T* end() const noexcept { return data() + size(); }
  auto span() noexcept { return view().span(); }
  auto span() const noexcept { return view().span(); }

 private:
  template <class Source>
  static Extents converted_extents(const Source& source) {
    using S = typename Source::extents_type;
    FORMA_RULE_SAME_TYPE("tensor copy: element types differ (convert with forma::cast<T>)",
                         T, typename Source::value_type);
    FORMA_RULE_SAME_TYPE("tensor copy: devices differ (copy across devices explicitly)",
                         Device, typename Source::device_type);
    static_assert(std::is_same_v<typename Source::layout_type, layout_right>,
                  "tensor copy: the source is not row-major (copy a transposed view with "
                  "forma::copy into a tensor of the transposed shape)");
    FORMA_RULE_SAME_RANK("tensor copy: ranks differ (target and source must have the same shape)",
                         Extents::rank(), S::rank());
    if constexpr (Extents::rank() == S::rank()) {
      [&]<std::size_t... Axis>(std::index_sequence<Axis...>) {
        (FORMA_RULE_SAME_EXTENT(
             "tensor copy: shapes differ (target and source must have the same shape)",
             Extents::static_extent(Axis), S::static_extent(Axis),
             Extents::static_extent(Axis) == dyn ? source.extent(Axis)
                                                 : Extents::static_extent(Axis),
             source.extent(Axis)),
         ...);
      }(std::make_index_sequence<S::rank()>{});
      return Extents(source.extents().all());
    } else {
      return Extents{};
    }
  }

  aligned_buffer<T, Device> storage_;
  [[no_unique_address]] Extents extents_{};
};

template <class T, class E, class D>
inline constexpr bool owns_elements<Tensor<T, E, D>> = true;

template <class T, std::size_t Rows, std::size_t Cols, device Device = host>
using Matrix = Tensor<T, extents<Rows, Cols>, Device>;
template <class T, std::size_t N, device Device = host>
using Vector = Tensor<T, extents<N>, Device>;

// The owning tensor type with the shape, element type and device of a tensor expression.
template <tensor X>
using tensor_t = Tensor<typename X::value_type, typename X::extents_type, typename X::device_type>;

}  // namespace forma
