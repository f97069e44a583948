// forma-tokenize TOKENIZER --text STRING     the ids of STRING, space-separated on one line
// forma-tokenize TOKENIZER --decode 1,2,3    the text of those ids, then a newline
//
// TOKENIZER is
//   - a llama2.c tokenizer.bin (forma::text::Tokenizer, run.c's encode: the dummy-prefix space,
//     no BOS; decoding drops the first piece's leading space, as after BOS),
//   - a Hugging Face tokenizer.json (byte-level BPE: GPT-2 and its kin), or
//   - a directory holding tokenizer.json, vocab.json + merges.txt, or encoder.json + vocab.bpe
//     (forma::text::BpeTokenizer; special tokens such as <|endoftext|> are matched, as HF does), or
//   - a GGUF file, a model or vocab-only (forma::text::load_gguf_tokenizer: tokenizer.ggml.model
//     "llama" → SentencePiece's ids, with the dummy-prefix space and no BOS, as llama.cpp's
//     test-tokenizer-0 gives them; "gpt2" → byte-level BPE, special tokens matched).
// The kind is told from the file's first bytes (see detect()). Ids for --decode are separated by
// commas and/or spaces. A usage error or a bad file: one line on stderr starting
// "forma-tokenize: ", exit status 1.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include <forma/io/mmap.hpp>
#include <forma/text/bpe.hpp>
#include <forma/text/gguf_tokenizer.hpp>
#include <forma/text/tokenizer.hpp>

namespace {

using forma::Result;
using forma::text::BpeTokenizer;
using forma::text::Tokenizer;

constexpr const char* usage_line = "usage: forma-tokenize TOKENIZER (--text STRING | --decode ID,ID,...)";

enum class kind { llama2c, bpe, gguf };

// What TOKENIZER is. A directory is a Hugging Face / OpenAI BPE directory; a file whose first
// non-blank byte is '{' is a tokenizer.json; anything else is read as a llama2.c tokenizer.bin
// (it has no magic). A file starting with the bytes "GGUF" is a GGUF file.
Result<kind> detect(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return kind::bpe;
  auto file = forma::io::MappedFile::open(path);
  if (!file) return std::move(file).error();
  const auto bytes = file->bytes();
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0) return kind::gguf;
  for (const std::byte b : bytes) {
    const char c = static_cast<char>(b);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    return c == '{' ? kind::bpe : kind::llama2c;
  }
  return kind::llama2c;
}

using AnyTokenizer = std::variant<Tokenizer, BpeTokenizer>;

Result<AnyTokenizer> load(const std::string& path) {
  auto k = detect(path);
  if (!k) return std::move(k).error();
  if (*k == kind::gguf) return forma::text::load_gguf_tokenizer(path);
  if (*k == kind::bpe) {
    auto t = BpeTokenizer::load(path);
    if (!t) return std::move(t).error();
    return AnyTokenizer(std::move(*t));
  }
  auto t = Tokenizer::load(path);
  if (!t) return std::move(t).error();
  return AnyTokenizer(std::move(*t));
}

Result<std::vector<std::int32_t>> encode(const AnyTokenizer& tokenizer, std::string_view text) {
  if (const auto* bpe = std::get_if<BpeTokenizer>(&tokenizer)) return bpe->encode(text);
  return std::get<Tokenizer>(tokenizer).encode(text, /*bos=*/false, /*eos=*/false);
}

Result<std::string> decode(const AnyTokenizer& tokenizer, const std::vector<std::int32_t>& ids) {
  if (const auto* bpe = std::get_if<BpeTokenizer>(&tokenizer)) return bpe->decode(ids);
  return std::get<Tokenizer>(tokenizer).decode_all(ids, /*after_bos=*/true);
}

// "1,2,3", "1 2 3", "1, 2, 3": the ids, or an Error naming the first item that is not one.
Result<std::vector<std::int32_t>> parse_ids(std::string_view list) {
  std::vector<std::int32_t> ids;
  std::size_t i = 0;
  const auto separator = [](char c) { return c == ',' || c == ' ' || c == '\t' || c == '\n'; };
  while (i < list.size()) {
    if (separator(list[i])) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < list.size() && !separator(list[end])) ++end;
    const std::string item(list.substr(i, end - i));
    char* stop = nullptr;
    errno = 0;
    const long long value = std::strtoll(item.c_str(), &stop, 10);
    if (item.empty() || *stop != '\0' || errno != 0 || item[0] == '+' || value < 0 ||
        value > std::numeric_limits<std::int32_t>::max()) {
      return forma::make_error(forma::errc::invalid_argument, "--decode: \"" + item + "\" is not a token id");
    }
    ids.push_back(static_cast<std::int32_t>(value));
    i = end;
  }
  return ids;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "forma-tokenize: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return fail(usage_line);
  const std::string path = argv[1];
  const std::string_view option = argv[2];
  const std::string_view argument = argv[3];
  if (option != "--text" && option != "--decode") return fail(usage_line);

  auto ids = option == "--decode" ? parse_ids(argument) : Result<std::vector<std::int32_t>>(std::vector<std::int32_t>{});
  if (!ids) return fail(ids.error().to_string());
  auto tokenizer = load(path);
  if (!tokenizer) return fail(tokenizer.error().to_string());

  if (option == "--text") {
    auto encoded = encode(*tokenizer, argument);
    if (!encoded) return fail(encoded.error().to_string());
    std::string line;
    for (std::size_t i = 0; i < encoded->size(); ++i) {
      if (i > 0) line += ' ';
      line += std::to_string((*encoded)[i]);
    }
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  auto text = decode(*tokenizer, *ids);
  if (!text) return fail(text.error().to_string());
  text->push_back('\n');
  std::fwrite(text->data(), 1, text->size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}
