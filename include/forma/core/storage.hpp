// forma/core/storage.hpp — 64-byte-aligned heap storage for owning tensors.
//
// A static shape does not mean inline storage: Matrix<float, 32000, 288> is 35 MB and lives on
// the heap like any other tensor; the shape only fixes its size at compile time.
#pragma once

#include <cstddef>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

#include "forma/core/contract.hpp"
#include "forma/core/device.hpp"

namespace forma {

inline constexpr std::size_t storage_alignment = 64;

// Tag: leave the elements uninitialized (they are zeroed otherwise).
struct uninitialized_t {
  explicit uninitialized_t() = default;
};
inline constexpr uninitialized_t uninitialized{};

template <class Device>
struct device_allocator;  // specialized per device; cuda's lives in the CUDA headers

template <>
struct device_allocator<host> {
  static void* allocate(std::size_t bytes) {
    return ::operator new(bytes == 0 ? storage_alignment : bytes,
                          std::align_val_t{storage_alignment});
  }
  static void deallocate(void* pointer) noexcept {
    ::operator delete(pointer, std::align_val_t{storage_alignment});
  }
  static void zero(void* pointer, std::size_t bytes) noexcept { std::memset(pointer, 0, bytes); }
  static void copy(void* to, const void* from, std::size_t bytes) noexcept {
    if (bytes != 0) std::memcpy(to, from, bytes);
  }
};

// An owning, aligned array of `count` trivially copyable elements on `Device`.
template <class T, class Device>
class aligned_buffer {
  static_assert(std::is_trivially_copyable_v<T>, "aligned_buffer: elements must be trivially copyable");

 public:
  aligned_buffer() noexcept = default;

  aligned_buffer(std::size_t count, bool zeroed) : count_(count) {
    if (count > std::numeric_limits<std::size_t>::max() / sizeof(T)) {
      contract::fail_shape("tensor storage: " + std::to_string(count) +
                           " elements overflow the address space");
    }
    data_.reset(static_cast<T*>(device_allocator<Device>::allocate(count * sizeof(T))));
    if (zeroed) device_allocator<Device>::zero(data_.get(), count * sizeof(T));
  }

  aligned_buffer(const aligned_buffer& other) : aligned_buffer(other.count_, false) {
    device_allocator<Device>::copy(data_.get(), other.data_.get(), count_ * sizeof(T));
  }
  aligned_buffer& operator=(const aligned_buffer& other) {
    if (this != &other) {
      aligned_buffer copy(other);
      *this = std::move(copy);
    }
    return *this;
  }
  aligned_buffer(aligned_buffer&& other) noexcept
      : data_(std::move(other.data_)), count_(std::exchange(other.count_, 0)) {}
  aligned_buffer& operator=(aligned_buffer&& other) noexcept {
    data_ = std::move(other.data_);
    count_ = std::exchange(other.count_, 0);
    return *this;
  }
  ~aligned_buffer() = default;

  T* data() noexcept { return data_.get(); }
  const T* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return count_; }

 private:
  struct deleter {
    void operator()(T* pointer) const noexcept { device_allocator<Device>::deallocate(pointer); }
  };
  std::unique_ptr<T, deleter> data_;
  std::size_t count_ = 0;
};

}  // namespace forma
