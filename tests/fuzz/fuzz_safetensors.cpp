// libFuzzer harness: safetensors validation, then reading every tensor it accepted.
#include <cstddef>
#include <cstdint>
#include <span>

#include <forma/io/safetensors.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  auto file = forma::io::Safetensors::parse(bytes);
  if (!file) return 0;
  using forma::dyn;
  for (const auto& e : file->tensors()) {
    (void)file->load<forma::Tensor<float, forma::extents<dyn>>>(e.name, {.convert = true});
    (void)file->load<forma::Tensor<float, forma::extents<dyn, dyn>>>(e.name, {.convert = true});
    (void)file->get<forma::TensorView<const std::uint8_t, forma::extents<dyn>>>(e.name);
    (void)file->get<forma::TensorView<const float, forma::extents<dyn, dyn>>>(e.name);
  }
  return 0;
}
