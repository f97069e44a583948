// Device tensors, copies, streams and events; and "no device" as an Error.
#include <cstdint>
#include <string>

#include <forma/kernels/cuda/memory.cuh>

#include "cuda_test.hpp"

namespace kc = forma::kernels::cuda;

// Runs everywhere: without a device, asking for one is an Error that names the call and says
// what it means; with one, it succeeds.
FORMA_CUDA_HOST_TEST(no_device_is_an_error) {
  const auto ready = kc::require_device();
  const auto count = kc::device_count();
  FORMA_EXPECT(ready.has_value() == count.has_value());
  if (!ready) {
    const std::string text = ready.error().to_string();
    FORMA_EXPECT(ready.error().code == forma::errc::device);
    FORMA_EXPECT(text.find("cudaGetDeviceCount") != std::string::npos);
    FORMA_EXPECT(text.find("no usable CUDA device") != std::string::npos);
    std::printf("no device, as reported: %s\n", text.c_str());
  } else {
    FORMA_EXPECT(*count > 0);
  }
}

// Runs everywhere: allocating a device tensor without a device throws forma's error_exception
// (the call and the code in its text), it does not crash; an empty one needs no device.
FORMA_CUDA_HOST_TEST(allocation_without_device_throws) {
  forma::Tensor<float, forma::extents<forma::dyn>, forma::cuda> empty;
  FORMA_EXPECT(empty.size() == 0);
  if (kc::require_device()) {
    forma::Matrix<float, 4, 4, forma::cuda> ok;
    FORMA_EXPECT(ok.data() != nullptr);
    return;
  }
  bool threw = false;
  try {
    forma::Matrix<float, 4, 4, forma::cuda> on_device;
    (void)on_device;
  } catch (const forma::error_exception& error) {
    threw = true;
    FORMA_EXPECT(error.error().code == forma::errc::device);
    FORMA_EXPECT(std::string(error.what()).find("cudaMalloc") != std::string::npos);
  }
  FORMA_EXPECT(threw);
}

FORMA_CUDA_TEST(tensor_round_trip) {
  auto host = forma::Matrix<float, 3, 5>();
  for (std::size_t i = 0; i < host.size(); ++i) host.data()[i] = static_cast<float>(i) * 0.5f - 3;
  const forma::Matrix<float, 3, 5, forma::cuda> device = forma::to_device(host);
  forma::Matrix<float, 3, 5, forma::cuda> copy = device;  // device-to-device copy
  const auto back = forma::to_host(copy);
  for (std::size_t i = 0; i < host.size(); ++i) FORMA_EXPECT(back.data()[i] == host.data()[i]);
  // A zeroed device tensor reads back as zeros.
  const forma::Tensor<float, forma::extents<forma::dyn, 7>, forma::cuda> zeros(2);
  const auto zeros_back = forma::to_host(zeros);
  for (float value : zeros_back) FORMA_EXPECT(value == 0.0f);
}

FORMA_CUDA_TEST(stream_copies_and_events) {
  forma::Tensor<std::int32_t, forma::extents<forma::dyn>> host(1000);
  for (std::size_t i = 0; i < host.size(); ++i) host.data()[i] = static_cast<std::int32_t>(i * 7);
  forma::Tensor<std::int32_t, forma::extents<forma::dyn>, forma::cuda> device(1000);
  forma::Tensor<std::int32_t, forma::extents<forma::dyn>> back(1000);
  kc::Stream stream;
  kc::Event start, stop;
  start.record(stream);
  forma::copy_to_device(host, device, stream);
  forma::copy_to_host(device, back, stream);
  stop.record(stream);
  stream.synchronize();
  FORMA_EXPECT(stop.elapsed_since(start) >= 0.0f);
  for (std::size_t i = 0; i < host.size(); ++i) FORMA_EXPECT(back.data()[i] == host.data()[i]);
}

// A failing call becomes an Error with the call, the code and its text.
FORMA_CUDA_TEST(failed_call_is_an_error) {
  bool threw = false;
  try {
    void* pointer = nullptr;
    FORMA_CUDA_CHECK(cudaMalloc(&pointer, std::size_t{1} << 62));
  } catch (const forma::error_exception& error) {
    threw = true;
    const std::string text = error.what();
    FORMA_EXPECT(text.find("cudaMalloc(&pointer, std::size_t{1} << 62) failed: cudaErrorMemoryAllocation") !=
                 std::string::npos);
  }
  FORMA_EXPECT(threw);
}
