// Unit tests: the llama2.c tokenizer against SentencePiece itself (both encode modes), decode
// parity with run.c (the published story, glibc's sscanf, <cctype>), and parse errors.
#include <doctest/doctest.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <forma/core/contract.hpp>
#include <forma/io/mmap.hpp>
#include <forma/text/tokenizer.hpp>

#include "runc_encode.hpp"
#include "test_support.hpp"
#include "text_support.hpp"

using forma::text::EncodeMode;
using forma::text::Tokenizer;
using text_test::llama2;
using text_test::tok512;

namespace {

struct parity_case {
  std::string text;
  std::vector<std::int32_t> llama2, tok512;
  bool llama2_round_trips = false, tok512_round_trips = false;
  std::string run_c_class;  // "-" where run.c's encode equals SentencePiece's
};

std::vector<std::int32_t> parse_ids(const std::string& field) {
  std::vector<std::int32_t> ids;
  std::istringstream in(field);
  for (std::int32_t id = 0; in >> id;) ids.push_back(id);
  return ids;
}

std::string from_hex(const std::string& hex) {
  std::string text;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    text.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return text;
}

const std::vector<parity_case>& parity_fixture() {
  static const std::vector<parity_case> cases = [] {
    std::ifstream in(FORMA_TEST_DATA_DIR "/tokenizer/sentencepiece_parity.tsv");
    REQUIRE(in.good());
    std::vector<parity_case> read;
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::vector<std::string> fields;
      std::size_t start = 0;
      for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1) {
        fields.push_back(line.substr(start, tab - start));
      }
      fields.push_back(line.substr(start));
      REQUIRE(fields.size() == 6);
      read.push_back({from_hex(fields[0]), parse_ids(fields[1]), parse_ids(fields[2]), fields[3] == "1",
                      fields[4] == "1", fields[5]});
    }
    return read;
  }();
  return cases;
}

// Llama 2's model does not normalize; tok512.model removes extra whitespace.
Tokenizer configured(const Tokenizer& base, EncodeMode mode, bool remove_extra_whitespaces) {
  Tokenizer t = base;
  t.set_mode(mode);
  t.set_remove_extra_whitespaces(remove_extra_whitespaces);
  return t;
}

std::string printable_hex(const std::string& text) {
  std::string out;
  char buffer[5];
  for (const char c : text) {
    std::snprintf(buffer, sizeof buffer, "%02x", static_cast<unsigned char>(c));
    out += buffer;
  }
  return out;
}

}  // namespace

TEST_CASE("the SentencePiece fixture is large and varied") {
  const auto& cases = parity_fixture();
  CHECK(cases.size() >= 400);
  std::size_t u2581 = 0, malformed = 0, empty = 0;
  for (const auto& c : cases) {
    u2581 += c.run_c_class.find("u2581") != std::string::npos ? 1 : 0;
    malformed += c.run_c_class.find("malformed") != std::string::npos ? 1 : 0;
    empty += c.text.empty() ? 1 : 0;
  }
  CHECK(u2581 >= 10);
  CHECK(malformed >= 10);
  CHECK(empty == 1);
}

TEST_CASE("sentencepiece mode equals SentencePiece on every fixture string, Llama 2 and tok512") {
  const Tokenizer l2 = configured(llama2(), EncodeMode::sentencepiece, false);
  const Tokenizer t512 = configured(tok512(), EncodeMode::sentencepiece, true);
  std::size_t matched = 0;
  for (const auto& c : parity_fixture()) {
    INFO("text (hex): " << printable_hex(c.text));
    const auto a = l2.encode(c.text).value();
    const auto b = t512.encode(c.text).value();
    CHECK(a == c.llama2);
    CHECK(b == c.tok512);
    matched += (a == c.llama2 && b == c.tok512) ? 1 : 0;
  }
  CHECK(matched == parity_fixture().size());
}

TEST_CASE("run.c mode equals SentencePiece except on the documented classes, where it differs") {
  const Tokenizer l2 = configured(llama2(), EncodeMode::run_c, false);
  const Tokenizer t512 = configured(tok512(), EncodeMode::run_c, true);
  std::size_t same = 0, different = 0;
  for (const auto& c : parity_fixture()) {
    INFO("text (hex): " << printable_hex(c.text) << ", class " << c.run_c_class);
    const auto a = l2.encode(c.text).value();
    const auto b = t512.encode(c.text).value();
    if (c.run_c_class == "-") {
      CHECK(a == c.llama2);
      CHECK(b == c.tok512);
      ++same;
    } else {
      // A literal U+2581 or a malformed byte reaches the ids as raw bytes in run.c, never in
      // SentencePiece: both vocabularies show the difference.
      CHECK(a != c.llama2);
      CHECK(b != c.tok512);
      ++different;
    }
  }
  CHECK(same > 350);
  CHECK(different > 50);
}

TEST_CASE("tok512 without remove_extra_whitespaces is run.c, which differs only around extra spaces") {
  // Class 3: without the normalization both modes keep every space, as run.c does.
  for (const auto& c : parity_fixture()) {
    if (c.run_c_class != "-") continue;
    const bool extra_spaces = c.text.starts_with(' ') || c.text.ends_with(' ') ||
                              c.text.find("  ") != std::string::npos;
    const auto raw = tok512().encode(c.text).value();
    INFO("text (hex): " << printable_hex(c.text));
    if (extra_spaces) {
      CHECK(raw != c.tok512);
    } else {
      CHECK(raw == c.tok512);
    }
  }
  CHECK(tok512().decode_all(tok512().encode("double  space").value()).value() == "double  space");
}

TEST_CASE("decode(encode(s)) == s wherever SentencePiece round-trips") {
  const Tokenizer l2 = configured(llama2(), EncodeMode::sentencepiece, false);
  const Tokenizer t512 = configured(tok512(), EncodeMode::sentencepiece, true);
  std::size_t round_trips = 0;
  for (const auto& c : parity_fixture()) {
    INFO("text (hex): " << printable_hex(c.text));
    if (c.llama2_round_trips) {
      const auto ids = l2.encode(c.text, true, false).value();  // BOS first, as generation does
      CHECK(l2.decode_all(std::span<const std::int32_t>(ids).subspan(1)).value() == c.text);
      ++round_trips;
    }
    if (c.tok512_round_trips) {
      const auto ids = t512.encode(c.text, true, false).value();
      CHECK(t512.decode_all(std::span<const std::int32_t>(ids).subspan(1)).value() == c.text);
      ++round_trips;
    }
  }
  CHECK(round_trips > 650);
}

TEST_CASE("run.c mode round-trips every fixture string, malformed bytes and U+2581 included") {
  for (const Tokenizer* t : {&llama2(), &tok512()}) {
    for (const auto& c : parity_fixture()) {
      INFO("text (hex): " << printable_hex(c.text));
      const auto ids = t->encode(c.text).value();
      CHECK(t->decode_all(ids).value() == c.text);
    }
  }
}

TEST_CASE("BOS, EOS and the dummy prefix") {
  const auto& t = tok512();
  CHECK(t.vocab_size() == 512);
  CHECK(t.max_token_length() == 7);
  CHECK(t.encode("").value().empty());
  CHECK(t.encode("", true, false).value() == std::vector<std::int32_t>{1});
  CHECK(t.encode("", true, true).value() == std::vector<std::int32_t>{1, 2});
  CHECK(t.encode("Once upon a time", true, false).value() == std::vector<std::int32_t>{1, 403, 407, 261, 378});
  CHECK(t.encode("Once upon a time", true, true).value() == std::vector<std::int32_t>{1, 403, 407, 261, 378, 2});
  CHECK(t.piece(1) == "\n<s>\n");
  CHECK(t.find(" the") > 258);
  CHECK(t.find("no such piece") == -1);
  // SentencePiece mode adds BOS/EOS around the same ids.
  Tokenizer sp = t;
  sp.set_mode(EncodeMode::sentencepiece);
  CHECK(sp.encode("Once upon a time", true, true).value() == std::vector<std::int32_t>{1, 403, 407, 261, 378, 2});
}

TEST_CASE("decode reproduces run.c: the published greedy story, byte for byte") {
  std::ifstream ids_in(FORMA_TEST_DATA_DIR "/tokenizer/stories260K.greedy256.ids.txt");
  std::vector<std::int32_t> ids;
  for (std::int32_t id = 0; ids_in >> id;) ids.push_back(id);
  REQUIRE(ids.size() == 256);
  std::ifstream text_in(FORMA_TEST_DATA_DIR "/tokenizer/stories260K.greedy256.expected.txt", std::ios::binary);
  const std::string expected((std::istreambuf_iterator<char>(text_in)), {});
  REQUIRE(expected.size() == 565);
  std::string printed;
  std::int32_t previous = forma::text::bos_token;
  for (const std::int32_t id : ids) {
    printed += Tokenizer::safe_piece(tok512().decode(previous, id).value());
    previous = id;
  }
  CHECK(printed == expected);
  CHECK(printed.find('\n') != std::string::npos);  // <0x0A> pieces became newlines
}

TEST_CASE("byte pieces decode to raw bytes, and after BOS the leading space goes") {
  const auto& t = tok512();
  CHECK(t.decode(5, 3 + 0x0A).value() == "\n");  // <0x0A>
  CHECK(t.decode(5, 3 + 0x41).value() == "A");
  CHECK(t.decode(5, 3 + 0x00).value() == std::string_view("\0", 1));
  CHECK(t.decode(5, 3 + 0xFF).value() == "\xFF");
  CHECK(t.decode(1, t.find(" the")).value() == "the");
  CHECK(t.decode(5, t.find(" the")).value() == " the");
  CHECK(t.decode(1, 3 + 0x20).value() == " ");  // a byte piece does not start with a space
  const auto bad = t.decode(5, 512);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == forma::errc::out_of_range);
  CHECK(bad.error().to_string() == "decode: token id 512 is out of range for a vocabulary of 512");
  CHECK_FALSE(t.decode(5, -1));
  CHECK_FALSE(t.decode_all(std::vector<std::int32_t>{5, 9999}));
  CHECK_THROWS_AS((void)t.piece(512), forma::index_error);
  CHECK_THROWS_WITH((void)t.score(-1), "Tokenizer: token id -1 is out of range for a vocabulary of 512");
}

TEST_CASE("a piece is a raw byte exactly when glibc's sscanf(\"<0x%02hhX>\") reads one") {
  const std::vector<std::string> pieces{
      "<0x41>", "<0x0a>", "<0xff>", "<0x7>",  "<0x7",   "<0x41abc", "<0x>",   "<0xZZ>",  "<0x G>",
      "<0x 5>", "<0x\t9>", "<0x-1>", "<0x+A>", "<0x-",  "<0x+>",    "<0x0x>", "<0x0X1>", "<0x00>",
      "<0x123>", "0x41",  "<0X41>", "< 0x41>", "<0x1G>", "<0x\n\nF>", "<0xg1>", "<0x-0>",  "<0x0>"};
  std::vector<std::pair<float, std::string>> normal;
  for (const auto& p : pieces) normal.push_back({-1.0f, p});
  // Those pieces as tokens after the 259 standard ones (several duplicate standard pieces: the
  // lookup is not involved here, only decode).
  const auto t = text_test::parse(text_test::tokenizer_bytes(16, text_test::vocabulary_with(normal))).value();
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    unsigned char byte = 0;
    const bool scanned = std::sscanf(pieces[i].c_str(), "<0x%02hhX>", &byte) == 1;
    const auto decoded = t.decode(5, static_cast<std::int32_t>(259 + i)).value();
    INFO("piece " << pieces[i]);
    if (scanned) {
      CHECK(decoded == std::string(1, static_cast<char>(byte)));
    } else {
      CHECK(decoded == pieces[i]);
    }
  }
}

TEST_CASE("run.c's printing rule is isprint or isspace on a lone byte") {
  for (int byte = 0; byte < 256; ++byte) {
    const char c = static_cast<char>(byte);
    const bool expected = std::isprint(byte) || std::isspace(byte);  // the C locale, as run.c
    INFO("byte " << byte);
    CHECK(Tokenizer::printable(std::string_view(&c, 1)) == expected);
    CHECK(Tokenizer::safe_piece(std::string_view(&c, 1)).size() == (expected ? 1u : 0u));
  }
  CHECK_FALSE(Tokenizer::printable(""));
  CHECK(Tokenizer::printable("\xE4\xB8"));  // longer pieces always print
  CHECK(Tokenizer::safe_piece("\x01\x02") == "\x01\x02");
}

TEST_CASE("merges: the best score first, the leftmost of equal scores") {
  // " aaa": (a, a) twice with the same score. run.c (and SentencePiece) take the leftmost.
  const auto t = text_test::parse(text_test::tokenizer_bytes(
                                      6, text_test::vocabulary_with({{-1.0f, " "}, {-1.0f, "a"}, {-2.0f, "aa"}})))
                     .value();
  CHECK(t.encode("aaa").value() == std::vector<std::int32_t>{259, 261, 260});
  // A better-scoring pair elsewhere goes first: "b" "c" → "bc" (score −1) before "a" "a" (−2).
  const auto u = text_test::parse(
                     text_test::tokenizer_bytes(6, text_test::vocabulary_with({{-1.0f, " "},
                                                                               {-1.0f, "a"},
                                                                               {-1.0f, "b"},
                                                                               {-3.0f, "ab"},
                                                                               {-2.0f, "aa"},
                                                                               {-1.0f, "ba"}})))
                     .value();
  // " aaba": pairs (a,a) −2, (a,b) −3, (b,a) −1 → "ba" first, then (a,a) → " ", "aa", "ba".
  CHECK(u.encode("aaba").value() == std::vector<std::int32_t>{259, 263, 264});
}

TEST_CASE("sentencepiece mode never merges into special pieces and merges unknown characters") {
  // Class 4, on a vocabulary built for it: "<0x4" + "1>" would make the byte piece <0x41>, and
  // "é" has no token of its own but " é" does.
  const auto t = text_test::parse(text_test::tokenizer_bytes(
                                      8, text_test::vocabulary_with({{-1.0f, " "},
                                                                     {-1.0f, "<"},
                                                                     {-1.0f, "0"},
                                                                     {-1.0f, "x"},
                                                                     {-1.0f, "4"},
                                                                     {-1.0f, "1"},
                                                                     {-1.0f, ">"},
                                                                     {-2.0f, "<0"},
                                                                     {-3.0f, "<0x"},
                                                                     {-4.0f, "<0x4"},
                                                                     {-5.0f, "1>"},
                                                                     {-6.0f, " \xC3\xA9"}})))
                     .value();
  // run.c: " " then "<0x41>" merged into the byte token 0x41 + 3, which decodes to "A".
  const auto run_c = t.encode("<0x41>").value();
  CHECK(run_c == std::vector<std::int32_t>{259, 3 + 0x41});
  CHECK(t.decode_all(run_c).value() == "A");
  Tokenizer sp = t;
  sp.set_mode(EncodeMode::sentencepiece);
  CHECK(sp.encode("<0x41>").value() == std::vector<std::int32_t>{259, 268, 269});  // " ", "<0x4", "1>"
  // "é": run.c falls back to bytes at once; SentencePiece merges " " + "é" first.
  CHECK(t.encode("\xC3\xA9").value() == std::vector<std::int32_t>{259, 3 + 0xC3, 3 + 0xA9});
  CHECK(sp.encode("\xC3\xA9").value() == std::vector<std::int32_t>{270});
  CHECK(sp.encode("x\xC3\xA9").value() == std::vector<std::int32_t>{259, 262, 3 + 0xC3, 3 + 0xA9});
}

TEST_CASE("sentencepiece mode: U+2581 is a space, malformed bytes are U+FFFD") {
  Tokenizer sp = llama2();
  sp.set_mode(EncodeMode::sentencepiece);
  CHECK(sp.encode("a\xE2\x96\x81" "b").value() == sp.encode("a b").value());
  CHECK(llama2().encode("a\xE2\x96\x81" "b").value() != llama2().encode("a b").value());
  CHECK(sp.encode("\xFF").value() == sp.encode("\xEF\xBF\xBD").value());
  CHECK(sp.encode("\xE4\xB8").value() == sp.encode("\xEF\xBF\xBD\xEF\xBF\xBD").value());
  CHECK(sp.encode("\xED\xA0\x80").value() == sp.encode("\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD").value());
}

TEST_CASE("invalid UTF-8 encodes through byte fallback without crashing") {
  const std::string garbage = "\xFF\xFE\x80\x80\xC3";
  const auto ids = llama2().encode(garbage).value();
  REQUIRE(ids.size() == 6);  // the dummy prefix, then one byte token per byte
  CHECK(ids[1] == 0xFF + 3);
  CHECK(ids[5] == 0xC3 + 3);
  // Five continuation bytes: run.c cuts a code point after at most 4 bytes.
  CHECK(llama2().decode_all(llama2().encode("\x80\x80\x80\x80\x80").value()).value() == "\x80\x80\x80\x80\x80");
}

TEST_CASE("run.c mode equals a transcription of run.c's encode loop on random text") {
  // forma's merge is a heap over a linked list; run.c rescans every pair. They must agree on
  // every text, with the shipped vocabularies and with small ones full of equal scores (where
  // only the leftmost-first rule decides), scores at or below −1e10 and NaN (never merged).
  std::mt19937 rng(20261202);
  const auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  const std::vector<std::string> fragments{
      "Once", " upon", " a", " time", ",", ".", " ", "  ", "\n", "Lily", " saw", "the", "ing", "123", "4.5",
      "\xC3\xA9", "\xE4\xB8\xAD\xE6\x96\x87", "\xF0\x9F\x98\x80", "\xE2\x96\x81", "\t", "!?", "don't",
      "\x80", "\xFF", "\xC3", "aaaa", "ab", "ba", "<0x41>", std::string("\0", 1)};
  for (const Tokenizer* t : {&tok512(), &llama2()}) {
    for (int round = 0; round < 300; ++round) {
      std::string text;
      const std::size_t parts = pick(60);
      for (std::size_t i = 0; i < parts; ++i) {
        if (pick(8) == 0) {
          text.push_back(static_cast<char>(pick(256)));
        } else {
          text += fragments[pick(fragments.size())];
        }
      }
      const bool bos = pick(2) == 1, eos = pick(2) == 1;
      INFO("text (hex): " << printable_hex(text));
      REQUIRE(t->encode(text, bos, eos).value() == forma_test::runc_encode(*t, text, bos, eos));
    }
  }
  // Vocabularies over {a, b, space}: every string of length 2..4 is a token, scores drawn from a
  // few values so that ties are everywhere.
  std::vector<std::string> strings{" ", "a", "b"};
  for (std::size_t length = 2; length <= 4; ++length) {
    std::vector<std::string> longer;
    for (const std::string& s : strings) {
      if (s.size() != length - 1) continue;
      for (const char c : std::string(" ab")) longer.push_back(s + c);
    }
    strings.insert(strings.end(), longer.begin(), longer.end());
  }
  const float scores[] = {-1.0f, -2.0f, -3.0f, -1e10f, -2e10f, std::numeric_limits<float>::quiet_NaN(), 0.0f, -0.0f};
  for (int vocabulary = 0; vocabulary < 40; ++vocabulary) {
    std::vector<std::pair<float, std::string>> normal;
    for (const std::string& s : strings) {
      normal.push_back({s.size() == 1 ? -1.0f : scores[pick(vocabulary % 2 == 0 ? 3 : std::size(scores))], s});
    }
    const Tokenizer t = text_test::parse(text_test::tokenizer_bytes(8, text_test::vocabulary_with(normal))).value();
    for (int round = 0; round < 60; ++round) {
      std::string text;
      const std::size_t length = pick(80);
      for (std::size_t i = 0; i < length; ++i) text.push_back(" ab"[pick(3)]);
      INFO("vocabulary " << vocabulary << ", text '" << text << "'");
      REQUIRE(t.encode(text).value() == forma_test::runc_encode(t, text, false, false));
    }
  }
}

TEST_CASE("a long text encodes (the merge keeps its candidates, no quadratic lookups)") {
  std::string text;
  for (int i = 0; i < 400; ++i) text += "Once upon a time, Lily saw a big dog in the park. ";
  const auto ids = llama2().encode(text).value();
  CHECK(ids.size() < text.size() / 3);
  CHECK(llama2().decode_all(ids).value() == text);
}

TEST_CASE("a text of 4 GiB or more is refused with a clear error before any of it is read") {
  // The text is a sparse file mapped read-only (no memory or disk for its zeros): encode must
  // refuse it from its size alone, as its 32-bit merge positions require.
  const std::string path =
      (std::filesystem::temp_directory_path() / ("forma-tokenizer-" + std::to_string(::getpid()) + "-huge.txt")).string();
  const std::size_t size = Tokenizer::max_text_bytes;
  {
    const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0);
    REQUIRE(::close(fd) == 0);
  }
  auto file = forma::io::MappedFile::open(path);
  REQUIRE_MESSAGE(file, forma::testing::error_text(file));
  const std::string_view text(reinterpret_cast<const char*>(file->bytes().data()), file->size());
  std::vector<std::int32_t> tokens{7};
  const auto refused = tok512().encode(text, true, false, tokens);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().to_string().find("encode: a text of 4294967040 bytes is too long (the limit is 4294967039); split it") !=
        std::string::npos);
  CHECK(tokens.empty());
  std::filesystem::remove(path);
}

TEST_CASE("hostile tokenizer files are errors, not crashes") {
  const auto parse = text_test::parse;
  const auto header = [](std::int32_t max_length) { return text_test::tokenizer_bytes(max_length, {}); };
  const auto entry = [](float score, std::int32_t length, const std::string& piece) {
    std::string bytes(8, '\0');
    std::memcpy(bytes.data(), &score, 4);
    std::memcpy(bytes.data() + 4, &length, 4);
    return bytes + piece;
  };
  CHECK(parse("").error().message == "tokenizer: the file has 0 bytes, too few for its header");
  CHECK(parse("ab").error().code == forma::errc::truncated);
  CHECK(parse(header(0)).error().message == "tokenizer: max_token_length is 0, must be positive");
  CHECK(parse(header(-3)).error().message == "tokenizer: max_token_length is -3, must be positive");
  CHECK(parse(header(4)).error().message == "tokenizer: the file holds no tokens");
  CHECK(parse(header(4) + entry(0, -5, "")).error().message == "tokenizer: token 0 has length -5");
  CHECK(parse(header(4) + entry(0, 1 << 30, "ab")).error().message ==
        "tokenizer: token 0 needs 1073741824 bytes, the file has 2 left");
  CHECK(parse(header(4) + entry(0, 0x7FFFFFFF, "")).error().code == forma::errc::truncated);
  CHECK(parse(header(4) + entry(0, 1, "a") + "xyz").error().message ==
        "tokenizer: the file ends inside the header of token 1");
  CHECK(parse(header(2) + entry(0, 3, "abc")).error().message ==
        "tokenizer: token 0 has length 3, more than the file's max_token_length 2");
  const auto ok = parse(header(4) + entry(-1, 1, "a") + entry(-2, 1, " "));
  REQUIRE(ok);
  CHECK(ok->vocab_size() == 2);
  // A vocabulary without byte-fallback pieces cannot encode what it lacks: an Error, not an
  // out-of-range id.
  const auto missing = ok->encode("b");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message == "encode: byte 98 has no byte-fallback token in a vocabulary of 2");
  // No " " for the dummy prefix: run.c would index with −1; forma says so.
  const auto no_space = parse(header(4) + entry(-1, 1, "a"));
  REQUIRE(no_space);
  CHECK(no_space->encode("a").error().message ==
        "encode: the vocabulary has no \" \" token for the dummy prefix");
  CHECK(no_space->encode("").value().empty());
  // Too few tokens for BOS/EOS (found by the fuzzer): an Error, not a read past the vocabulary.
  const auto tiny = parse(header(4) + entry(-1, 1, " "));
  REQUIRE(tiny);
  CHECK(tiny->encode("", true, false).error().message == "encode: a vocabulary of 1 tokens has no BOS (1)");
  CHECK(tiny->encode(" ", false, true).error().message == "encode: a vocabulary of 1 tokens has no EOS (2)");
  CHECK(tiny->encode(" ").value() == std::vector<std::int32_t>{0, 0});
}

TEST_CASE("loading checks the file and the model's vocabulary size") {
  const auto wrong = Tokenizer::load(FORMA_SOURCE_DIR "/models/stories260K/tok512.bin", 32000);
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().code == forma::errc::shape_mismatch);
  CHECK(wrong.error().to_string() == FORMA_SOURCE_DIR
        "/models/stories260K/tok512.bin: tokenizer has 512 tokens, the model's vocabulary has 32000");
  CHECK(wrong.error().expected == "32000");
  CHECK(wrong.error().found == "512");
  CHECK(Tokenizer::load(FORMA_SOURCE_DIR "/models/stories260K/tok512.bin", 512));
  const auto missing = Tokenizer::load("/nonexistent/tokenizer.bin");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().to_string() == "/nonexistent/tokenizer.bin: cannot open: No such file or directory");
  // A truncated copy of the real file names the file and the token where it ends.
  const std::string path = "forma_text_truncated_tokenizer.bin";
  {
    std::ifstream in(FORMA_SOURCE_DIR "/models/stories260K/tok512.bin", std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(path, std::ios::binary) << bytes.substr(0, 1000);
  }
  const auto truncated = Tokenizer::load(path, 512);
  std::remove(path.c_str());
  REQUIRE_FALSE(truncated);
  CHECK(truncated.error().code == forma::errc::truncated);
  CHECK(truncated.error().to_string().starts_with(path + ": tokenizer: "));
  CHECK(truncated.error().to_string().find('\n') == std::string::npos);
}
