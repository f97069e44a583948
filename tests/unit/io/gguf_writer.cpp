// Unit tests: the GGUF writer — gguf-py's files rewritten byte for byte from what forma reads
// (metadata of every type, alignment 64, raw tensor bytes), f32 values encoded as F16, BF16 and
// Q8_0 exactly as gguf-py encodes them (tests/data/gguf/writer_encodings.gguf, made by
// scripts/fixtures/make_gguf_writer_fixtures.py), round trips through forma's reader, atomic
// writing, and one-line errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>

#include <forma/io/gguf.hpp>
#include <forma/io/gguf_writer.hpp>

#include "test_support.hpp"

namespace gguf = forma::io::gguf;
using forma::testing::error_text;
using gguf::MetaValue;
using gguf::tensor_type;
using gguf::value_type;

namespace {
const std::string dir = FORMA_TEST_DATA_DIR "/gguf/";

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
std::string scratch_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("forma-gguf-writer-" + std::to_string(::getpid()) + "-" + name))
      .string();
}

// A writer holding every metadata entry of `file` (copied, in file order).
gguf::Writer with_metadata(const gguf::File& file) {
  gguf::Writer w;
  for (const auto& [key, value] : file.metadata()) {
    auto ok = w.set(std::string(key), MetaValue::copy(value));
    REQUIRE_MESSAGE(ok, error_text(ok));
  }
  return w;
}

// The index of the first differing byte, or -1.
long first_difference(const std::string& a, const std::string& b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return static_cast<long>(i);
  }
  return a.size() == b.size() ? -1 : static_cast<long>(n);
}
}  // namespace

TEST_CASE("gguf writer: gguf-py's files rewritten from forma's reading are byte for byte the same") {
  // metadata.gguf: every value type, arrays of strings, nested arrays, F32/F16/BF16 tensors 1-D..3-D;
  // quants.gguf: general.alignment 64 and ten block-quantized types.
  for (const char* name : {"metadata.gguf", "quants.gguf"}) {
    CAPTURE(name);
    const std::string original = read_all(dir + name);
    auto file = gguf::File::open(dir + name);
    REQUIRE_MESSAGE(file, error_text(file));
    gguf::Writer w = with_metadata(*file);
    for (const auto& t : file->tensors()) {
      const auto bytes = file->bytes(t);
      auto ok = w.add_tensor_bytes(std::string(t.name), t.dims(), t.type, {bytes.begin(), bytes.end()});
      REQUIRE_MESSAGE(ok, error_text(ok));
    }
    CHECK(w.alignment() == file->alignment());
    auto written = w.encode();
    REQUIRE_MESSAGE(written, error_text(written));
    CHECK(written->size() == original.size());
    CHECK(first_difference(*written, original) == -1);
  }
}

TEST_CASE("gguf writer: f32 values encoded as F16, BF16 and Q8_0 give gguf-py's bytes") {
  const std::string original = read_all(dir + "writer_encodings.gguf");
  auto file = gguf::File::open(dir + "writer_encodings.gguf");
  REQUIRE_MESSAGE(file, error_text(file));
  auto source = file->dequantize(**file->tensor("source"));
  auto special = file->dequantize(**file->tensor("special"));
  REQUIRE(source);
  REQUIRE(special);

  // Each encoded tensor alone against gguf-py's bytes (a failure names the tensor).
  const struct {
    const char* name;
    const std::vector<float>* values;
    tensor_type type;
  } cases[] = {{"source.f16", &*source, tensor_type::f16},   {"source.bf16", &*source, tensor_type::bf16},
               {"source.q8_0", &*source, tensor_type::q8_0}, {"special.f16", &*special, tensor_type::f16},
               {"special.bf16", &*special, tensor_type::bf16}};
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto& t = **file->tensor(c.name);
    const auto info = *gguf::traits(static_cast<std::uint32_t>(c.type));
    std::vector<std::byte> mine(c.values->size() / info.block * info.bytes);
    REQUIRE(gguf::encode_run(c.type, c.values->data(), c.values->size(), mine.data()));
    const auto theirs = file->bytes(t);
    REQUIRE(mine.size() == theirs.size());
    CHECK(std::memcmp(mine.data(), theirs.data(), mine.size()) == 0);
  }

  // The whole file: the same metadata, the F32 tensors as given, the rest encoded on write.
  gguf::Writer w = with_metadata(*file);
  for (const auto& t : file->tensors()) {
    const std::string name(t.name);
    const std::vector<float>& values = name.starts_with("source") ? *source : *special;
    auto ok = w.add_tensor(name, t.dims(), t.type, values);
    REQUIRE_MESSAGE(ok, error_text(ok));
  }
  auto written = w.encode();
  REQUIRE_MESSAGE(written, error_text(written));
  CHECK(first_difference(*written, original) == -1);
}

TEST_CASE("gguf writer: Q8_0 blocks whose scale 1/d overflows are clamped, not undefined") {
  // amax 1e-40 (an f32 subnormal): d = amax / 127 is subnormal and 1 / d is +inf, so x · (1/d) is
  // ±inf (NaN for 0) — ggml casts that to int8 (undefined); forma writes ±127 and 0.
  std::vector<float> block(32, 0.0f);
  block[0] = 1e-40f;
  block[1] = -1e-40f;
  block[2] = 5e-41f;
  std::byte out[34];
  REQUIRE(gguf::encode_run(tensor_type::q8_0, block.data(), 32, out));
  CHECK(static_cast<std::int8_t>(out[2]) == 127);
  CHECK(static_cast<std::int8_t>(out[3]) == -127);
  CHECK(static_cast<std::int8_t>(out[4]) == 127);
  CHECK(static_cast<std::int8_t>(out[5]) == 0);
}

TEST_CASE("gguf writer: every metadata type and tensor round-trips through forma's reader") {
  const std::string path = scratch_path("roundtrip.gguf");
  gguf::Writer w;
  REQUIRE(w.set("general.architecture", "llama"));
  REQUIRE(w.set("general.alignment", std::uint32_t{64}));
  REQUIRE(w.set("t.u8", std::uint8_t{200}));
  REQUIRE(w.set("t.i8", std::int8_t{-100}));
  REQUIRE(w.set("t.u16", std::uint16_t{60000}));
  REQUIRE(w.set("t.i16", std::int16_t{-30000}));
  REQUIRE(w.set("t.u32", std::uint32_t{4000000000u}));
  REQUIRE(w.set("t.i32", std::int32_t{-2000000000}));
  REQUIRE(w.set("t.u64", std::uint64_t{1} << 63));
  REQUIRE(w.set("t.i64", std::int64_t{-5}));
  REQUIRE(w.set("t.f32", 0.15625f));
  REQUIRE(w.set("t.f64", -2.5e-300));
  REQUIRE(w.set("t.bool", true));
  REQUIRE(w.set("t.string", std::string("h\xc3\xa9llo \"gguf\"\n")));
  REQUIRE(w.set("t.empty", ""));
  REQUIRE(w.set("t.strings", MetaValue::array(std::vector<std::string>{"a", "", "three words"})));
  REQUIRE(w.set("t.floats", MetaValue::array(std::vector<float>{0.5f, -1.25f, 3e38f})));
  REQUIRE(w.set("t.ints", MetaValue::array(std::vector<std::int32_t>{-1, 0, 7})));
  REQUIRE(w.set("t.bools", MetaValue::array(std::vector<bool>{true, false, true})));
  REQUIRE(w.set("t.empty_array", MetaValue::array(std::vector<std::uint64_t>{})));
  auto nested = MetaValue::array_of_arrays({MetaValue::array(std::vector<std::int32_t>{1, 2, 3}),
                                            MetaValue::array(std::vector<std::string>{"x"})});
  REQUIRE(nested);
  REQUIRE(w.set("t.nested", std::move(*nested)));

  std::vector<float> matrix(3 * 64), vector(5);
  for (std::size_t i = 0; i < matrix.size(); ++i) matrix[i] = std::sin(0.37f * static_cast<float>(i)) * 3.0f;
  for (std::size_t i = 0; i < vector.size(); ++i) vector[i] = static_cast<float>(i) - 2.5f;
  REQUIRE(w.add_tensor("m.f32", {64, 3}, tensor_type::f32, matrix));
  REQUIRE(w.add_tensor("m.f16", {64, 3}, tensor_type::f16, matrix));
  REQUIRE(w.add_tensor("m.bf16", {64, 3}, tensor_type::bf16, matrix));
  REQUIRE(w.add_tensor("m.q8_0", {64, 3}, tensor_type::q8_0, matrix));
  REQUIRE(w.add_tensor("v", {5}, tensor_type::f32, vector));
  auto ok = w.write(path);
  REQUIRE_MESSAGE(ok, error_text(ok));
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));

  auto file = gguf::File::open(path);
  REQUIRE_MESSAGE(file, error_text(file));
  CHECK(file->version() == 3);
  CHECK(file->alignment() == 64);
  CHECK(file->data_offset() % 64 == 0);
  CHECK(file->metadata().size() == 21);
  CHECK(file->metadata()[0].key == "general.architecture");
  CHECK(*file->get<std::string_view>("general.architecture") == "llama");
  CHECK(*file->get<std::uint8_t>("t.u8") == 200);
  CHECK(*file->get<std::int8_t>("t.i8") == -100);
  CHECK(*file->get<std::uint16_t>("t.u16") == 60000);
  CHECK(*file->get<std::int16_t>("t.i16") == -30000);
  CHECK(*file->get<std::uint32_t>("t.u32") == 4000000000u);
  CHECK(*file->get<std::int32_t>("t.i32") == -2000000000);
  CHECK(*file->get<std::uint64_t>("t.u64") == (std::uint64_t{1} << 63));
  CHECK(*file->get<std::int64_t>("t.i64") == -5);
  CHECK(*file->get<float>("t.f32") == 0.15625f);
  CHECK(*file->get<double>("t.f64") == -2.5e-300);
  CHECK(*file->get<bool>("t.bool"));
  CHECK(*file->get<std::string_view>("t.string") == "h\xc3\xa9llo \"gguf\"\n");
  CHECK(file->get<std::string_view>("t.empty")->empty());
  CHECK(*file->get_array<std::string_view>("t.strings") == std::vector<std::string_view>{"a", "", "three words"});
  CHECK(*file->get_array<float>("t.floats") == std::vector<float>{0.5f, -1.25f, 3e38f});
  CHECK(*file->get_array<std::int32_t>("t.ints") == std::vector<std::int32_t>{-1, 0, 7});
  CHECK(*file->get_array<bool>("t.bools") == std::vector<bool>{true, false, true});
  CHECK(file->get_array<std::uint64_t>("t.empty_array")->empty());
  const gguf::Value* n = file->find("t.nested");
  REQUIRE(n != nullptr);
  REQUIRE(n->arrays().size() == 2);
  CHECK(n->arrays()[0].size() == 3);
  CHECK(*n->arrays()[0].element<std::int32_t>(2) == 3);
  CHECK(n->arrays()[1].strings()[0] == "x");

  REQUIRE(file->tensors().size() == 5);
  for (const auto& t : file->tensors()) {
    CAPTURE(t.name);
    CHECK(t.offset % 64 == 0);
    auto values = file->dequantize(t);
    REQUIRE(values);
    if (t.name == "v") {
      CHECK(t.n_dims == 1);
      CHECK(*values == vector);
      continue;
    }
    REQUIRE(t.n_dims == 2);
    CHECK(t.ne[0] == 64);
    CHECK(t.ne[1] == 3);
    for (std::size_t i = 0; i < matrix.size(); ++i) {
      const float x = matrix[i], y = (*values)[i];
      if (t.type == tensor_type::f32) {
        REQUIRE(y == x);
      } else if (t.type == tensor_type::f16) {
        REQUIRE(y == static_cast<float>(forma::f16(x)));
      } else if (t.type == tensor_type::bf16) {
        REQUIRE(y == static_cast<float>(forma::bf16(x)));
      } else {
        // Q8_0: half a step d = max|x| / 127 ≤ 3 / 127, plus |q| ≤ 127 times d's f16 rounding (2^-11 d).
        REQUIRE(std::fabs(y - x) <= 3.0f / 127.0f * (0.5f + 127.0f / 2048.0f));
      }
    }
  }
  std::filesystem::remove(path);
}

TEST_CASE("gguf writer: errors are one line, name the key, tensor or file, and leave the old file") {
  gguf::Writer w;
  REQUIRE(w.set("a", std::uint32_t{1}));
  auto twice = w.set("a", std::uint32_t{2});
  REQUIRE_FALSE(twice);
  CHECK(twice.error().to_string() == "gguf writer: metadata key 'a' set twice");
  CHECK_FALSE(w.set("", true));
  CHECK_FALSE(w.set("general.alignment", std::uint32_t{48}));
  CHECK_FALSE(w.set("general.alignment", std::uint64_t{64}));

  const std::vector<float> values(64, 1.0f);
  REQUIRE(w.add_tensor("w", {32, 2}, tensor_type::q8_0, values));
  auto duplicate = w.add_tensor("w", {64}, tensor_type::f32, values);
  REQUIRE_FALSE(duplicate);
  CHECK(duplicate.error().to_string().find("'w'") != std::string::npos);
  auto block = w.add_tensor("odd", {16, 4}, tensor_type::q8_0, values);
  REQUIRE_FALSE(block);
  CHECK(block.error().to_string() == "tensor 'odd': gguf writer: Q8_0 needs ne[0] (16) to be a multiple of its block of 32");
  auto count = w.add_tensor("short", {32, 3}, tensor_type::f32, values);
  REQUIRE_FALSE(count);
  CHECK(count.error().to_string() == "tensor 'short': gguf writer: 64 values for dims [32, 3] (96 elements)");
  CHECK_FALSE(w.add_tensor("k", {64}, tensor_type::q4_k, values));
  CHECK_FALSE(w.add_tensor(std::string(64, 'n'), {64}, tensor_type::f32, values));
  CHECK_FALSE(w.add_tensor("five", std::vector<std::uint64_t>{64, 1, 1, 1, 1}, tensor_type::f32, values));
  CHECK_FALSE(w.add_tensor_bytes("raw", std::vector<std::uint64_t>{32}, tensor_type::q8_0, std::vector<std::byte>(33)));
  CHECK_FALSE(w.set("general.alignment", std::uint32_t{64}));  // after the first tensor

  // A NaN in a Q8_0 tensor fails on write, names tensor and file, and leaves the old file as it was.
  const std::string path = scratch_path("nan.gguf");
  {
    std::ofstream old(path, std::ios::binary);
    old << "old";
  }
  std::vector<float> poisoned(64, 0.5f);
  poisoned[40] = std::numeric_limits<float>::quiet_NaN();
  gguf::Writer bad;
  REQUIRE(bad.add_tensor("q", {32, 2}, tensor_type::q8_0, poisoned));
  auto nan = bad.write(path);
  REQUIRE_FALSE(nan);
  const std::string text = nan.error().to_string();
  CHECK(text == path + ": tensor 'q': a NaN or an infinity in the rows from 0 cannot be encoded as Q8_0");
  CHECK(text.find('\n') == std::string::npos);
  CHECK(read_all(path) == "old");
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  std::filesystem::remove(path);

  // An unwritable place: one line naming the file.
  const std::string nowhere = scratch_path("no-such-dir") + "/model.gguf";
  auto io = w.write(nowhere);
  REQUIRE_FALSE(io);
  CHECK(io.error().to_string().starts_with(nowhere + ": cannot create " + nowhere + ".tmp: No such file or directory"));
}
