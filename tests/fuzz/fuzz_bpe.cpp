// libFuzzer harness: GPT-2 byte-level BPE files (tokenizer.json; vocab.json + merges.txt) and
// encode/decode of arbitrary bytes.
// Input: [2 bytes: little-endian length L of the text, modulo 512][L bytes of text][a file].
//  - The file is parsed as a tokenizer.json, and split at its first NUL byte into a vocab.json and
//    a merges.txt; a valid tokenizer encodes the text (special tokens matched and not), every id
//    must be in range, decode and the streaming decoder must agree, and ids around the vocabulary
//    size must be refused without a read out of bounds.
//  - A fixed byte-level vocabulary (all 256 bytes, merges, a special and a non-special added
//    token) must round-trip any bytes exactly: decode_bytes(encode(s)) == s, malformed UTF-8
//    included, and decode(encode(s)) == s when s is valid UTF-8. A violation aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <forma/io/json.hpp>
#include <forma/text/bpe.hpp>

namespace {

using forma::text::BpeTokenizer;

std::string byte_char(unsigned b) {
  std::string c;
  forma::io::json::append_utf8(c, forma::text::bpe_detail::byte_map.to_char[b]);
  return c;
}

const BpeTokenizer& fixed_vocabulary() {
  static const BpeTokenizer tokenizer = [] {
    std::string vocab = "{";
    std::vector<std::pair<std::string, std::string>> merges = {
        {"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"i", "n"}, {"in", "g"}, {"Ġ", "Ġ"}, {"ĠĠ", "ĠĠ"},
        {"Ã", "©"}, {"ä", "¸"}, {"ä¸", "Ń"}, {"ð", "Ł"}, {"'", "s"}, {"Ċ", "Ċ"}, {"1", "2"}};
    std::vector<std::string> tokens;
    for (unsigned b = 0; b < 256; ++b) tokens.push_back(byte_char(b));
    for (const auto& [a, b] : merges) tokens.push_back(a + b);
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      vocab += (i ? ", " : "") + forma::io::json::quote(tokens[i]) + ": " + std::to_string(i);
    }
    vocab += "}";
    std::string merge_list;
    for (const auto& [a, b] : merges) merge_list += (merge_list.empty() ? "\"" : ", \"") + a + " " + b + "\"";
    const std::string json =
        "{\"added_tokens\": [{\"id\": " + std::to_string(tokens.size()) +
        ", \"content\": \"<|endoftext|>\", \"special\": true}, {\"id\": " + std::to_string(tokens.size() + 1) +
        ", \"content\": \"<sep>\", \"special\": false}], \"pre_tokenizer\": {\"type\": \"ByteLevel\"}, "
        "\"model\": {\"type\": \"BPE\", \"vocab\": " + vocab + ", \"merges\": [" + merge_list + "]}}";
    auto parsed = BpeTokenizer::parse_tokenizer_json(json);
    if (!parsed) std::abort();
    return std::move(parsed).value();
  }();
  return tokenizer;
}

bool valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto d = forma::text::bpe_detail::decode_utf8(text, i);
    if (d.cp == forma::text::bpe_detail::invalid_cp) return false;
    i += d.length;
  }
  return true;
}

void exercise(const BpeTokenizer& t, std::string_view text, bool must_round_trip) {
  for (const bool allow_special : {true, false}) {
    const std::vector<std::int32_t> ids = t.encode(text, {.allow_special = allow_special});
    for (const std::int32_t id : ids) {
      if (!t.contains(id)) std::abort();
    }
    auto decoded = t.decode(ids);
    auto bytes = t.decode_bytes(ids);
    if (!decoded || !bytes) std::abort();
    auto stream = t.decoder();
    std::string streamed;
    for (const std::int32_t id : ids) {
      if (!stream.next(id, streamed)) std::abort();
    }
    stream.finish(streamed);
    if (streamed != *decoded) std::abort();
    if (must_round_trip) {
      if (*bytes != text) std::abort();
      if (valid_utf8(text) && *decoded != text) std::abort();
    }
  }
  const auto size = static_cast<std::int32_t>(t.vocab_size());
  for (const std::int32_t id : {-1, 0, size - 1, size, size + 1}) {
    (void)t.id_to_token(id);
    (void)t.token_bytes(id);
    (void)t.decode(std::vector<std::int32_t>{id});
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t text_length = std::min<std::size_t>(size - 2, data[0] | (data[1] << 8u)) % 512;
  const std::string_view text(reinterpret_cast<const char*>(data + 2), text_length);
  const std::string_view file(reinterpret_cast<const char*>(data + 2 + text_length), size - 2 - text_length);

  if (auto parsed = BpeTokenizer::parse_tokenizer_json(file)) exercise(*parsed, text, false);
  const std::size_t nul = file.find('\0');
  if (nul != std::string_view::npos) {
    if (auto parsed = BpeTokenizer::parse_files(file.substr(0, nul), file.substr(nul + 1))) {
      exercise(*parsed, text, false);
    }
  }
  exercise(fixed_vocabulary(), text, true);
  return 0;
}
