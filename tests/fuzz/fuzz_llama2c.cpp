// libFuzzer harness: llama2.c header validation, weight mapping, version 2 dequantization and
// re-quantization, and a forward pass through any small model the validator accepts (whatever the
// weights hold).
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include <forma/io/llama2c.hpp>
#include <forma/models/llama.hpp>
#include <forma/models/presets.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Copied into float-aligned memory, as a file mapping would be.
  std::vector<float> aligned((size + sizeof(float) - 1) / sizeof(float));
  if (size > 0) std::memcpy(aligned.data(), data, size);
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(aligned.data()), size);
  namespace llama2c = forma::io::llama2c;
  (void)llama2c::parse_header(bytes);
  auto header = llama2c::validate(bytes);
  if (!header) return 0;
  if (header->kind == llama2c::format::q8_0_v2) {
    // Every matrix the layout names lies inside the file: touch its last scale byte (ASan checks).
    const auto layout = llama2c::q8_0_layout(*header);
    if (!layout || layout->end != size) std::abort();
    volatile unsigned char last = 0;
    for (const auto& t : layout->tensors) {
      if (t.count == 0 || t.offset + t.count * t.stride > size) std::abort();
      last = last ^ data[t.offset + t.count * t.stride - 1];
    }
    // Dequantized to fp32 (load_fp32's path): a validated file always gives a mappable image, and
    // its weights quantize back (or fail with an Error, for scales that overflow to inf).
    auto image = llama2c::dequantize_to_v1(*header, bytes);
    if (!image) std::abort();
    llama2c::Header v1 = *header;
    v1.kind = llama2c::format::fp32_v1;
    v1.version = 1;
    v1.group_size = 0;
    auto dequantized = llama2c::map_weights<forma::presets::any_llama>(v1, std::as_bytes(std::span<const float>(*image)));
    if (!dequantized) std::abort();
    (void)llama2c::encode_q8_0_v2(*dequantized, header->group_size);
    return 0;
  }
  auto weights = llama2c::map_weights<forma::presets::any_llama>(*header, bytes);
  if (!weights) return 0;
  // A small context: the header's seq_len may be huge (nothing bounds it in a version 1 file).
  forma::Llama<forma::presets::any_llama, 4> model(*weights, std::min<std::size_t>(header->seq_len, 8));
  const std::int32_t tokens[] = {1, 0, static_cast<std::int32_t>(header->vocab_size - 1), 5};
  (void)model.prefill(std::span<const std::int32_t>(tokens, header->seq_len < 4 ? header->seq_len : 4), 0);
  (void)model.forward(static_cast<std::int32_t>(size % (header->vocab_size + 2)) - 1, 0);
  return 0;
}
