// forma/nn/kv_cache.hpp — the keys and values of every layer, with a fixed capacity.
//
//   KVCache<Layers, Capacity, KVHeads, HeadDim>: keys and values (Layers, Capacity, KVHeads, HeadDim)
// Any extent may be dyn (given at construction). The length (positions filled) is a run-time
// value; appending past the capacity is an Error (errc::capacity) — or, from append_or_throw(),
// a forma::error_exception carrying that Error — never a write out of bounds. Storage is
// allocated once.
#pragma once

#include <array>
#include <cstddef>
#include <string>

#include "forma/core/contract.hpp"
#include "forma/core/error.hpp"
#include "forma/core/extents.hpp"
#include "forma/core/tensor.hpp"

namespace forma {

template <std::size_t Layers, std::size_t Capacity, std::size_t KVHeads, std::size_t HeadDim>
class KVCache {
 public:
  using extents_type = forma::extents<Layers, Capacity, KVHeads, HeadDim>;
  static constexpr std::size_t static_layers = Layers;
  static constexpr std::size_t static_capacity = Capacity;
  static constexpr std::size_t static_kv_heads = KVHeads;
  static constexpr std::size_t static_head_dim = HeadDim;

  KVCache()
    requires(extents_type::is_static())
      : keys_(), values_() {}
  explicit KVCache(const extents_type& e) : keys_(e), values_(e) {}
  KVCache(std::size_t layers, std::size_t capacity, std::size_t kv_heads, std::size_t head_dim)
      : KVCache(extents_type(std::array<std::size_t, 4>{layers, capacity, kv_heads, head_dim})) {}

  std::size_t layers() const noexcept { return keys_.extent(0); }
  std::size_t capacity() const noexcept { return keys_.extent(1); }
  std::size_t kv_heads() const noexcept { return keys_.extent(2); }
  std::size_t head_dim() const noexcept { return keys_.extent(3); }
  std::size_t length() const noexcept { return length_; }
  bool full() const noexcept { return length_ == capacity(); }

  // Reserves the next position and returns it, or fails with errc::capacity when full.
  Result<std::size_t> append() { return append(1); }

  // Reserves the next `count` positions and returns the first, or fails with errc::capacity
  // (reserving nothing) when they do not fit.
  Result<std::size_t> append(std::size_t count) {
    if (count > capacity() - length_) {
      Error error = make_error(errc::capacity, "kv cache: appending position " +
                                                   std::to_string(length_ + count - 1) +
                                                   " past the capacity of " +
                                                   std::to_string(capacity()));
      error.expected = "< " + std::to_string(capacity());
      error.found = std::to_string(length_ + count - 1);
      return error;
    }
    const std::size_t first = length_;
    length_ += count;
    return first;
  }

  // The same, reporting a full cache by throwing forma::error_exception (its Error has
  // errc::capacity) instead of returning it.
  std::size_t append_or_throw(std::size_t count = 1) {
    auto position = append(count);
    if (!position) detail::throw_error(position.error());
    return *position;
  }

  // Forgets every position from `length` on (to rewind a generation); length ≤ length().
  Result<void> truncate(std::size_t length) {
    if (length > length_) {
      return make_error(errc::out_of_range, "kv cache: cannot truncate to " + std::to_string(length) +
                                                " positions, only " + std::to_string(length_) +
                                                " are filled");
    }
    length_ = length;
    return {};
  }
  void clear() noexcept { length_ = 0; }

  // One layer: (Capacity, KVHeads, HeadDim).
  auto keys(std::size_t layer) { return keys_[layer]; }
  auto values(std::size_t layer) { return values_[layer]; }
  auto keys(std::size_t layer) const { return keys_[layer]; }
  auto values(std::size_t layer) const { return values_[layer]; }

 private:
  Tensor<float, extents_type> keys_;
  Tensor<float, extents_type> values_;
  std::size_t length_ = 0;
};

namespace nn {
using forma::KVCache;
}  // namespace nn

}  // namespace forma
