// libFuzzer harness: GGUF validation, then every metadata value printed and every tensor it
// accepted dequantized (whole, and row 0 through dequantize_row and dot_row); the file's tokenizer
// (tokenizer.ggml.*) loaded, and when it loads, a text encoded and decoded with it; then the file
// rewritten by gguf::Writer (metadata copied, tensors as raw bytes) and read back: the same keys,
// value texts, tensor names, types, dims and bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <forma/io/gguf.hpp>
#include <forma/io/gguf_writer.hpp>
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
  // The writer: what it accepts (it refuses empty keys, 0-dim tensors and names over 63 bytes,
  // which the reader takes) it writes so that the reader finds the same file contents.
  gguf::Writer writer;
  for (const auto& entry : file->metadata()) {
    if (!writer.set(std::string(entry.key), gguf::MetaValue::copy(entry.value))) return 0;
  }
  for (const auto& t : file->tensors()) {
    const auto raw = file->bytes(t);
    if (!writer.add_tensor_bytes(std::string(t.name), t.dims(), t.type, {raw.begin(), raw.end()})) return 0;
  }
  auto written = writer.encode();
  if (!written) __builtin_trap();
  auto again = gguf::File::from_bytes(std::as_bytes(std::span<const char>(written->data(), written->size())));
  if (!again || again->metadata().size() != file->metadata().size() ||
      again->tensors().size() != file->tensors().size() || again->alignment() != file->alignment()) {
    __builtin_trap();
  }
  for (std::size_t i = 0; i < file->metadata().size(); ++i) {
    const auto &a = file->metadata()[i], &b = again->metadata()[i];
    if (a.key != b.key || a.value.type() != b.value.type() || a.value.text(1000) != b.value.text(1000)) __builtin_trap();
  }
  for (std::size_t i = 0; i < file->tensors().size(); ++i) {
    const auto &a = file->tensors()[i], &b = again->tensors()[i];
    const auto x = file->bytes(a), y = again->bytes(b);
    if (a.name != b.name || a.type != b.type || a.n_dims != b.n_dims || a.ne != b.ne || x.size() != y.size() ||
        (!x.empty() && std::memcmp(x.data(), y.data(), x.size()) != 0)) {
      __builtin_trap();
    }
  }
  return 0;
}
