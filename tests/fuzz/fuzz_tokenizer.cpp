// libFuzzer harness: tokenizer.bin parsing, then encoding arbitrary bytes and decoding the result.
// Input: [2 bytes: length L of the text][L bytes of text][the tokenizer file].
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <forma/text/tokenizer.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t text_length = std::min<std::size_t>(size - 2, data[0] | (data[1] << 8u)) % 512;
  const std::string_view text(reinterpret_cast<const char*>(data + 2), text_length);
  const std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data + 2 + text_length),
                                        size - 2 - text_length);
  auto tokenizer = forma::text::Tokenizer::parse(file);
  if (!tokenizer) return 0;
  for (const bool normalize : {false, true}) {
    tokenizer->set_remove_extra_whitespaces(normalize);
    auto tokens = tokenizer->encode(text, true, true);
    if (!tokens) continue;
    (void)tokenizer->decode_all(*tokens);
    (void)tokenizer->decode(1, static_cast<std::int32_t>(text_length) - 1);
  }
  return 0;
}
