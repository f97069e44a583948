// forma/kernels/cuda/memory.cuh — device memory in the type: Tensor<T, E, cuda> owns cudaMalloc'd
// memory (RAII), copies between host and device are explicit calls, and streams and events are
// RAII handles.
//
//   to_device(host tensor)              => Tensor<T, E, cuda>   (synchronous)
//   to_host(cuda tensor)                => Tensor<T, E, host>   (synchronous)
//   copy_to_device(host, device[, s])   host (s...) → device (s...), same dtype and shape
//   copy_to_host(device, host[, s])     device (s...) → host (s...)
// With a Stream the copy is queued on it (cudaMemcpyAsync) and the host memory must stay alive
// and untouched until the stream is synchronized; from pageable memory CUDA may complete it
// before returning.
//
// Host code only: g++ compiles it given the CUDA include directory (and links cudart).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <type_traits>
#include <utility>

#include "forma/core/device.hpp"
#include "forma/core/storage.hpp"
#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cuda/check.cuh"

namespace forma {

// cudaMalloc / cudaFree / cudaMemset; an empty buffer allocates nothing (no device needed).
template <>
struct device_allocator<cuda> {
  static void* allocate(std::size_t bytes) {
    if (bytes == 0) return nullptr;
    void* pointer = nullptr;
    FORMA_CUDA_CHECK(cudaMalloc(&pointer, bytes));
    return pointer;
  }
  static void deallocate(void* pointer) noexcept {
    if (pointer != nullptr) (void)cudaFree(pointer);  // a destructor cannot report; see Stream
  }
  static void zero(void* pointer, std::size_t bytes) {
    if (bytes != 0) FORMA_CUDA_CHECK(cudaMemset(pointer, 0, bytes));
  }
  static void copy(void* to, const void* from, std::size_t bytes) {
    if (bytes != 0) FORMA_CUDA_CHECK(cudaMemcpy(to, from, bytes, cudaMemcpyDeviceToDevice));
  }
};

namespace kernels::cuda {

// An owned cudaStream_t (non-blocking with respect to the legacy default stream).
class Stream {
 public:
  Stream() { FORMA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  Stream(Stream&& other) noexcept : stream_(std::exchange(other.stream_, nullptr)) {}
  Stream& operator=(Stream&& other) noexcept {
    if (this != &other) {
      destroy();
      stream_ = std::exchange(other.stream_, nullptr);
    }
    return *this;
  }
  ~Stream() { destroy(); }

  cudaStream_t get() const noexcept { return stream_; }
  void synchronize() const { FORMA_CUDA_CHECK(cudaStreamSynchronize(stream_)); }
  void wait(cudaEvent_t event) const { FORMA_CUDA_CHECK(cudaStreamWaitEvent(stream_, event, 0)); }

 private:
  void destroy() noexcept {
    if (stream_ != nullptr) (void)cudaStreamDestroy(stream_);
    stream_ = nullptr;
  }
  cudaStream_t stream_ = nullptr;
};

// An owned cudaEvent_t, with timing.
class Event {
 public:
  Event() { FORMA_CUDA_CHECK(cudaEventCreate(&event_)); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  Event(Event&& other) noexcept : event_(std::exchange(other.event_, nullptr)) {}
  Event& operator=(Event&& other) noexcept {
    if (this != &other) {
      destroy();
      event_ = std::exchange(other.event_, nullptr);
    }
    return *this;
  }
  ~Event() { destroy(); }

  cudaEvent_t get() const noexcept { return event_; }
  void record(const Stream& stream) { FORMA_CUDA_CHECK(cudaEventRecord(event_, stream.get())); }
  void synchronize() const { FORMA_CUDA_CHECK(cudaEventSynchronize(event_)); }
  // Milliseconds from `start` to this event (both recorded and complete).
  float elapsed_since(const Event& start) const {
    float milliseconds = 0;
    FORMA_CUDA_CHECK(cudaEventElapsedTime(&milliseconds, start.event_, event_));
    return milliseconds;
  }

 private:
  void destroy() noexcept {
    if (event_ != nullptr) (void)cudaEventDestroy(event_);
    event_ = nullptr;
  }
  cudaEvent_t event_ = nullptr;
};

// Waits for all work on the device (the legacy default stream and every other).
inline void synchronize() { FORMA_CUDA_CHECK(cudaDeviceSynchronize()); }

namespace detail {
template <class Dst, class Src, class ToDevice, class FromDevice>
void copy_checked(const char* op_name, const Src& source, Dst&& target, cudaMemcpyKind kind,
                  cudaStream_t stream, bool async) {
  using D = std::remove_cvref_t<Dst>;
  FORMA_RULE_SAME_TYPE("copy_to_device/copy_to_host: element types differ",
                       std::remove_const_t<typename Src::value_type>,
                       std::remove_const_t<typename D::value_type>);
  FORMA_RULE_SAME_TYPE("copy_to_device/copy_to_host: the source is on the wrong device",
                       typename Src::device_type, FromDevice);
  FORMA_RULE_SAME_TYPE("copy_to_device/copy_to_host: the target is on the wrong device",
                       typename D::device_type, ToDevice);
  FORMA_RULE_SAME_SHAPE("copy_to_device/copy_to_host: shapes differ", extents_of_t<Src>,
                        extents_of_t<D>, source.extents(), target.extents());
  static_assert(std::is_same_v<typename Src::layout_type, layout_right> &&
                    std::is_same_v<typename D::layout_type, layout_right>,
                "copy_to_device/copy_to_host: both sides must be row-major (contiguous)");
  (void)op_name;
  auto out = forma::view(target);
  const std::size_t bytes = source.size() * sizeof(typename Src::value_type);
  if (bytes == 0) return;
  if (async) {
    FORMA_CUDA_CHECK(cudaMemcpyAsync(out.data(), source.data(), bytes, kind, stream));
  } else {
    FORMA_CUDA_CHECK(cudaMemcpy(out.data(), source.data(), bytes, kind));
  }
}
}  // namespace detail

// host (s...) → device (s...).
template <tensor Src, class Dst>
  requires writable_tensor<std::remove_cvref_t<Dst>>
void copy_to_device(const Src& source, Dst&& target) {
  detail::copy_checked<Dst, Src, ::forma::cuda, host>("copy_to_device", source, target,
                                                     cudaMemcpyHostToDevice, nullptr, false);
}
template <tensor Src, class Dst>
  requires writable_tensor<std::remove_cvref_t<Dst>>
void copy_to_device(const Src& source, Dst&& target, const Stream& stream) {
  detail::copy_checked<Dst, Src, ::forma::cuda, host>("copy_to_device", source, target,
                                                     cudaMemcpyHostToDevice, stream.get(), true);
}

// device (s...) → host (s...).
template <tensor Src, class Dst>
  requires writable_tensor<std::remove_cvref_t<Dst>>
void copy_to_host(const Src& source, Dst&& target) {
  detail::copy_checked<Dst, Src, host, ::forma::cuda>("copy_to_host", source, target,
                                                     cudaMemcpyDeviceToHost, nullptr, false);
}
template <tensor Src, class Dst>
  requires writable_tensor<std::remove_cvref_t<Dst>>
void copy_to_host(const Src& source, Dst&& target, const Stream& stream) {
  detail::copy_checked<Dst, Src, host, ::forma::cuda>("copy_to_host", source, target,
                                                     cudaMemcpyDeviceToHost, stream.get(), true);
}

// A new device tensor holding a copy of a host tensor or view.
template <tensor Src>
Tensor<std::remove_const_t<typename Src::value_type>, typename Src::extents_type, ::forma::cuda>
to_device(const Src& source) {
  Tensor<std::remove_const_t<typename Src::value_type>, typename Src::extents_type, ::forma::cuda>
      result(uninitialized, source.extents());
  copy_to_device(source, result);
  return result;
}

// A new host tensor holding a copy of a device tensor or view.
template <tensor Src>
Tensor<std::remove_const_t<typename Src::value_type>, typename Src::extents_type, host> to_host(
    const Src& source) {
  Tensor<std::remove_const_t<typename Src::value_type>, typename Src::extents_type, host> result(
      uninitialized, source.extents());
  copy_to_host(source, result);
  return result;
}

}  // namespace kernels::cuda

// The copies are device-neutral verbs: forma::to_device(x), forma::to_host(y).
using kernels::cuda::copy_to_device;
using kernels::cuda::copy_to_host;
using kernels::cuda::to_device;
using kernels::cuda::to_host;

}  // namespace forma
