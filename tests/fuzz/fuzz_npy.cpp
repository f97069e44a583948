// libFuzzer harness: .npy parsing and typed conversion must never crash, hang or over-allocate.
#include <cstddef>
#include <cstdint>
#include <span>

#include <forma/io/npy.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  auto array = forma::io::parse_npy(bytes);
  if (!array) return 0;
  using forma::dyn;
  using forma::extents;
  (void)forma::io::to_tensor<forma::Tensor<float, extents<>>>(*array, {.convert = true});
  (void)forma::io::to_tensor<forma::Tensor<float, extents<dyn>>>(*array, {.convert = true});
  (void)forma::io::to_tensor<forma::Tensor<double, extents<dyn, dyn>>>(*array, {.convert = true});
  (void)forma::io::to_tensor<forma::Tensor<std::int8_t, extents<dyn, dyn, dyn>>>(*array, {.convert = true});
  (void)forma::io::to_tensor<forma::Tensor<forma::bf16, extents<dyn, 4>>>(*array, {.convert = true});
  return 0;
}
