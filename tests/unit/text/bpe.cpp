// Unit tests: GPT-2's byte-level BPE tokenizer against three oracles — Hugging Face tokenizers
// 0.23.3 (1,058 strings, encode with and without special tokens, decode; two toy tokenizer.json
// files for the options GPT-2 does not use), OpenAI's reference encoder (gpt-3-encoder's 20
// vectors) and llama.cpp's GPT-2 vocabulary test (46 cases) — through all three file forms, plus
// streaming decode, ids out of range and hostile files.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <forma/io/json.hpp>
#include <forma/text/bpe.hpp>

#include "test_support.hpp"

using forma::text::BpeTokenizer;
using Ids = std::vector<std::int32_t>;

namespace {

const std::string data_dir = FORMA_TEST_DATA_DIR "/bpe";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  return {std::istreambuf_iterator<char>(in), {}};
}

Ids parse_ids(const std::string& field, char separator = ' ') {
  Ids ids;
  std::string item;
  std::istringstream in(field);
  while (std::getline(in, item, separator)) {
    if (!item.empty()) ids.push_back(static_cast<std::int32_t>(std::stol(item)));
  }
  return ids;
}

std::string from_hex(const std::string& hex) {
  std::string text;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    text.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return text;
}

std::string to_hex(const std::string& text) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  for (const char c : text) {
    hex.push_back(digits[static_cast<unsigned char>(c) >> 4]);
    hex.push_back(digits[static_cast<unsigned char>(c) & 15]);
  }
  return hex;
}

// The tab-separated fields of every line that is not a comment.
std::vector<std::vector<std::string>> read_tsv(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1) {
      fields.push_back(line.substr(start, tab - start));
    }
    fields.push_back(line.substr(start));
    rows.push_back(std::move(fields));
  }
  return rows;
}

const BpeTokenizer& load_once(const forma::Result<BpeTokenizer>& result) {
  REQUIRE_MESSAGE(result, forma::testing::error_text(result));
  return *result;
}

// GPT-2 from each of the three file forms.
const BpeTokenizer& gpt2_openai() {
  static const auto t = BpeTokenizer::load(data_dir + "/openai");
  return load_once(t);
}
const BpeTokenizer& gpt2_hf_files() {
  static const auto t = BpeTokenizer::load_files(data_dir + "/hf/vocab.json", data_dir + "/hf/merges.txt");
  return load_once(t);
}
const BpeTokenizer& gpt2_tokenizer_json() {
  static const auto t = BpeTokenizer::load(data_dir + "/tokenizer.json");
  return load_once(t);
}

struct HfCase {
  std::string text;
  Ids ids, ids_special_as_text;
  std::string decoded;
  std::string source, note;
};

const std::vector<HfCase>& hf_cases() {
  static const std::vector<HfCase> cases = [] {
    std::vector<HfCase> read;
    for (const auto& f : read_tsv(data_dir + "/hf_gpt2_vectors.tsv")) {
      REQUIRE(f.size() == 6);
      read.push_back({from_hex(f[0]), parse_ids(f[1]), parse_ids(f[2]), from_hex(f[3]), f[4], f[5]});
    }
    return read;
  }();
  return cases;
}

// A few strings for quick checks of a loaded tokenizer.
bool encode_check(const BpeTokenizer& t, const std::string& text, const Ids& expected) {
  const Ids got = t.encode(text);
  INFO("text: " << text);
  CHECK(got == expected);
  return got == expected;
}

std::string error_of(const forma::Result<BpeTokenizer>& r) {
  return r ? std::string("(loaded)") : r.error().to_string();
}

}  // namespace

TEST_CASE("bpe: GPT-2 loads from encoder.json + vocab.bpe, vocab.json + merges.txt and tokenizer.json alike") {
  const BpeTokenizer* forms[] = {&gpt2_openai(), &gpt2_hf_files(), &gpt2_tokenizer_json()};
  for (const BpeTokenizer* t : forms) {
    CHECK(t->vocab_size() == 50257);
    CHECK(t->merge_count() == 50000);
    CHECK(t->eos_id() == 50256);
    CHECK(t->bos_id() == 50256);
    CHECK(t->is_special(50256));
    CHECK_FALSE(t->is_special(262));
    CHECK(t->token_to_id("Ġthe") == 262);
    CHECK(t->token_to_id("!") == 0);
    CHECK(t->token_to_id("<|endoftext|>") == 50256);
    CHECK(t->token_to_id("no such token") == -1);
    CHECK(t->id_to_token(262).value() == "Ġthe");
    CHECK(t->token_bytes(262).value() == " the");
    CHECK(t->token_bytes(198).value() == "\n");
    CHECK(t->token_bytes(50256).value() == "<|endoftext|>");
    REQUIRE(t->added_tokens().size() == 1);
    CHECK(t->added_tokens()[0].content == "<|endoftext|>");
    CHECK(t->added_tokens()[0].special);
  }
  // The same token and bytes for every id.
  std::size_t same = 0;
  for (std::int32_t id = 0; id < 50257; ++id) {
    const auto a = gpt2_openai().id_to_token(id).value(), b = gpt2_hf_files().id_to_token(id).value(),
               c = gpt2_tokenizer_json().id_to_token(id).value();
    same += (a == b && b == c && gpt2_openai().token_bytes(id).value() == gpt2_tokenizer_json().token_bytes(id).value())
                ? 1
                : 0;
  }
  CHECK(same == 50257);
  // Every byte is its own token, and ids 0-255 are exactly the 256 bytes.
  std::vector<bool> bytes(256, false);
  for (std::int32_t id = 0; id < 256; ++id) {
    const auto b = gpt2_openai().token_bytes(id).value();
    REQUIRE(b.size() == 1);
    bytes[static_cast<unsigned char>(b[0])] = true;
  }
  CHECK(std::count(bytes.begin(), bytes.end(), true) == 256);
}

TEST_CASE("bpe: a directory: tokenizer.json first, then vocab.json + merges.txt, then encoder.json + vocab.bpe") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("forma_bpe_dir_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto link = [&](const std::string& from, const char* name) {
    fs::create_symlink(fs::absolute(data_dir + "/" + from), dir / name);
  };
  const auto write = [&](const char* name, const std::string& text) { std::ofstream(dir / name) << text; };
  // Only OpenAI's files: they load.
  link("openai/encoder.json", "encoder.json");
  link("openai/vocab.bpe", "vocab.bpe");
  auto openai = BpeTokenizer::load(dir.string());
  REQUIRE_MESSAGE(openai, error_of(openai));
  encode_check(*openai, "Hello, world!", {15496, 11, 995, 0});
  // A vocab.json + merges.txt pair is preferred (this one is broken, so the error shows it was read).
  write("vocab.json", "{\"a\": 0, \"b\": 1, \"ab\": 3}");
  write("merges.txt", "a b\n");
  auto hf = BpeTokenizer::load(dir.string());
  REQUIRE_FALSE(hf);
  CHECK(hf.error().to_string() == (dir / "vocab.json").string() +
                                      ": token \"ab\" has id 3, but the 3 tokens must have the ids 0 to 2");
  // vocab.json without merges.txt is not a pair: OpenAI's files again.
  fs::remove(dir / "merges.txt");
  CHECK(BpeTokenizer::load(dir.string()));
  // tokenizer.json comes first.
  write("tokenizer.json", "{\"model\": 1}");
  auto json = BpeTokenizer::load(dir.string());
  REQUIRE_FALSE(json);
  CHECK(json.error().to_string() == (dir / "tokenizer.json").string() + ": model is not an object");
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto empty = BpeTokenizer::load(dir.string());
  REQUIRE_FALSE(empty);
  CHECK(empty.error().to_string() ==
        dir.string() + ": no tokenizer.json, vocab.json + merges.txt, or encoder.json + vocab.bpe in the directory");
  fs::remove_all(dir);
  // The test data directory holds tokenizer.json.
  auto data = BpeTokenizer::load(data_dir);
  REQUIRE_MESSAGE(data, error_of(data));
  encode_check(*data, "hello world", {31373, 995});
}

TEST_CASE("bpe: OpenAI's reference encoder: every vector of gpt2_encode_vectors.json") {
  const std::string text = read_file(data_dir + "/gpt2_encode_vectors.json");
  forma::io::json::Reader r(text);
  REQUIRE(r.begin_object());
  std::string key;
  std::size_t cases = 0, passed = 0;
  while (r.next_key(key).value()) {
    if (key != "cases") {
      REQUIRE(r.string());
      continue;
    }
    REQUIRE(r.begin_array());
    while (r.next_element().value()) {
      REQUIRE(r.begin_object());
      std::string case_text;
      Ids ids;
      while (r.next_key(key).value()) {
        if (key == "text") {
          case_text = r.string().value();
        } else if (key == "ids") {
          REQUIRE(r.begin_array());
          while (r.next_element().value()) ids.push_back(static_cast<std::int32_t>(*r.number().value().integer));
        } else {
          REQUIRE(r.boolean());
        }
      }
      ++cases;
      INFO("text: " << case_text);
      // The reference encoder treats <|endoftext|> as text.
      for (const BpeTokenizer* t : {&gpt2_openai(), &gpt2_hf_files(), &gpt2_tokenizer_json()}) {
        const Ids got = t->encode(case_text, {.allow_special = false});
        CHECK(got == ids);
        CHECK(t->decode(got).value() == case_text);
        if (case_text.find("<|endoftext|>") == std::string::npos) CHECK(t->encode(case_text) == ids);
      }
      passed += gpt2_openai().encode(case_text, {.allow_special = false}) == ids ? 1 : 0;
    }
  }
  REQUIRE(r.finish());
  CHECK(cases == 20);
  CHECK(passed == cases);
  MESSAGE("gpt2_encode_vectors.json: " << passed << " of " << cases << " vectors equal");
}

TEST_CASE("bpe: llama.cpp's GPT-2 vocabulary test: every case of ggml-vocab-gpt-2.gguf.inp/.out") {
  // .inp: the cases, each followed by "\n__ggml_vocab_test__\n"; .out: one line of ids per case.
  const std::string inp = read_file(data_dir + "/ggml-vocab-gpt-2.gguf.inp");
  const std::string marker = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  for (std::size_t start = 0; start < inp.size();) {
    const std::size_t end = inp.find(marker, start);
    REQUIRE(end != std::string::npos);
    inputs.push_back(inp.substr(start, end - start));
    start = end + marker.size();
  }
  std::ifstream out(data_dir + "/ggml-vocab-gpt-2.gguf.out");
  std::vector<Ids> outputs;
  for (std::string line; std::getline(out, line);) outputs.push_back(parse_ids(line));
  REQUIRE(inputs.size() == 46);
  REQUIRE(outputs.size() == inputs.size());
  std::size_t passed = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    INFO("case " << i << ": " << inputs[i]);
    for (const BpeTokenizer* t : {&gpt2_openai(), &gpt2_hf_files(), &gpt2_tokenizer_json()}) {
      const Ids got = t->encode(inputs[i]);
      CHECK(got == outputs[i]);
      CHECK(t->decode(got).value() == inputs[i]);
    }
    passed += gpt2_openai().encode(inputs[i]) == outputs[i] ? 1 : 0;
  }
  CHECK(passed == 46);
  MESSAGE("llama.cpp ggml-vocab-gpt-2: " << passed << " of " << inputs.size() << " cases equal");
}

TEST_CASE("bpe: Hugging Face tokenizers: the same ids and text on every fixture string, all three file forms") {
  const auto& cases = hf_cases();
  std::size_t own = 0, sp = 0, replaced = 0, with_special = 0;
  for (const auto& c : cases) {
    own += c.source == "own" ? 1 : 0;
    sp += c.source == "sp" ? 1 : 0;
    replaced += c.note == "replaced" ? 1 : 0;
    with_special += c.text.find("<|endoftext|>") != std::string::npos ? 1 : 0;
  }
  CHECK(own >= 300);
  CHECK(sp == 426);  // every string of tests/data/tokenizer/sentencepiece_parity.tsv
  CHECK(replaced >= 10);
  CHECK(with_special >= 20);
  std::size_t encoded = 0, plain = 0, decoded = 0, round_trips = 0;
  const BpeTokenizer* forms[] = {&gpt2_openai(), &gpt2_hf_files(), &gpt2_tokenizer_json()};
  for (const auto& c : cases) {
    INFO("text (hex): " << to_hex(c.text) << " [" << c.source << "]");
    const Ids ids = gpt2_openai().encode(c.text);
    const Ids ids_plain = gpt2_openai().encode(c.text, {.allow_special = false});
    CHECK(ids == c.ids);
    CHECK(ids_plain == c.ids_special_as_text);
    for (const BpeTokenizer* t : forms) {
      CHECK(t->encode(c.text) == ids);
      CHECK(t->encode(c.text, {.allow_special = false}) == ids_plain);
    }
    const auto text = gpt2_tokenizer_json().decode(c.ids);
    REQUIRE(text);
    CHECK(*text == c.decoded);
    CHECK(*text == c.text);  // HF round-trips every (valid UTF-8) string
    CHECK(gpt2_tokenizer_json().decode(ids_plain).value() == c.text);
    encoded += ids == c.ids ? 1 : 0;
    plain += ids_plain == c.ids_special_as_text ? 1 : 0;
    decoded += *text == c.decoded ? 1 : 0;
    round_trips += *text == c.text ? 1 : 0;
  }
  CHECK(encoded == cases.size());
  CHECK(plain == cases.size());
  CHECK(decoded == cases.size());
  MESSAGE("HF tokenizers 0.23.3 GPT-2: " << encoded << " of " << cases.size() << " strings encode equal ("
                                         << own << " own, " << sp << " from the SentencePiece corpus), " << plain
                                         << " equal with special tokens as text, " << decoded << " decode equal, "
                                         << round_trips << " round-trip");
}

TEST_CASE("bpe: decode equals HF's on id sequences that break UTF-8, and so does the streaming decoder") {
  const auto rows = read_tsv(data_dir + "/hf_gpt2_decode.tsv");
  CHECK(rows.size() >= 150);
  const BpeTokenizer& t = gpt2_tokenizer_json();
  std::size_t equal = 0, with_replacement = 0;
  for (const auto& f : rows) {
    REQUIRE(f.size() == 2);
    const Ids ids = parse_ids(f[0]);
    const std::string expected = from_hex(f[1]);
    INFO("ids: " << f[0]);
    const std::string text = t.decode(ids).value();
    CHECK(text == expected);
    auto stream = t.decoder();
    std::string streamed;
    for (const std::int32_t id : ids) REQUIRE(stream.next(id, streamed));
    stream.finish(streamed);
    CHECK(streamed == expected);
    equal += text == expected && streamed == expected ? 1 : 0;
    with_replacement += expected.find("\xEF\xBF\xBD") != std::string::npos ? 1 : 0;
  }
  CHECK(equal == rows.size());
  CHECK(with_replacement >= 50);
  MESSAGE("HF decode: " << equal << " of " << rows.size() << " id sequences equal (" << with_replacement
                        << " with U+FFFD), streamed and whole");
}

TEST_CASE("bpe: the toy tokenizer.json files: add_prefix_space, lstrip/rstrip, non-special added tokens, unk, string merges") {
  const auto prefix = BpeTokenizer::load(data_dir + "/toy/prefix.json");
  const auto unk = BpeTokenizer::load(data_dir + "/toy/unk.json");
  REQUIRE_MESSAGE(prefix, error_of(prefix));
  REQUIRE_MESSAGE(unk, error_of(unk));
  CHECK(unk->token_to_id("<unk>") >= 0);
  CHECK(prefix->added_tokens().size() == 3);
  CHECK_FALSE(prefix->is_special(prefix->token_to_id("<sep>")));
  CHECK(prefix->is_special(prefix->token_to_id("[MASK]")));
  std::size_t passed = 0;
  const auto rows = read_tsv(data_dir + "/toy/vectors.tsv");
  for (const auto& f : rows) {
    REQUIRE(f.size() == 4);
    const BpeTokenizer& t = f[0] == "prefix.json" ? *prefix : *unk;
    const std::string text = from_hex(f[1]);
    INFO(f[0] << ", text: " << text);
    const Ids ids = t.encode(text);
    CHECK(ids == parse_ids(f[2]));
    CHECK(t.decode(ids).value() == from_hex(f[3]));
    passed += ids == parse_ids(f[2]) && t.decode(ids).value() == from_hex(f[3]) ? 1 : 0;
  }
  CHECK(passed == rows.size());
  MESSAGE("HF toy tokenizers: " << passed << " of " << rows.size() << " vectors equal");
  // The non-special <sep> is matched even when special tokens are not.
  const Ids sep = prefix->encode("a<sep>b[MASK]", {.allow_special = false});
  CHECK(std::count(sep.begin(), sep.end(), prefix->token_to_id("<sep>")) == 1);
  CHECK(std::count(sep.begin(), sep.end(), prefix->token_to_id("[MASK]")) == 0);
}

TEST_CASE("bpe: special tokens: matched by default as HF does, as text on request, skipped in decode on request") {
  const BpeTokenizer& t = gpt2_openai();
  CHECK(t.encode("a<|endoftext|>b") == Ids{64, 50256, 65});
  CHECK(t.encode("a<|endoftext|>b", {.allow_special = false}) == Ids{64, 27, 91, 437, 1659, 5239, 91, 29, 65});
  CHECK(t.encode("<|endoftext|><|endoftext|>") == Ids{50256, 50256});
  CHECK(t.encode("<|endoftext") == t.encode("<|endoftext", {.allow_special = false}));
  CHECK(t.decode(Ids{64, 50256, 65}).value() == "a<|endoftext|>b");
  CHECK(t.decode(Ids{64, 50256, 65}, {.skip_special = true}).value() == "ab");
  CHECK(t.decode_bytes(Ids{50256, 64}, {.skip_special = true}).value() == "a");
  // No BOS or EOS is added.
  CHECK(t.encode("").empty());
  CHECK(t.encode("hello world") == Ids{31373, 995});
}

TEST_CASE("bpe: streaming decode holds back a character split across tokens until it is complete") {
  const BpeTokenizer& t = gpt2_openai();
  const Ids hug = t.encode("🤗");  // F0 9F A4 97 in three byte-level tokens
  REQUIRE(hug == Ids{8582, 97, 245});
  auto d = t.decoder();
  CHECK(d.next(8582).value().empty());
  CHECK(d.pending() == 2);
  CHECK(d.next(97).value().empty());
  CHECK(d.pending() == 3);
  // A bad id is an Error and changes nothing.
  const auto bad = d.next(50257);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == forma::errc::out_of_range);
  CHECK(bad.error().message == "decode: token id 50257 is out of range for a vocabulary of 50257");
  CHECK(d.next(-1).error().code == forma::errc::out_of_range);
  CHECK(d.pending() == 3);
  CHECK(d.next(245).value() == "🤗");
  CHECK(d.pending() == 0);
  CHECK(d.finish().empty());
  // Text around it comes out at once.
  const Ids mixed = t.encode("Hi 🤗!");
  std::vector<std::string> pieces;
  auto e = t.decoder();
  for (const std::int32_t id : mixed) pieces.push_back(e.next(id).value());
  std::string joined;
  for (const auto& p : pieces) joined += p;
  CHECK(joined == "Hi 🤗!");
  CHECK(pieces.front() == "Hi");
  CHECK(pieces.back() == "!");
  // An unfinished character at the end is one U+FFFD; a broken one, one per maximal subpart.
  auto f = t.decoder();
  CHECK(f.next(8582).value().empty());
  CHECK(f.finish() == "\xEF\xBF\xBD");
  auto g = t.decoder();
  CHECK(g.next(8582).value().empty());
  CHECK(g.next(64).value() == "\xEF\xBF\xBD" "a");
  // Special tokens skipped by the decoder do not break a held character.
  auto h = t.decoder({.skip_special = true});
  CHECK(h.next(8582).value().empty());
  CHECK(h.next(50256).value().empty());
  CHECK(h.next(97).value().empty());
  CHECK(h.next(245).value() == "🤗");
  // decode() and decode_bytes() refuse bad ids too.
  CHECK(t.decode(Ids{64, 50257}).error().code == forma::errc::out_of_range);
  CHECK(t.decode_bytes(Ids{-5}).error().code == forma::errc::out_of_range);
  CHECK(t.id_to_token(50257).error().code == forma::errc::out_of_range);
  CHECK(t.token_bytes(-1).error().code == forma::errc::out_of_range);
  CHECK_FALSE(t.is_special(-1));
  CHECK_FALSE(t.is_special(99999));
}

TEST_CASE("bpe: any bytes round-trip through decode_bytes, malformed UTF-8 included") {
  // The SentencePiece corpus, raw (HF saw its malformed strings with U+FFFD instead).
  const auto rows = read_tsv(FORMA_TEST_DATA_DIR "/tokenizer/sentencepiece_parity.tsv");
  REQUIRE(rows.size() == 426);
  const BpeTokenizer& t = gpt2_openai();
  std::size_t round_trips = 0, malformed = 0;
  for (const auto& f : rows) {
    const std::string raw = from_hex(f[0]);
    INFO("text (hex): " << f[0]);
    const Ids ids = t.encode(raw);
    const std::string back = t.decode_bytes(ids).value();
    CHECK(back == raw);
    round_trips += back == raw ? 1 : 0;
    if (f[5].find("malformed") != std::string::npos) {
      ++malformed;
      CHECK(t.decode(ids).value().find("\xEF\xBF\xBD") != std::string::npos);
    }
  }
  CHECK(round_trips == 426);
  CHECK(malformed >= 10);
  // Every byte value alone and in runs; a malformed byte joins the punctuation beside it.
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    CHECK(t.decode_bytes(t.encode(one)).value() == one);
    CHECK(t.decode_bytes(t.encode("a" + one + one + "b")).value() == "a" + one + one + "b");
  }
  CHECK(t.encode("a\xFF!b") == Ids{64, 187, 0, 65});  // 187: the byte 0xFF
}

TEST_CASE("bpe: pre-split corner cases") {
  const BpeTokenizer& t = gpt2_openai();
  // Contractions are lower case only; a curly apostrophe is punctuation.
  CHECK(t.encode("it's") == Ids{270, 338});
  CHECK(t.encode("IT'S") == Ids{2043, 6, 50});
  // The last space of a run goes with the next word; a run at the end stays whole.
  CHECK(t.encode("a  b") == Ids{64, 220, 275});
  CHECK(t.encode("a  ") == Ids{64, 220, 220});
  // Long runs of one class are one piece each, merged without quadratic work.
  const std::string letters(100000, 'a');
  const Ids ids = t.encode(letters);
  CHECK(t.decode(ids).value() == letters);
  CHECK(ids.size() == letters.size() / 4);  // "aaaa" (24794) each
}

TEST_CASE("bpe: hostile files are one-line errors that name the file") {
  const auto json_files = [](const std::string& vocab, const std::string& merges) {
    return BpeTokenizer::parse_files(vocab, merges);
  };
  const auto one_line = [](const forma::Result<BpeTokenizer>& r) {
    return !r && r.error().to_string().find('\n') == std::string::npos;
  };
  struct Case {
    forma::Result<BpeTokenizer> result;
    std::string expected;
  };
  const std::string bytes_vocab = [] {
    // A valid vocabulary of the 256 byte tokens plus "ab", for merges tests.
    std::string v = "{";
    for (unsigned b = 0; b < 256; ++b) {
      std::string c;
      forma::io::json::append_utf8(c, forma::text::bpe_detail::byte_map.to_char[b]);
      v += forma::io::json::quote(c) + ": " + std::to_string(b) + ", ";
    }
    return v + "\"ab\": 256}";
  }();
  Case cases[] = {
      {json_files("{\"a\": 0, \"b\": 1", ""), "vocab.json: invalid JSON at byte 15: unexpected end of input"},
      {json_files("", ""), "vocab.json: invalid JSON at byte 0: unexpected end of input"},
      {json_files("[1, 2]", ""), "vocab.json: the vocabulary is not a JSON object"},
      {json_files("{}", ""), "vocab.json: the vocabulary is empty"},
      {json_files("{\"a\": 0, \"a\": 1}", ""), "vocab.json: duplicate token \"a\" (ids 0 and 1)"},
      {json_files("{\"a\": 0, \"b\": 0}", ""), "vocab.json: tokens \"a\" and \"b\" have the same id 0"},
      {json_files("{\"a\": 0, \"b\": 2}", ""),
       "vocab.json: token \"b\" has id 2, but the 2 tokens must have the ids 0 to 1"},
      {json_files("{\"a\": -1}", ""), "vocab.json: token \"a\" has id -1, not an integer from 0 to 2147483647"},
      {json_files("{\"a\": 1.5}", ""), "vocab.json: token \"a\" has id 1.5, not an integer from 0 to 2147483647"},
      {json_files("{\"a\": 99999999999}", ""),
       "vocab.json: token \"a\" has id 99999999999, not an integer from 0 to 2147483647"},
      {json_files("{\"a\": \"x\"}", ""),
       "vocab.json: token \"a\": the id is not a number (invalid JSON at byte 6: expected a number)"},
      {json_files("{\"a\": 0} x", ""), "vocab.json: invalid JSON at byte 9: unexpected text after the JSON value"},
      {json_files(bytes_vocab, "#version: 0.2\na c\n"),
       "merges.txt: line 2: the merge \"a c\" makes \"ac\", which is not in the vocabulary"},
      {json_files(bytes_vocab, "a b\nx \xC4\xA0\xC4\xA0\n"),
       "merges.txt: line 2: the merge \"x ĠĠ\" names \"ĠĠ\", which is not in the vocabulary"},
      {json_files(bytes_vocab, "a b\na b\n"), "merges.txt: line 2: duplicate merge \"a b\" (also line 1)"},
      {json_files(bytes_vocab, "a b c\n"), "merges.txt: line 1: \"a b c\" is not two tokens separated by one space"},
      {json_files(bytes_vocab, "ab\n"), "merges.txt: line 1: \"ab\" is not two tokens separated by one space"},
      {json_files(bytes_vocab, "a b\n\nb a\n"), "merges.txt: line 2: \"\" is not two tokens separated by one space"},
      {json_files(bytes_vocab, " a\n"), "merges.txt: line 1: \" a\" is not two tokens separated by one space"},
      {BpeTokenizer::parse_tokenizer_json("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []"),
       "invalid JSON at byte 57: unexpected end of input"},
      {BpeTokenizer::parse_tokenizer_json("[]"), "not a tokenizer.json: the file is not a JSON object"},
      {BpeTokenizer::parse_tokenizer_json("{}"), "not a tokenizer.json: no \"model\""},
      {BpeTokenizer::parse_tokenizer_json("{\"model\": {\"vocab\": {\"a\": 0}}, \"model\": 1}"),
       "invalid JSON at byte 38: duplicate key \"model\""},
      {BpeTokenizer::parse_tokenizer_json("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}"),
       "model of type \"WordPiece\" is not supported (only BPE)"},
      {BpeTokenizer::parse_tokenizer_json("{\"model\": {\"vocab\": {\"a\": 0}}}"),
       "no pre_tokenizer: forma reads byte-level BPE (pre_tokenizer ByteLevel)"},
      {BpeTokenizer::parse_tokenizer_json(
           "{\"normalizer\": {\"type\": \"NFC\"}, \"model\": {\"vocab\": {\"a\": 0}}}"),
       "normalizer: a normalizer is not supported (only null)"},
      {BpeTokenizer::parse_tokenizer_json("{\"pre_tokenizer\": {\"type\": \"Metaspace\"}, \"model\": {\"vocab\": {}}}"),
       "pre_tokenizer of type \"Metaspace\" is not supported (only ByteLevel)"},
      {BpeTokenizer::parse_tokenizer_json("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"vocab\": "
                                          "{\"a\": 0, \"b\": 1}, \"merges\": [[\"a\", \"c\"]]}}"),
       "model.merges[0]: the merge \"a c\" names \"c\", which is not in the vocabulary"},
      {BpeTokenizer::parse_tokenizer_json("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"vocab\": "
                                          "{\"a\": 0, \"b\": 1}, \"merges\": [[\"a\"]]}}"),
       "model.merges[0] is not a pair of non-empty strings"},
      {BpeTokenizer::parse_tokenizer_json("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"vocab\": "
                                          "{\"a\": 0, \"b\": 1}, \"merges\": [7]}}"),
       "model.merges[0] is not a string or an array"},
      {BpeTokenizer::parse_tokenizer_json("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"vocab\": "
                                          "{\"a\": 0}, \"byte_fallback\": true}}"),
       "model.byte_fallback is not supported"},
      {BpeTokenizer::parse_tokenizer_json("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"vocab\": "
                                          "{\"a\": 0}, \"dropout\": 0.1}}"),
       "model.dropout is not supported (only null)"},
      {BpeTokenizer::parse_tokenizer_json("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"vocab\": "
                                          "{\"a\": 0}, \"continuing_subword_prefix\": \"##\"}}"),
       "model: continuing_subword_prefix and end_of_word_suffix are not supported"},
      {BpeTokenizer::parse_tokenizer_json("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"vocab\": "
                                          "{\"a\": 0}, \"unk_token\": \"<unk>\"}}"),
       "model.unk_token \"<unk>\" is not in the vocabulary"},
      {BpeTokenizer::parse_tokenizer_json("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"vocab\": "
                                          "{\"a\": 0}}, \"added_tokens\": [{\"id\": 5, \"content\": \"<x>\"}]}"),
       "added token \"<x>\" has id 5, leaving a gap: the next id is 1"},
      {BpeTokenizer::parse_tokenizer_json("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"vocab\": "
                                          "{\"a\": 0, \"b\": 1}}, \"added_tokens\": [{\"id\": 1, \"content\": \"<x>\"}]}"),
       "added token \"<x>\" has id 1, which is the vocabulary's \"b\""},
      {BpeTokenizer::parse_tokenizer_json("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"vocab\": "
                                          "{\"a\": 0, \"b\": 1}}, \"added_tokens\": [{\"id\": 2, \"content\": \"a\"}]}"),
       "added token \"a\" has id 2, the vocabulary gives it 0"},
      {BpeTokenizer::parse_tokenizer_json(
           "{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"vocab\": {\"a\": 0}}, \"added_tokens\": "
           "[{\"id\": 1, \"content\": \"<x>\"}, {\"id\": 1, \"content\": \"<y>\"}]}"),
       "added_tokens[1] \"<y>\" repeats the id or content of \"<x>\""},
      {BpeTokenizer::parse_tokenizer_json("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"vocab\": "
                                          "{\"a\": 0}}, \"added_tokens\": [{\"id\": 1, \"content\": \"\"}]}"),
       "added token 1 has empty content"},
      {BpeTokenizer::parse_tokenizer_json(
           "{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"vocab\": {\"a\": 0}}, \"added_tokens\": "
           "[{\"id\": 1, \"content\": \"<x>\", \"single_word\": true}]}"),
       "added_tokens[0] \"<x>\": single_word is not supported"},
      {BpeTokenizer::parse_tokenizer_json("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"vocab\": "
                                          "{\"a\": 0}}, \"added_tokens\": [{\"content\": \"<x>\"}]}"),
       "added_tokens[0] has no id"},
      {BpeTokenizer::parse_tokenizer_json("{\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"use_regex\": 1}, "
                                          "\"model\": {\"vocab\": {\"a\": 0}}}"),
       "pre_tokenizer.use_regex is not true or false"},
      {BpeTokenizer::parse_tokenizer_json("{\"model\": {\"vocab\": {\"a\": 0}, \"vocab\": {\"b\": 0}}}"),
       "model: duplicate key \"vocab\""},
      {BpeTokenizer::parse_tokenizer_json(std::string(100, '[') + std::string(100, ']')),
       "not a tokenizer.json: the file is not a JSON object"},
      {BpeTokenizer::parse_tokenizer_json("{\"x\": " + std::string(100, '[') + std::string(100, ']') + "}"),
       "invalid JSON at byte 69: nested deeper than 64 levels"},
  };
  for (const Case& c : cases) {
    INFO("expected: " << c.expected);
    REQUIRE_FALSE(c.result);
    CHECK(c.result.error().to_string() == c.expected);
    CHECK(one_line(c.result));
  }
  // A missing file and a truncated copy of the real ones name the file.
  const auto missing = BpeTokenizer::load("/nonexistent/tokenizer.json");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().to_string() == "/nonexistent/tokenizer.json: cannot open: No such file or directory");
  const auto missing_merges = BpeTokenizer::load_files(data_dir + "/openai/encoder.json", "/nonexistent/vocab.bpe");
  CHECK(error_of(missing_merges) == "/nonexistent/vocab.bpe: cannot open: No such file or directory");
  const std::string path = "forma_bpe_truncated_tokenizer.json";
  std::ofstream(path, std::ios::binary) << read_file(data_dir + "/tokenizer.json").substr(0, 700000);
  const auto truncated = BpeTokenizer::load(path);
  std::remove(path.c_str());
  REQUIRE_FALSE(truncated);
  CHECK(truncated.error().to_string().starts_with(path + ": invalid JSON at byte 700000: "));
  CHECK(one_line(truncated));
  const std::string merges_path = "forma_bpe_bad_merges.txt";
  std::ofstream(merges_path, std::ios::binary) << read_file(data_dir + "/openai/vocab.bpe") << "Ġthe zzq\n";
  const auto bad_merges = BpeTokenizer::load_files(data_dir + "/openai/encoder.json", merges_path);
  std::remove(merges_path.c_str());
  CHECK(error_of(bad_merges) == merges_path +
                                    ": line 50002: the merge \"Ġthe zzq\" names \"zzq\", which is not in the vocabulary");
}

TEST_CASE("bpe: a vocabulary without some byte tokens drops those bytes, as HF does without an unk token") {
  const auto t = BpeTokenizer::parse_tokenizer_json(
      "{\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"use_regex\": false}, \"model\": {\"type\": \"BPE\", "
      "\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2, \"Ġ\": 3}, \"merges\": [\"a b\"]}, \"decoder\": null}");
  REQUIRE_MESSAGE(t, error_of(t));
  CHECK(t->encode("ab ab") == Ids{2, 3, 2});  // no pre-split: one piece
  CHECK(t->encode("xaxbx") == Ids{2});
  CHECK(t->encode("") == Ids{});
  CHECK(t->vocab_size() == 4);
  CHECK(t->eos_id() == -1);
}
