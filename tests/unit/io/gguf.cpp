// Unit tests: GGUF reading — metadata of every type, tensor infos, dequantization against gguf-py
// (tests/data/gguf/, scripts/fixtures/make_gguf_fixtures.py), dot_row, llama.cpp's vocab files, and
// hostile files built at run time, each of which must give a one-line Error.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include <forma/io/gguf.hpp>
#include <forma/io/npy.hpp>

#include "test_support.hpp"

namespace io = forma::io;
namespace gguf = forma::io::gguf;
using gguf::value_type;

namespace {
const std::string dir = FORMA_TEST_DATA_DIR "/gguf/";

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// ---- a byte-level GGUF writer for hostile files ----
template <class T>
std::string pod(T value) {
  return std::string(reinterpret_cast<const char*>(&value), sizeof(T));
}
std::string str(std::string_view s) { return pod<std::uint64_t>(s.size()) + std::string(s); }
std::string kv(std::string_view key, value_type type, const std::string& payload) {
  return str(key) + pod(static_cast<std::uint32_t>(type)) + payload;
}
std::string info(std::string_view name, std::vector<std::uint64_t> dims, std::uint32_t type, std::uint64_t offset) {
  std::string out = str(name) + pod(static_cast<std::uint32_t>(dims.size()));
  for (const auto d : dims) out += pod(d);
  return out + pod(type) + pod(offset);
}

struct Builder {
  std::uint32_t version = 3;
  std::vector<std::string> kvs{kv("general.architecture", value_type::string, str("test"))};
  std::vector<std::string> infos;
  std::string data;
  std::size_t alignment = 32;

  std::string bytes() const {
    std::string out = "GGUF" + pod(version) + pod<std::uint64_t>(infos.size()) + pod<std::uint64_t>(kvs.size());
    for (const auto& k : kvs) out += k;
    for (const auto& t : infos) out += t;
    out.append((alignment - out.size() % alignment) % alignment, '\0');
    return out + data;
  }
};

// Two F32 tensors of 16 elements, back to back: a valid file to break.
Builder two_tensors() {
  Builder b;
  b.infos = {info("a", {16}, 0, 0), info("b", {4, 4}, 0, 64)};
  b.data.assign(128, '\0');
  return b;
}

// The error of parsing `bytes`, which must fail, on one line.
std::string error_of(const std::string& bytes) {
  auto file = gguf::File::from_bytes(as_bytes(bytes));
  REQUIRE_MESSAGE(!file, "a hostile file parsed");
  const std::string text = file.error().to_string();
  CHECK_MESSAGE(text.find('\n') == std::string::npos, text);
  CHECK_MESSAGE(!text.empty(), "empty error");
  return text;
}
#define CHECK_ERROR(bytes, fragment)                                             \
  do {                                                                           \
    const std::string text_ = error_of(bytes);                                   \
    CHECK_MESSAGE(text_.find(fragment) != std::string::npos, text_);             \
  } while (0)

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("forma_gguf_" + std::to_string(::getpid()) + "_" + name)).string();
}

// Where the bytes a file needs end: the end of the last tensor, or of the header without tensors.
std::size_t needed_bytes(const gguf::File& f, std::size_t header_end) {
  if (f.tensors().empty()) return header_end;
  std::size_t end = 0;
  for (const auto& t : f.tensors()) end = std::max<std::size_t>(end, f.data_offset() + t.offset + t.bytes);
  return end;
}
}  // namespace

TEST_CASE("gguf: every metadata value type, as gguf-py wrote it (v3 and v2)") {
  struct Case {
    std::string name;
    std::uint32_t version;
  };
  for (const Case& c : {Case{"metadata.gguf", 3}, Case{"metadata_v2.gguf", 2}}) {
    const std::string& name = c.name;
    const std::uint32_t version = c.version;
    CAPTURE(name);
    auto f = gguf::File::open(dir + name);
    REQUIRE_MESSAGE(f, forma::testing::error_text(f));
    CHECK(f->version() == version);
    CHECK(f->alignment() == 32);
    CHECK(f->metadata().size() == 27);
    CHECK(f->metadata()[0].key == "general.architecture");
    CHECK(*f->get<std::string_view>("general.architecture") == "forma-test");
    CHECK(*f->get<std::uint8_t>("test.u8") == 200);
    CHECK(*f->get<std::int8_t>("test.i8") == -100);
    CHECK(*f->get<std::uint16_t>("test.u16") == 60000);
    CHECK(*f->get<std::int16_t>("test.i16") == -30000);
    CHECK(*f->get<std::uint32_t>("test.u32") == 4000000000u);
    CHECK(*f->get<std::int32_t>("test.i32") == -2000000000);
    CHECK(*f->get<float>("test.f32") == 0.15625f);
    CHECK(*f->get<std::uint64_t>("test.u64") == (std::uint64_t{1} << 63) + 5);
    CHECK(*f->get<std::int64_t>("test.i64") == -(std::int64_t{1} << 62) - 3);
    CHECK(*f->get<double>("test.f64") == -2.5e-300);
    CHECK(*f->get<bool>("test.true") == true);
    CHECK(*f->get<bool>("test.false") == false);
    CHECK(*f->get<std::string_view>("test.string") == "h\xc3\xa9llo \"gguf\"\n");
    CHECK(f->get<std::string_view>("test.empty_string")->empty());
    CHECK(*f->get_array<std::uint8_t>("test.array.u8") == std::vector<std::uint8_t>{1, 2, 255});
    CHECK(*f->get_array<std::int16_t>("test.array.i16") == std::vector<std::int16_t>{-32768, 0, 32767});
    CHECK(*f->get_array<std::int32_t>("test.array.i32") == std::vector<std::int32_t>{-1, 0, 7, 2147483647});
    CHECK(*f->get_array<std::uint64_t>("test.array.u64") == std::vector<std::uint64_t>{0, std::numeric_limits<std::uint64_t>::max()});
    CHECK(*f->get_array<std::int64_t>("test.array.i64") == std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), 5});
    CHECK(*f->get_array<float>("test.array.f32") == std::vector<float>{0.5f, -1.25f, 3.0e38f});
    const auto f64 = *f->get_array<double>("test.array.f64");
    REQUIRE(f64.size() == 2);
    CHECK(f64[0] == 1.0 / 3.0);
    CHECK((f64[1] == 0.0 && std::signbit(f64[1])));
    CHECK(*f->get_array<bool>("test.array.bool") == std::vector<bool>{true, false, true});
    CHECK(*f->get_array<std::string_view>("test.array.string") ==
          std::vector<std::string_view>{"a", "", "\xc3\xbcnicode", "three words here"});
    const gguf::Value* nested = f->find("test.array.nested");
    REQUIRE(nested != nullptr);
    CHECK(nested->element_type() == value_type::array);
    REQUIRE(nested->arrays().size() == 2);
    CHECK(nested->arrays()[0].element_type() == value_type::i32);
    CHECK(*nested->arrays()[0].element<std::int32_t>(2) == 3);
    CHECK(*nested->arrays()[1].element<std::int32_t>(1) == 5);
    CHECK(nested->text() == "[array x 2: [int32 x 3: 1, 2, 3], [int32 x 2: 4, 5]]");
    const gguf::Value* strings = f->find("test.array.nested_strings");
    REQUIRE(strings != nullptr);
    CHECK(strings->arrays()[1].strings()[0] == "z");
    const gguf::Value* deep = f->find("test.array.nested_deep");
    REQUIRE(deep != nullptr);
    CHECK(*deep->arrays()[0].arrays()[1].element<float>(1) == 3.5f);
    CHECK(f->find("test.string")->text() == "\"h\\xc3\\xa9llo \\\"gguf\\\"\\x0a\"");

    // Typed getters say what differs.
    auto wrong = f->get<std::uint32_t>("test.i32");
    REQUIRE(!wrong);
    CHECK(wrong.error().code == forma::errc::dtype_mismatch);
    CHECK(wrong.error().to_string().find("expected metadata 'test.i32' to be uint32, file has int32") != std::string::npos);
    CHECK(*f->get_int<std::int64_t>("test.u32") == 4000000000);
    CHECK(*f->get_int<std::uint8_t>("test.u8") == 200);
    auto narrow = f->get_int<std::uint8_t>("test.u16");
    REQUIRE(!narrow);
    CHECK(narrow.error().code == forma::errc::out_of_range);
    CHECK(!f->get_int<std::uint32_t>("test.i8"));
    CHECK(!f->get_int<std::uint32_t>("test.f32"));
    auto missing = f->get<float>("no.such.key");
    REQUIRE(!missing);
    CHECK(missing.error().code == forma::errc::not_found);
    CHECK(missing.error().to_string().find(name) != std::string::npos);
    CHECK(!f->get_array<float>("test.array.i32"));
    CHECK(!f->get_array<float>("test.f32"));
  }
}

TEST_CASE("gguf: tensor infos — names, dims fastest-first, types, aligned offsets") {
  auto f = gguf::File::open(dir + "metadata.gguf");
  REQUIRE_MESSAGE(f, forma::testing::error_text(f));
  REQUIRE(f->tensors().size() == 7);
  const gguf::TensorInfo& cube = **f->tensor("f32.cube");
  CHECK(cube.n_dims == 3);
  CHECK(std::vector<std::uint64_t>(cube.dims().begin(), cube.dims().end()) == std::vector<std::uint64_t>{5, 3, 2});
  CHECK(cube.type == gguf::tensor_type::f32);
  CHECK(cube.elements == 30);
  CHECK(cube.bytes == 120);
  CHECK(cube.rows() == 6);
  const gguf::TensorInfo& vec = **f->tensor("f16.vector");
  CHECK(vec.n_dims == 1);
  CHECK(vec.row_length() == 9);
  CHECK(vec.rows() == 1);
  CHECK(vec.bytes == 18);
  for (const auto& t : f->tensors()) CHECK((f->data_offset() + t.offset) % 32 == 0);
  auto absent = f->tensor("nope");
  REQUIRE(!absent);
  CHECK(absent.error().code == forma::errc::not_found);

  auto q = gguf::File::open(dir + "quants.gguf");
  REQUIRE_MESSAGE(q, forma::testing::error_text(q));
  CHECK(q->alignment() == 64);
  CHECK(*q->get<std::uint32_t>("general.alignment") == 64);
  for (const auto& t : q->tensors()) CHECK((q->data_offset() + t.offset) % 64 == 0);
  CHECK((*q->tensor("q5_k"))->bytes == 4 * 176);
  CHECK(gguf::name_of((*q->tensor("q6_k"))->type) == "Q6_K");
}

// Bit for bit: forma's dequantization does ggml's reference arithmetic in the same order as
// gguf-py's NumPy (no FMA: the test targets build with -ffp-contract=off), so every float equals.
TEST_CASE("gguf: dequantize equals gguf-py bit for bit (F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K)") {
  std::vector<std::string> seen;
  for (const std::string stem : {"metadata", "quants"}) {
    auto f = gguf::File::open(dir + stem + ".gguf");
    REQUIRE_MESSAGE(f, forma::testing::error_text(f));
    for (const auto& t : f->tensors()) {
      const std::string name(t.name);
      CAPTURE(name);
      seen.emplace_back(gguf::name_of(t.type));
      auto expected = io::read_npy(dir + stem + "__" + name + ".npy");
      REQUIRE_MESSAGE(expected, forma::testing::error_text(expected));
      // NumPy's shape is ggml's dims reversed.
      std::vector<std::uint64_t> reversed(expected->shape.rbegin(), expected->shape.rend());
      CHECK(reversed == std::vector<std::uint64_t>(t.dims().begin(), t.dims().end()));
      const auto want = *expected->values<float>();
      auto got = f->dequantize(t);
      REQUIRE_MESSAGE(got, forma::testing::error_text(got));
      REQUIRE(got->size() == want.size());
      std::size_t differ = 0;
      for (std::size_t i = 0; i < want.size(); ++i) {
        differ += std::bit_cast<std::uint32_t>((*got)[i]) != std::bit_cast<std::uint32_t>(want[i]);
      }
      CHECK_MESSAGE(differ == 0, differ, " of ", want.size(), " floats differ from gguf-py");

      std::vector<float> buffer(t.elements);
      REQUIRE(f->dequantize(t, buffer));
      CHECK(buffer == *got);
      CHECK(!f->dequantize(t, std::span<float>(buffer.data(), buffer.size() - 1)));
      std::vector<float> row(t.row_length());
      for (std::uint64_t r = 0; r < t.rows(); ++r) {
        REQUIRE(f->dequantize_row(t, r, row));
        CHECK(std::memcmp(row.data(), got->data() + r * row.size(), row.size() * sizeof(float)) == 0);
      }
      CHECK(!f->dequantize_row(t, t.rows(), row));
    }
  }
  for (const char* type : {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"}) {
    CHECK_MESSAGE(std::find(seen.begin(), seen.end(), type) != seen.end(), type, " has no fixture");
  }
}

// dot_row sums w·x in double, element by element, and rounds once: it equals the same sum over the
// dequantized row exactly (tolerance 0), and is within 1e-6·Σ|w·x| of the exact dot product.
TEST_CASE("gguf: dot_row equals the dot product of the dequantized row") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (const std::string stem : {"metadata", "quants"}) {
    auto f = gguf::File::open(dir + stem + ".gguf");
    REQUIRE(f);
    for (const auto& t : f->tensors()) {
      const std::string name(t.name);
      CAPTURE(name);
      const auto w = *f->dequantize(t);
      std::vector<float> x(t.row_length());
      for (auto& v : x) v = dist(rng);
      for (std::uint64_t r = 0; r < t.rows(); ++r) {
        double sum = 0, sum_abs = 0;
        for (std::size_t i = 0; i < x.size(); ++i) {
          const double p = static_cast<double>(w[r * x.size() + i]) * static_cast<double>(x[i]);
          sum += p;
          sum_abs += std::fabs(p);
        }
        auto got = f->dot_row(t, r, x.data());
        REQUIRE_MESSAGE(got, forma::testing::error_text(got));
        CHECK(*got == static_cast<float>(sum));
        CHECK(std::fabs(static_cast<double>(*got) - sum) <= 1e-6 * sum_abs);
      }
      auto past = f->dot_row(t, t.rows(), x.data());
      REQUIRE(!past);
      CHECK(past.error().code == forma::errc::out_of_range);
    }
  }
}

TEST_CASE("gguf: llama.cpp's vocab files parse") {
  {
    auto f = gguf::File::open(dir + "ggml-vocab-gpt-2.gguf");
    REQUIRE_MESSAGE(f, forma::testing::error_text(f));
    CHECK(f->version() == 3);
    CHECK(f->metadata().size() == 16);
    CHECK(f->tensors().empty());
    CHECK(*f->get<std::string_view>("tokenizer.ggml.model") == "gpt2");
    const auto tokens = *f->get_array<std::string_view>("tokenizer.ggml.tokens");
    REQUIRE(tokens.size() == 50257);
    CHECK(std::vector<std::string_view>(tokens.begin(), tokens.begin() + 4) == std::vector<std::string_view>{"!", "\"", "#", "$"});
    CHECK(tokens[50256] == "<|endoftext|>");
    CHECK(f->find("tokenizer.ggml.merges")->size() == 50000);
    CHECK(f->find("tokenizer.ggml.merges")->strings()[0] == "\xc4\xa0 t");
    CHECK(*f->get<std::uint32_t>("tokenizer.ggml.bos_token_id") == 50256);
    CHECK(*f->get_int<std::size_t>("gpt2.context_length") == 1024);
  }
  {
    auto f = gguf::File::open(dir + "ggml-vocab-llama-spm.gguf");
    REQUIRE_MESSAGE(f, forma::testing::error_text(f));
    CHECK(f->metadata().size() == 22);
    CHECK(*f->get<std::string_view>("tokenizer.ggml.model") == "llama");
    const auto tokens = *f->get_array<std::string_view>("tokenizer.ggml.tokens");
    REQUIRE(tokens.size() == 32000);
    CHECK(std::vector<std::string_view>(tokens.begin(), tokens.begin() + 4) ==
          std::vector<std::string_view>{"<unk>", "<s>", "</s>", "<0x00>"});
    CHECK(f->get_array<float>("tokenizer.ggml.scores")->size() == 32000);
    CHECK(f->get_array<std::int32_t>("tokenizer.ggml.token_type")->at(1) == 3);
    CHECK(*f->get<bool>("tokenizer.ggml.add_bos_token") == true);
  }
}

TEST_CASE("gguf: a file truncated anywhere before its last tensor's end is refused") {
  for (const std::string name : {"metadata.gguf", "quants.gguf"}) {
    CAPTURE(name);
    const std::string bytes = read_all(dir + name);
    auto whole = gguf::File::from_bytes(as_bytes(bytes));
    REQUIRE(whole);
    // The header ends where the data section's padding begins; a vocab file has no data section.
    std::size_t header_end = bytes.size();
    if (!whole->tensors().empty()) header_end = whole->data_offset();
    const std::size_t needed = needed_bytes(*whole, header_end);
    REQUIRE(needed <= bytes.size());
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      auto part = gguf::File::from_bytes(as_bytes(bytes).first(n));
      if (n < needed) {
        CAPTURE(n);
        REQUIRE_MESSAGE(!part, "a truncated file parsed");
        CHECK(part.error().to_string().find('\n') == std::string::npos);
      } else {
        CHECK(part);
      }
    }
  }
}

TEST_CASE("gguf: hostile headers give one-line errors") {
  CHECK(gguf::File::from_bytes(as_bytes(two_tensors().bytes())));

  SUBCASE("magic and version") {
    std::string bytes = two_tensors().bytes();
    bytes[3] = 'X';
    CHECK_ERROR(bytes, "not a GGUF file");
    CHECK_ERROR(std::string("GG"), "too few for the GGUF magic");
    Builder b = two_tensors();
    b.version = 1;
    CHECK_ERROR(b.bytes(), "GGUF version 1 (only versions 2 and 3");
    b.version = 4;
    CHECK_ERROR(b.bytes(), "GGUF version 4");
    b.version = 0x03000000;
    CHECK_ERROR(b.bytes(), "big-endian");
  }
  SUBCASE("counts and lengths far beyond the file") {
    std::string bytes = two_tensors().bytes();
    std::string huge = bytes;
    const std::uint64_t big = std::uint64_t{1} << 62;
    std::memcpy(huge.data() + 8, &big, 8);  // tensor count
    CHECK_ERROR(huge, "tensor count 4611686018427387904 cannot fit");
    huge = bytes;
    std::memcpy(huge.data() + 16, &big, 8);  // metadata count
    CHECK_ERROR(huge, "metadata count 4611686018427387904 cannot fit");
    huge = bytes;
    const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    std::memcpy(huge.data() + 24, &max, 8);  // the first key's length
    CHECK_ERROR(huge, "length 18446744073709551615 runs past the end of the file");

    Builder b = two_tensors();
    b.kvs.push_back(kv("s", value_type::string, pod(max)));
    CHECK_ERROR(b.bytes(), "metadata 's': length 18446744073709551615 runs past");
    b = two_tensors();
    b.kvs.push_back(kv("a", value_type::array, pod(std::uint32_t{0}) + pod(big)));
    CHECK_ERROR(b.bytes(), "metadata 'a': 4611686018427387904 uint8 elements cannot fit");
    b = two_tensors();
    b.kvs.push_back(kv("a", value_type::array, pod(std::uint32_t{8}) + pod(big / 4)));
    CHECK_ERROR(b.bytes(), "string elements cannot fit");
    b = two_tensors();
    b.kvs.push_back(kv("a", value_type::array, pod(std::uint32_t{9}) + pod(std::uint64_t{1}) + pod(std::uint32_t{8}) + pod(big)));
    CHECK_ERROR(b.bytes(), "metadata 'a' element 0: 4611686018427387904 string elements cannot fit");
    b = two_tensors();
    b.infos[0] = str(std::string("a")) + pod(std::uint32_t{1}) + pod(max) + pod(std::uint32_t{0}) + pod(std::uint64_t{0});
    CHECK_ERROR(b.bytes(), "tensor 'a': dims [18446744073709551615] overflow");
    b = two_tensors();
    b.infos[0] = info("a", {std::uint64_t{1} << 40, std::uint64_t{1} << 40}, 0, 0);
    CHECK_ERROR(b.bytes(), "overflow");
  }
  SUBCASE("values") {
    Builder b = two_tensors();
    b.kvs.push_back(kv("t", static_cast<value_type>(13), pod(std::uint8_t{0})));
    CHECK_ERROR(b.bytes(), "metadata 't': unknown value type 13");
    b = two_tensors();
    b.kvs.push_back(kv("t", value_type::boolean, pod(std::uint8_t{2})));
    CHECK_ERROR(b.bytes(), "metadata 't': bool 2 is not 0 or 1");
    b = two_tensors();
    b.kvs.push_back(kv("t", value_type::array, pod(std::uint32_t{7}) + pod(std::uint64_t{2}) + "\x01\x05"));
    CHECK_ERROR(b.bytes(), "element 1 (bool 5) is not 0 or 1");
    b = two_tensors();
    b.kvs.push_back(kv("t", value_type::array, pod(std::uint32_t{77}) + pod(std::uint64_t{0})));
    CHECK_ERROR(b.bytes(), "unknown array element type 77");
    // Arrays nested 9 deep.
    std::string nested = pod(std::uint32_t{0}) + pod(std::uint64_t{0});
    for (int i = 0; i < 8; ++i) nested = pod(std::uint32_t{9}) + pod(std::uint64_t{1}) + nested;
    b = two_tensors();
    b.kvs.push_back(kv("t", value_type::array, nested));
    CHECK_ERROR(b.bytes(), "arrays nested more than 8 deep");
  }
  SUBCASE("duplicates") {
    Builder b = two_tensors();
    b.kvs.push_back(kv("general.architecture", value_type::u8, pod(std::uint8_t{1})));
    CHECK_ERROR(b.bytes(), "duplicate metadata key 'general.architecture'");
    b = two_tensors();
    b.infos[1] = info("a", {16}, 0, 64);
    CHECK_ERROR(b.bytes(), "duplicate tensor name 'a'");
    b = two_tensors();
    b.infos[0] = info("x\ny", {16}, 0, 0);
    b.infos[1] = info("x\ny", {16}, 0, 64);
    CHECK_ERROR(b.bytes(), "duplicate tensor name 'x\\x0ay'");
  }
  SUBCASE("alignment") {
    for (const std::uint32_t a : {0u, 3u, 48u}) {
      Builder b = two_tensors();
      b.kvs.push_back(kv("general.alignment", value_type::u32, pod(a)));
      CHECK_ERROR(b.bytes(), "general.alignment " + std::to_string(a) + " is not a power of two");
    }
    Builder b = two_tensors();
    b.kvs.push_back(kv("general.alignment", value_type::u64, pod(std::uint64_t{32})));
    CHECK_ERROR(b.bytes(), "general.alignment is a uint64, not a uint32");
    b = two_tensors();
    b.infos[1] = info("b", {4, 4}, 0, 72);
    b.data.assign(160, '\0');
    CHECK_ERROR(b.bytes(), "tensor 'b': offset 72 is not a multiple of the alignment 32");
  }
  SUBCASE("tensor infos") {
    Builder b = two_tensors();
    b.infos[0] = info("a", {2, 2, 2, 1, 2}, 0, 0);
    CHECK_ERROR(b.bytes(), "tensor 'a': n_dims 5 exceeds 4");
    b = two_tensors();
    b.infos[0] = info("a", {16}, 99, 0);
    CHECK_ERROR(b.bytes(), "tensor 'a': unknown ggml type 99");
    b = two_tensors();
    b.infos[0] = info("a", {16}, 4, 0);  // 4 was Q4_2, removed from ggml
    CHECK_ERROR(b.bytes(), "unknown ggml type 4");
    b = two_tensors();
    b.infos[0] = info("a", {16, 2}, 8, 0);
    CHECK_ERROR(b.bytes(), "Q8_0 needs ne[0] (16) to be a multiple of its block of 32");
  }
  SUBCASE("tensors outside the data section or overlapping") {
    Builder b = two_tensors();
    b.infos[1] = info("b", {4, 4}, 0, 1024);
    CHECK_ERROR(b.bytes(), "tensor 'b': 64 bytes at offset 1024 run past the end of the data section (128 bytes)");
    b = two_tensors();
    b.data.resize(100);
    CHECK_ERROR(b.bytes(), "tensor 'b': 64 bytes at offset 64 run past the end of the data section (100 bytes)");
    b = two_tensors();
    b.infos[1] = info("b", {4, 4}, 0, std::numeric_limits<std::uint64_t>::max() - 31);
    CHECK_ERROR(b.bytes(), "run past the end of the data section");
    b = two_tensors();
    b.infos[1] = info("b", {16}, 0, 32);
    CHECK_ERROR(b.bytes(), "tensors 'a' (bytes 0-64) and 'b' (bytes 32-96) overlap");
    b = two_tensors();
    b.infos[1] = info("b", {8}, 0, 0);
    CHECK_ERROR(b.bytes(), "overlap");
    // Tensors declared, but the file ends before the data section starts.
    b = two_tensors();
    std::string bytes = b.bytes();
    bytes.resize(bytes.size() - b.data.size() - 1);
    CHECK_ERROR(bytes, "the data section would start at byte 160, past the end of the file (159 bytes)");
  }
  SUBCASE("errors name the file") {
    Builder b = two_tensors();
    b.infos[0] = info("a", {16}, 99, 0);
    const std::string path = temp_path("unknown_type.gguf");
    REQUIRE(io::write_file(path, b.bytes()));
    auto f = gguf::File::open(path);
    std::filesystem::remove(path);
    REQUIRE(!f);
    CHECK(f.error().to_string() == path + ": tensor 'a': unknown ggml type 99");
    CHECK(f.error().code == forma::errc::unsupported);
    auto absent = gguf::File::open(temp_path("absent.gguf"));
    REQUIRE(!absent);
    CHECK(absent.error().code == forma::errc::io);
  }
}

TEST_CASE("gguf: known types forma does not dequantize yet parse, and say so") {
  Builder b;
  b.infos = {info("iq2", {256, 2}, 16, 0), info("f64", {3}, 28, 192)};
  b.data.assign(224, '\0');
  const std::string bytes = b.bytes();  // from_bytes views these: they must outlive the File
  auto f = gguf::File::from_bytes(as_bytes(bytes));
  REQUIRE_MESSAGE(f, forma::testing::error_text(f));
  CHECK((*f->tensor("iq2"))->bytes == 132);
  auto d = f->dequantize(**f->tensor("iq2"));
  REQUIRE(!d);
  CHECK(d.error().code == forma::errc::unsupported);
  CHECK(d.error().to_string() == "tensor 'iq2': cannot dequantize type IQ2_XXS yet");
  const float x[256] = {};
  CHECK(!f->dot_row(**f->tensor("f64"), 0, x));
}

TEST_CASE("gguf: zero tensors, zero-sized tensors, and scalars") {
  Builder b;
  b.infos = {info("empty", {0, 4}, 0, 0), info("scalar", {}, 0, 0)};
  b.data.assign(4, '\0');
  const std::string bytes = b.bytes();
  auto f = gguf::File::from_bytes(as_bytes(bytes));
  REQUIRE_MESSAGE(f, forma::testing::error_text(f));
  const auto& empty = **f->tensor("empty");
  CHECK(empty.elements == 0);
  CHECK(empty.rows() == 0);
  CHECK(f->dequantize(empty)->empty());
  const auto& scalar = **f->tensor("scalar");
  CHECK(scalar.n_dims == 0);
  CHECK(scalar.elements == 1);
  CHECK(f->dequantize(scalar)->size() == 1);
  Builder none;
  CHECK(gguf::File::from_bytes(as_bytes(none.bytes())));
}
