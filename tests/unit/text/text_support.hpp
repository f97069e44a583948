// Shared by the text tests: the shipped tokenizers, and tokenizer.bin files built in memory.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <forma/text/tokenizer.hpp>

namespace text_test {

inline const forma::text::Tokenizer& tok512() {
  static const forma::text::Tokenizer t =
      forma::text::Tokenizer::load(FORMA_SOURCE_DIR "/models/stories260K/tok512.bin").value();
  return t;
}

inline const forma::text::Tokenizer& llama2() {
  static const forma::text::Tokenizer t =
      forma::text::Tokenizer::load(FORMA_TEST_DATA_DIR "/tokenizer/llama2/tokenizer.bin").value();
  return t;
}

// tokenizer.bin bytes: the int32 header, then (score, length, bytes) per entry.
inline std::string tokenizer_bytes(std::int32_t max_token_length,
                                   const std::vector<std::pair<float, std::string>>& entries) {
  std::string bytes(4, '\0');
  std::memcpy(bytes.data(), &max_token_length, 4);
  for (const auto& [score, piece] : entries) {
    std::string header(8, '\0');
    const auto length = static_cast<std::int32_t>(piece.size());
    std::memcpy(header.data(), &score, 4);
    std::memcpy(header.data() + 4, &length, 4);
    bytes += header + piece;
  }
  return bytes;
}

// llama2.c's layout: <unk>, BOS, EOS, the 256 byte pieces, then `normal` (score, piece) entries.
inline std::vector<std::pair<float, std::string>> vocabulary_with(
    const std::vector<std::pair<float, std::string>>& normal) {
  std::vector<std::pair<float, std::string>> entries{{0.0f, "<unk>"}, {0.0f, "\n<s>\n"}, {0.0f, "\n</s>\n"}};
  constexpr char hex[] = "0123456789ABCDEF";
  for (int byte = 0; byte < 256; ++byte) {
    entries.push_back({0.0f, std::string("<0x") + hex[byte >> 4] + hex[byte & 15] + ">"});
  }
  entries.insert(entries.end(), normal.begin(), normal.end());
  return entries;
}

inline forma::Result<forma::text::Tokenizer> parse(const std::string& bytes) {
  return forma::text::Tokenizer::parse(
      std::span<const std::byte>(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()));
}

}  // namespace text_test
