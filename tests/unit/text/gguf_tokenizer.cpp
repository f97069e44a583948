// load_gguf_tokenizer: llama.cpp's vocab-only GGUF files against llama.cpp's own tokenizer test
// vectors (test-tokenizer-0: no BOS, the SPM dummy-prefix space, special tokens not parsed), the
// GGUF tokenizers against the ones forma reads from tokenizer.bin / encoder.json, and the errors.
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <forma/io/gguf.hpp>
#include <forma/io/json.hpp>
#include <forma/text/gguf_tokenizer.hpp>

#include "text_support.hpp"

using forma::text::BpeTokenizer;
using forma::text::Tokenizer;
using Ids = std::vector<std::int32_t>;

namespace {

const std::string gguf_dir = FORMA_TEST_DATA_DIR "/gguf";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  return {std::istreambuf_iterator<char>(in), {}};
}

// llama.cpp's test-tokenizer-0 files: .inp holds the cases, each followed by
// "\n__ggml_vocab_test__\n"; .out one line of space-separated ids per case.
std::vector<std::pair<std::string, Ids>> vocab_cases(const std::string& inp_path, const std::string& out_path) {
  const std::string inp = read_file(inp_path);
  const std::string marker = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  for (std::size_t start = 0; start < inp.size();) {
    const std::size_t end = inp.find(marker, start);
    REQUIRE(end != std::string::npos);
    inputs.push_back(inp.substr(start, end - start));
    start = end + marker.size();
  }
  std::ifstream out(out_path);
  std::vector<Ids> outputs;
  for (std::string line; std::getline(out, line);) {
    Ids ids;
    std::istringstream items(line);
    for (long id = 0; items >> id;) ids.push_back(static_cast<std::int32_t>(id));
    outputs.push_back(std::move(ids));
  }
  REQUIRE(outputs.size() == inputs.size());
  std::vector<std::pair<std::string, Ids>> cases;
  for (std::size_t i = 0; i < inputs.size(); ++i) cases.emplace_back(std::move(inputs[i]), std::move(outputs[i]));
  return cases;
}

const Tokenizer& llama_spm() {
  static const Tokenizer t = std::get<Tokenizer>(forma::text::load_gguf_tokenizer(gguf_dir + "/ggml-vocab-llama-spm.gguf").value());
  return t;
}

const BpeTokenizer& gpt2() {
  static const BpeTokenizer t = std::get<BpeTokenizer>(forma::text::load_gguf_tokenizer(gguf_dir + "/ggml-vocab-gpt-2.gguf").value());
  return t;
}

// A GGUF v3 file with only metadata, written by hand: `kvs` already encoded (key, type, value).
struct GgufBuilder {
  std::string kv_bytes;
  std::uint64_t count = 0;

  static void u32(std::string& s, std::uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); }
  static void u64(std::string& s, std::uint64_t v) { s.append(reinterpret_cast<const char*>(&v), 8); }
  static void str(std::string& s, std::string_view v) {
    u64(s, v.size());
    s.append(v);
  }
  GgufBuilder& string(std::string_view key, std::string_view value) {
    str(kv_bytes, key);
    u32(kv_bytes, 8);
    str(kv_bytes, value);
    ++count;
    return *this;
  }
  GgufBuilder& strings(std::string_view key, const std::vector<std::string>& values) {
    str(kv_bytes, key);
    u32(kv_bytes, 9);
    u32(kv_bytes, 8);
    u64(kv_bytes, values.size());
    for (const auto& v : values) str(kv_bytes, v);
    ++count;
    return *this;
  }
  GgufBuilder& floats(std::string_view key, const std::vector<float>& values) {
    str(kv_bytes, key);
    u32(kv_bytes, 9);
    u32(kv_bytes, 6);
    u64(kv_bytes, values.size());
    for (const float v : values) kv_bytes.append(reinterpret_cast<const char*>(&v), 4);
    ++count;
    return *this;
  }
  std::string bytes() const {
    std::string s = "GGUF";
    u32(s, 3);
    u64(s, 0);
    u64(s, count);
    return s + kv_bytes;
  }
};

std::string load_error(const GgufBuilder& b) {
  const std::string bytes = b.bytes();
  auto file = forma::io::gguf::File::from_bytes(
      std::span<const std::byte>(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()));
  REQUIRE(file);
  auto t = forma::text::load_gguf_tokenizer(*file);
  REQUIRE_FALSE(t);
  const std::string line = t.error().to_string();
  CHECK(line.find('\n') == std::string::npos);
  return line;
}

}  // namespace

TEST_CASE("gguf tokenizer: llama.cpp's llama-spm vocabulary test: every case of ggml-vocab-llama-spm.gguf.inp/.out") {
  const auto cases = vocab_cases(gguf_dir + "/ggml-vocab-llama-spm.gguf.inp", gguf_dir + "/ggml-vocab-llama-spm.gguf.out");
  REQUIRE(cases.size() == 46);
  const Tokenizer& t = llama_spm();
  CHECK(t.vocab_size() == 32000);
  CHECK(t.bos_id() == 1);
  CHECK(t.eos_id() == 2);
  CHECK(t.mode() == forma::text::EncodeMode::sentencepiece);
  std::size_t passed = 0;
  for (const auto& [input, expected] : cases) {
    INFO("case: " << input);
    const Ids got = t.encode(input).value();
    CHECK(got == expected);
    CHECK(t.decode_all(got).value() == input);
    passed += got == expected ? 1 : 0;
  }
  CHECK(passed == cases.size());
  MESSAGE("llama.cpp ggml-vocab-llama-spm: " << passed << " of " << cases.size() << " cases equal");
}

TEST_CASE("gguf tokenizer: llama.cpp's GPT-2 vocabulary test: every case of ggml-vocab-gpt-2.gguf.inp/.out") {
  // The GPT-2 pair is the one tests/unit/text/bpe.cpp already reads (tests/data/bpe/).
  const std::string bpe_dir = FORMA_TEST_DATA_DIR "/bpe";
  const auto cases = vocab_cases(bpe_dir + "/ggml-vocab-gpt-2.gguf.inp", bpe_dir + "/ggml-vocab-gpt-2.gguf.out");
  REQUIRE(cases.size() == 46);
  const BpeTokenizer& t = gpt2();
  CHECK(t.vocab_size() == 50257);
  CHECK(t.merge_count() == 50000);
  CHECK(t.is_special(50256));
  std::size_t passed = 0;
  for (const auto& [input, expected] : cases) {
    INFO("case: " << input);
    // test-tokenizer-0 does not parse special tokens.
    const Ids got = t.encode(input, {.allow_special = false});
    CHECK(got == expected);
    CHECK(t.decode(got).value() == input);
    passed += got == expected ? 1 : 0;
  }
  CHECK(passed == cases.size());
  MESSAGE("llama.cpp ggml-vocab-gpt-2: " << passed << " of " << cases.size() << " cases equal");
}

TEST_CASE("gguf tokenizer: llama.cpp's llama-bpe and qwen2 vocabulary tests: every case of their .inp/.out") {
  // Llama 3's 128,256-token vocabulary (tokenizer.ggml.pre = "llama-bpe") and Qwen2's 151,936
  // ("qwen2"), with llama.cpp's test-tokenizer-0 vectors: no BOS, special tokens not parsed.
  for (const std::string name : {"llama-bpe", "qwen2"}) {
    CAPTURE(name);
    const std::string base = gguf_dir + "/ggml-vocab-" + name + ".gguf";
    const auto cases = vocab_cases(base + ".inp", base + ".out");
    REQUIRE(cases.size() == 46);
    auto loaded = forma::text::load_gguf_tokenizer(base);
    REQUIRE_MESSAGE(loaded, (loaded ? std::string() : loaded.error().to_string()));
    REQUIRE(std::holds_alternative<BpeTokenizer>(*loaded));
    const BpeTokenizer& t = std::get<BpeTokenizer>(*loaded);
    std::size_t passed = 0;
    for (const auto& [input, expected] : cases) {
      INFO("case: " << input);
      const Ids got = t.encode(input, {.allow_special = false});
      CHECK(got == expected);
      CHECK(t.decode(got).value() == input);
      passed += got == expected ? 1 : 0;
    }
    CHECK(passed == cases.size());
    MESSAGE("llama.cpp ggml-vocab-" << name << ": " << passed << " of " << cases.size() << " cases equal");
  }
}

TEST_CASE("gguf tokenizer: the GGUF vocabularies equal the ones read from tokenizer.bin and encoder.json") {
  const Tokenizer& bin = text_test::llama2();
  const Tokenizer& gguf = llama_spm();
  REQUIRE(bin.vocab_size() == gguf.vocab_size());
  for (std::int32_t id = 0; id < static_cast<std::int32_t>(bin.vocab_size()); ++id) {
    if (id == 1 || id == 2) continue;  // tokenizer.bin writes BOS/EOS as "\n<s>\n", "\n</s>\n"
    CHECK_MESSAGE(bin.piece(id) == gguf.piece(id), "token " << id);
    CHECK(bin.score(id) == gguf.score(id));
  }
  CHECK(gguf.type(0) == forma::text::TokenType::unknown);
  CHECK(gguf.type(1) == forma::text::TokenType::control);
  CHECK(gguf.type(3) == forma::text::TokenType::byte);
  CHECK(gguf.type(300) == forma::text::TokenType::normal);
  Tokenizer sp = bin;
  sp.set_mode(forma::text::EncodeMode::sentencepiece);
  for (const std::string_view text : {"Hello world", " 🦙 llama\n\tthe end", "Führer <s> </s>", ""}) {
    CHECK(sp.encode(text, true, true).value() == gguf.encode(text, true, true).value());
  }
  auto openai = BpeTokenizer::load(FORMA_TEST_DATA_DIR "/bpe/openai").value();
  for (const std::string_view text : {"Hello world", "<|endoftext|> it's 2024!", "  spaces\n\n"}) {
    CHECK(openai.encode(text) == gpt2().encode(text));
  }
}

TEST_CASE("gguf tokenizer: errors are one line naming the key, the count or the model") {
  SUBCASE("no tokenizer.ggml.model") {
    CHECK(load_error(GgufBuilder{}).find("tokenizer.ggml.model") != std::string::npos);
  }
  SUBCASE("an unknown model") {
    GgufBuilder b;
    b.string("tokenizer.ggml.model", "bert").strings("tokenizer.ggml.tokens", {"a"});
    const std::string line = load_error(b);
    CHECK(line.find("'bert'") != std::string::npos);
  }
  SUBCASE("no tokens") {
    GgufBuilder b;
    b.string("tokenizer.ggml.model", "llama");
    CHECK(load_error(b).find("tokenizer.ggml.tokens") != std::string::npos);
  }
  SUBCASE("scores and tokens differ in count") {
    GgufBuilder b;
    b.string("tokenizer.ggml.model", "llama").strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
    b.floats("tokenizer.ggml.scores", {0.0f, 0.0f});
    const std::string line = load_error(b);
    CHECK(line.find("3 tokens but tokenizer.ggml.scores has 2") != std::string::npos);
  }
  SUBCASE("a pre-tokenizer forma does not implement") {
    for (const char* pre : {"falcon", "deepseek-llm"}) {
      GgufBuilder b;
      b.string("tokenizer.ggml.model", "gpt2").string("tokenizer.ggml.pre", pre);
      b.strings("tokenizer.ggml.tokens", {"a", "b", "ab"}).strings("tokenizer.ggml.merges", {"a b"});
      const std::string line = load_error(b);
      CHECK(line.find(std::string("tokenizer.ggml.pre '") + pre + "'") != std::string::npos);
    }
  }
  SUBCASE("a merge naming a token that is not in the vocabulary") {
    GgufBuilder b;
    b.string("tokenizer.ggml.model", "gpt2").string("tokenizer.ggml.pre", "gpt-2");
    b.strings("tokenizer.ggml.tokens", {"a", "b", "ab"}).strings("tokenizer.ggml.merges", {"a b", "a c"});
    CHECK(load_error(b).find("tokenizer.ggml.merges[1]") != std::string::npos);
  }
  SUBCASE("a missing file") {
    auto t = forma::text::load_gguf_tokenizer(gguf_dir + "/no-such-file.gguf");
    REQUIRE_FALSE(t);
    CHECK(t.error().to_string().find("no-such-file.gguf") != std::string::npos);
  }
}

TEST_CASE("gguf tokenizer: a model file with tok512 as its tokenizer equals tok512.bin") {
  const auto loaded = forma::text::load_gguf_tokenizer(gguf_dir + "/models/llama_tiny_q8_0_tok512.gguf").value();
  const Tokenizer& gguf = std::get<Tokenizer>(loaded);
  const Tokenizer& bin = text_test::tok512();
  REQUIRE(gguf.vocab_size() == bin.vocab_size());
  for (std::int32_t id = 3; id < static_cast<std::int32_t>(bin.vocab_size()); ++id) {
    CHECK_MESSAGE(gguf.piece(id) == bin.piece(id), "token " << id);
    CHECK(gguf.score(id) == bin.score(id));
  }
  Tokenizer sp = bin;
  sp.set_mode(forma::text::EncodeMode::sentencepiece);
  for (const std::string_view text : {"Once upon a time", "Lily and Tom 🦙\n", " two  spaces "}) {
    CHECK(gguf.encode(text, true, false).value() == sp.encode(text, true, false).value());
  }
}

TEST_CASE("gguf tokenizer: Llama 3's and Qwen2's pre-tokenizers split as Python's regex module does") {
  // tests/data/bpe/pretokenizer_splits.tsv (scripts/fixtures/make_pretokenizer_splits.py): text in
  // hex, then the byte lengths of the pieces of each pattern.
  std::ifstream in(FORMA_TEST_DATA_DIR "/bpe/pretokenizer_splits.tsv");
  REQUIRE(in.good());
  std::string line;
  std::getline(in, line);  // header
  std::size_t rows = 0, equal_llama3 = 0, equal_qwen2 = 0;
  const auto split = [](std::string_view text, std::size_t max_digits) {
    std::vector<std::size_t> lengths;
    for (std::size_t start = 0; start < text.size();) {
      const std::size_t end = forma::text::bpe_detail::next_piece_llama3(text, start, max_digits);
      REQUIRE(end > start);
      lengths.push_back(end - start);
      start = end;
    }
    return lengths;
  };
  const auto lengths_of = [](const std::string& field) {
    std::vector<std::size_t> lengths;
    std::istringstream items(field);
    for (std::size_t n = 0; items >> n;) lengths.push_back(n);
    return lengths;
  };
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::istringstream cells(line);
    for (std::string cell; std::getline(cells, cell, '\t');) fields.push_back(cell);
    fields.resize(3);
    std::string text;
    for (std::size_t i = 0; i + 1 < fields[0].size(); i += 2) {
      text.push_back(static_cast<char>(std::stoi(fields[0].substr(i, 2), nullptr, 16)));
    }
    INFO("text (hex): " << fields[0]);
    const auto llama3 = split(text, 3), qwen2 = split(text, 1);
    CHECK(llama3 == lengths_of(fields[1]));
    CHECK(qwen2 == lengths_of(fields[2]));
    equal_llama3 += llama3 == lengths_of(fields[1]) ? 1 : 0;
    equal_qwen2 += qwen2 == lengths_of(fields[2]) ? 1 : 0;
    ++rows;
  }
  CHECK(rows > 1000);
  MESSAGE("pre-tokenizer splits equal to Python regex: llama3 " << equal_llama3 << " of " << rows << ", qwen2 "
                                                                 << equal_qwen2 << " of " << rows);
}

TEST_CASE("gguf tokenizer: tokenizer.ggml.pre chooses the split: gpt-2, llama-bpe (with ignore_merges) and qwen2") {
  // GPT-2's 256 byte tokens, then "12", "123", "Ġabc" (no merge makes "Ġabc": only ignore_merges
  // can produce it) and the merges "1 2", "12 3".
  std::vector<std::string> tokens;
  for (unsigned b = 0; b < 256; ++b) {
    std::string c;
    forma::io::json::append_utf8(c, forma::text::bpe_detail::byte_map.to_char[b]);
    tokens.push_back(c);
  }
  for (const char* t : {"12", "123", "\xC4\xA0" "abc"}) tokens.emplace_back(t);
  const auto load = [&](const char* pre) {
    GgufBuilder b;
    b.string("tokenizer.ggml.model", "gpt2").string("tokenizer.ggml.pre", pre);
    b.strings("tokenizer.ggml.tokens", tokens).strings("tokenizer.ggml.merges", {"1 2", "12 3"});
    const std::string bytes = b.bytes();
    auto file = forma::io::gguf::File::from_bytes(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()));
    REQUIRE(file);
    return std::get<BpeTokenizer>(forma::text::load_gguf_tokenizer(*file).value());
  };
  const BpeTokenizer gpt2_split = load("gpt-2"), llama3 = load("llama-bpe"), qwen2 = load("qwen2");
  const std::int32_t t12 = 256, t123 = 257, t_abc = 258;
  const std::int32_t one = gpt2_split.token_to_id("1"), four = gpt2_split.token_to_id("4");
  const std::int32_t space = gpt2_split.token_to_id("\xC4\xA0"), la = gpt2_split.token_to_id("a"),
                     lb = gpt2_split.token_to_id("b"), lc = gpt2_split.token_to_id("c");
  // GPT-2: " ?\p{N}+" keeps "1234" whole (then merges 12, 123); " abc" is bytes (no merges).
  CHECK(gpt2_split.encode("1234 abc") == Ids{t123, four, space, la, lb, lc});
  // Llama 3: "123" "4", and " abc" is itself a token (ignore_merges).
  CHECK(llama3.encode("1234 abc") == Ids{t123, four, t_abc});
  // Qwen2: one digit per piece.
  CHECK(qwen2.encode("1234 abc") == Ids{one, one + 1, one + 2, four, space, la, lb, lc});
  (void)t12;
  for (const BpeTokenizer* t : {&gpt2_split, &llama3, &qwen2}) CHECK(t->decode(t->encode("1234 abc")).value() == "1234 abc");
}
