// libFuzzer harness: tokenizer.bin parsing, and encode/decode of arbitrary bytes.
// Input: [2 bytes: little-endian length L of the text, modulo 512][L bytes of text][a tokenizer file].
//  - The file is parsed; when it is valid the text is encoded in both modes, with and without
//    remove_extra_whitespaces, and decoded back (ids must be in range; nothing may crash).
//  - The text is also encoded with a fixed llama2.c-style vocabulary (byte fallback, merges,
//    multi-byte pieces) where run.c's encode must round-trip any bytes exactly: decode(encode(s))
//    == s, malformed UTF-8 included.
//  - For texts up to 64 bytes, run.c mode's ids must equal a transcription of run.c's own encode
//    loop (tests/support/runc_encode.hpp) with both vocabularies — the fuzzed one may hold empty
//    or duplicate pieces and NaN scores. A violation aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <forma/text/tokenizer.hpp>

#include "runc_encode.hpp"

namespace {

std::string vocabulary_file() {
  std::vector<std::pair<float, std::string>> entries{{0.0f, "<unk>"}, {0.0f, "\n<s>\n"}, {0.0f, "\n</s>\n"}};
  constexpr char hex[] = "0123456789ABCDEF";
  for (int byte = 0; byte < 256; ++byte) {
    entries.push_back({0.0f, std::string("<0x") + hex[byte >> 4] + hex[byte & 15] + ">"});
  }
  const char* normal[] = {" ",    "t",   "h",  "e",   "a",     "n",    "i",         "g",       "o",
                          "\n",   " t",  "he", " a",  "in",    " the", "ing",       " th",     "an",
                          "  ",   "   ", "é",  " é",  "\xE4\xB8\xAD", "\xE2\x96\x81", "\xF0\x9F\x98\x80", "oo",
                          "o\n",  "\t",  " \t", "ee", "the",   " in",  " an",       "ng"};
  float score = -1.0f;
  for (const char* piece : normal) entries.push_back({score -= 1.0f, piece});
  entries.push_back({score, "tie"});  // equal scores: the leftmost merge wins
  entries.push_back({score, "ti"});
  std::string bytes(4, '\0');
  const std::int32_t max_length = 8;
  std::memcpy(bytes.data(), &max_length, 4);
  for (const auto& [piece_score, piece] : entries) {
    const auto length = static_cast<std::int32_t>(piece.size());
    char header[8];
    std::memcpy(header, &piece_score, 4);
    std::memcpy(header + 4, &length, 4);
    bytes.append(header, 8).append(piece);
  }
  return bytes;
}

forma::text::Tokenizer& fixed_vocabulary() {
  static forma::text::Tokenizer tokenizer = [] {
    const std::string file = vocabulary_file();
    auto parsed = forma::text::Tokenizer::parse(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(file.data()), file.size()));
    if (!parsed) std::abort();
    return std::move(parsed).value();
  }();
  return tokenizer;
}

void exercise(forma::text::Tokenizer& tokenizer, std::string_view text) {
  for (const auto mode : {forma::text::EncodeMode::run_c, forma::text::EncodeMode::sentencepiece}) {
    for (const bool normalize : {false, true}) {
      tokenizer.set_mode(mode);
      tokenizer.set_remove_extra_whitespaces(normalize);
      auto tokens = tokenizer.encode(text, true, true);
      if (!tokens) continue;
      for (const std::int32_t id : *tokens) {
        if (!tokenizer.contains(id)) std::abort();
      }
      (void)tokenizer.decode_all(*tokens);
      if (mode == forma::text::EncodeMode::run_c && !normalize && text.size() <= 64 &&
          *tokens != forma_test::runc_encode(tokenizer, text, true, true)) {
        std::abort();
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t text_length = std::min<std::size_t>(size - 2, data[0] | (data[1] << 8u)) % 512;
  const std::string_view text(reinterpret_cast<const char*>(data + 2), text_length);
  const std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data + 2 + text_length),
                                        size - 2 - text_length);

  auto parsed = forma::text::Tokenizer::parse(file);
  if (parsed) {
    exercise(*parsed, text);
    for (const std::int32_t id : {-1, 0, 1, 2, 3, static_cast<std::int32_t>(text_length)}) {
      (void)parsed->decode(1, id);
      (void)parsed->decode(static_cast<std::int32_t>(text_length), id);
    }
  }

  forma::text::Tokenizer& tokenizer = fixed_vocabulary();
  exercise(tokenizer, text);
  tokenizer.set_mode(forma::text::EncodeMode::run_c);
  tokenizer.set_remove_extra_whitespaces(false);
  auto tokens = tokenizer.encode(text);
  if (!tokens) std::abort();  // the fixed vocabulary has every byte
  auto decoded = tokenizer.decode_all(*tokens);
  if (!decoded || *decoded != text) std::abort();
  return 0;
}
