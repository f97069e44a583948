// libFuzzer harness: GGUF validation, then every metadata value printed and every tensor it
// accepted dequantized (whole, and row 0 through dequantize_row and dot_row); the file's tokenizer
// (tokenizer.ggml.*) loaded, and when it loads, a text encoded and decoded with it.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <forma/io/gguf.hpp>
#include <forma/text/gguf_tokenizer.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace gguf = forma::io::gguf;
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  auto file = gguf::File::from_bytes(bytes);
  if (!file) {
    // Every error is one line.
    if (file.error().to_string().find('\n') != std::string::npos) __builtin_trap();
    return 0;
  }
  std::size_t printed = 0;
  for (const auto& entry : file->metadata()) printed += entry.value.text(3).size();
  (void)printed;
  if (auto tokenizer = forma::text::load_gguf_tokenizer(*file); !tokenizer) {
    if (tokenizer.error().to_string().find('\n') != std::string::npos) __builtin_trap();
  } else {
    constexpr std::string_view text = "Hello w\xC3\xB6rld \xFF<s> <|endoftext|>\n";
    if (const auto* spm = std::get_if<forma::text::Tokenizer>(&*tokenizer)) {
      if (auto ids = spm->encode(text, true, true)) (void)spm->decode_all(*ids);
    } else {
      const auto& bpe = std::get<forma::text::BpeTokenizer>(*tokenizer);
      (void)bpe.decode(bpe.encode(text));
    }
  }
  for (const auto& t : file->tensors()) {
    // A tensor's bytes lie in the input, so its element count is bounded by a small multiple of
    // the input's size; the cap keeps one input's work small all the same.
    if (t.elements > (std::uint64_t{1} << 22)) continue;
    auto all = file->dequantize(t);
    if (!all || t.rows() == 0) continue;
    std::vector<float> row(t.row_length());
    if (!file->dequantize_row(t, 0, row)) __builtin_trap();
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (std::memcmp(&row[i], &(*all)[i], sizeof(float)) != 0) __builtin_trap();
    }
    const std::vector<float> x(t.row_length(), 0.5f);
    if (!file->dot_row(t, 0, x.data())) __builtin_trap();
  }
  return 0;
}
