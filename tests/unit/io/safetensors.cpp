// Unit tests: safetensors reading (the reference samples), typed access, writing, and validation.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>

#include <forma/io/safetensors.hpp>

#include "test_support.hpp"

using forma::dyn;
using forma::Matrix;
using forma::Vector;
using forma::VectorView;
namespace io = forma::io;

namespace {
const std::string dir = FORMA_TEST_DATA_DIR "/safetensors/";

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
// A file with the given JSON header (padded to 8) and `data_bytes` zero bytes of data.
std::string file_with(std::string header, std::size_t data_bytes) {
  header.append((8 - header.size() % 8) % 8, ' ');
  const std::uint64_t length = header.size();
  std::string bytes(reinterpret_cast<const char*>(&length), 8);
  bytes.append(header);
  bytes.append(data_bytes, '\0');
  return bytes;
}
// A path in the system's temporary directory, unique to this process.
std::string scratch_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("forma-safetensors-" + std::to_string(::getpid()) + "-" + name))
      .string();
}
std::string parse_error(const std::string& bytes) {
  auto file = io::Safetensors::parse(as_bytes(bytes));
  REQUIRE_FALSE(file);
  return file.error().message;
}
}  // namespace

TEST_CASE("every reference sample reads with the values the samples' authors stored") {
  const auto check = [](const char* name, auto expected) {
    using T = typename decltype(expected)::value_type;
    INFO(name);
    auto file = io::Safetensors::open(dir + name + ".safetensors");
    REQUIRE_MESSAGE(file, forma::testing::error_text(file));
    REQUIRE(file->tensors().size() == 1);
    CHECK(file->metadata() == std::vector<std::pair<std::string, std::string>>{{"test", "a"}});
    const auto values = file->load<Vector<T, 6>>(name).value();
    for (std::size_t i = 0; i < 6; ++i) CHECK(values(i) == expected[i]);
  };
  check("B", std::array<std::uint8_t, 6>{253, 254, 255, 0, 1, 2});
  check("H", std::array<std::uint16_t, 6>{65533, 65534, 65535, 0, 1, 2});
  check("I", std::array<std::uint32_t, 6>{4294967293u, 4294967294u, 4294967295u, 0, 1, 2});
  check("b", std::array<std::int8_t, 6>{-3, -2, -1, 0, 1, 2});
  check("h", std::array<std::int16_t, 6>{-3, -2, -1, 0, 1, 2});
  check("i", std::array<std::int32_t, 6>{-3, -2, -1, 0, 1, 2});
  check("f", std::array<float, 6>{-3, -2, -1, 0, 1, 2});
  check("d", std::array<double, 6>{-3, -2, -1, 0, 1, 2});
  auto half = io::Safetensors::open(dir + "e.safetensors").value();
  const auto e = half.load<Vector<float, 6>>("e", {.convert = true}).value();
  CHECK(e(0) == -3.0f);
  CHECK(e(5) == 2.0f);
}

TEST_CASE("overall.safetensors: nine tensors tiling the data, read zero-copy where aligned") {
  auto file = io::Safetensors::open(dir + "overall.safetensors");
  REQUIRE_MESSAGE(file, forma::testing::error_text(file));
  CHECK(file->tensors().size() == 9);
  CHECK(file->tensors().front().name == "B");  // data order
  CHECK(file->data_offset() == 8 + 526);
  // Data starts at file byte 534: 'd' (F64) at 534 + 48 = 582 is not 8-aligned, so a view is
  // refused with a clear error while load() copies.
  const auto view = file->get<VectorView<const double, 6>>("d");
  REQUIRE_FALSE(view);
  CHECK(view.error().to_string() == dir + "overall.safetensors: tensor 'd': starts at file byte 582, not aligned for f64; load() copies it instead");
  CHECK(file->load<Vector<double, 6>>("d").value()(0) == -3.0);
  // 'B' (U8) needs no alignment: a view straight into the mapping.
  const auto bytes = file->get<VectorView<const std::uint8_t, 6>>("B").value();
  CHECK(bytes(0) == 253);
  CHECK(reinterpret_cast<const std::byte*>(bytes.data()) == file->bytes(*file->find("B")).data());
}

TEST_CASE("typed access names the tensor and what differs") {
  auto file = io::Safetensors::open(dir + "overall.safetensors").value();
  const auto missing = file.load<Vector<float, 6>>("nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == forma::errc::not_found);
  CHECK(missing.error().to_string() == dir + "overall.safetensors: tensor 'nope': no such tensor");
  const auto dtype = file.load<Vector<float, 6>>("i");
  CHECK(dtype.error().to_string() == dir + "overall.safetensors: tensor 'i': expected dtype F32, file has I32");
  const auto shape = file.load<Vector<std::int32_t, 7>>("i");
  CHECK(shape.error().message == "expected shape [7], file has [6]");
  const auto rank = file.load<Matrix<std::int32_t, 2, 3>>("i");
  CHECK(rank.error().message == "expected shape [2, 3], file has [6]");
  const auto converted = file.load<Vector<float, dyn>>("i", {.convert = true}).value();
  CHECK(converted.extent(0) == 6);
  CHECK(converted(0) == -3.0f);
}

TEST_CASE("what save_safetensors writes reads back, bf16 and zero-copy included") {
  auto w = Matrix<forma::bf16, 2, 3>();
  for (std::size_t i = 0; i < 6; ++i) w.data()[i] = forma::bf16(static_cast<float>(i) - 1.5f);
  const auto b = Vector<float, 3>::from_values({0.25f, -8.0f, 1e30f});
  const auto flags = Vector<bool, 2>::from_values({true, false});
  const std::string bytes =
      io::encode_safetensors({io::named("w", w), io::named("b", b), io::named("flags", flags)},
                             {{"format", "pt"}, {"note", "a \"quoted\" value"}})
          .value();
  CHECK((bytes.size() - 26) % 8 == 0);  // 8 + header is a multiple of 8; then 12 + 12 + 2 data bytes
  auto file = io::Safetensors::parse(as_bytes(bytes));
  REQUIRE_MESSAGE(file, forma::testing::error_text(file));
  CHECK(file->metadata()[1].second == "a \"quoted\" value");
  CHECK(static_cast<float>(file->load<Matrix<forma::bf16, 2, 3>>("w").value()(1, 2)) == 3.5f);
  CHECK(file->load<Vector<float, 3>>("b").value()(2) == 1e30f);
  CHECK(file->load<Vector<bool, 2>>("flags").value()(0));
  CHECK(io::encode_safetensors({io::named("x", b), io::named("x", b)}).error().message == "two tensors are named 'x'");
  CHECK(io::save_safetensors("/nonexistent/dir/x.safetensors", {}).error().to_string() ==
        "/nonexistent/dir/x.safetensors: cannot create: No such file or directory");
}

TEST_CASE("hostile headers and layouts are Errors") {
  CHECK(parse_error("") == "the file has 0 bytes, too few for the header length");
  std::string huge(8, '\0');
  const std::uint64_t big = 200'000'000;
  std::memcpy(huge.data(), &big, 8);
  CHECK(parse_error(huge) == "header length 200000000 exceeds the 100 MB limit");
  std::string past(8, '\0');
  const std::uint64_t fifty = 50;
  std::memcpy(past.data(), &fifty, 8);
  past.append("{}");
  CHECK(parse_error(past) == "header length 50 runs past the end of the file (10 bytes)");
  CHECK(parse_error(file_with("[1, 2]", 0)) == "the header does not start with '{'");
  CHECK(parse_error(file_with("{\"a\": ", 0)).starts_with("invalid JSON at byte"));
  CHECK(parse_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                              "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16)) ==
        "invalid JSON at byte 57: duplicate key \"a\"");
  CHECK(parse_error(file_with("{\"a\":{\"dtype\":\"F8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1)) ==
        "tensor 'a': unsupported dtype 'F8'");
  CHECK(parse_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4)) ==
        "tensor 'a': shape holds -1, not a non-negative integer");
  CHECK(parse_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8)) ==
        "tensor 'a': F32 [3] needs 12 bytes, data_offsets give 8");
  CHECK(parse_error(file_with("{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8)) ==
        "tensor 'a': shape [4294967296, 4294967296] overflows");
  CHECK(parse_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8)) ==
        "tensor 'a': data_offsets [8, 0] run backwards");
  CHECK(parse_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12)) ==
        "tensors 'a' and 'b' overlap (bytes 0-8 and 4-12)");
  CHECK(parse_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12)) ==
        "bytes 0-4 of the data section belong to no tensor");
  CHECK(parse_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12)) ==
        "bytes 8-12 of the data section belong to no tensor");
  CHECK(parse_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8)) ==
        "tensor 'a' ends at byte 16, the data section has 8");
  CHECK(parse_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", 4)) ==
        "tensor 'a': unexpected key 'extra'");
  CHECK(parse_error(file_with("{\"__metadata__\":{\"k\":1}}", 0)) == "__metadata__ value 'k' is not a string");
  CHECK(parse_error(file_with("{\"a\\ud800\":1}", 0)) == "invalid JSON at byte 9: unpaired surrogate in a \\u escape");
  CHECK(parse_error(file_with("{\"\xFF\":1}", 0)) == "invalid JSON at byte 2: invalid UTF-8 in a string");
  // Deep nesting never gets deep: the schema refuses the first value of the wrong kind.
  const auto nested = [](std::string prefix, std::size_t depth, char open, char close, std::string suffix) {
    return prefix + std::string(depth, open) + std::string(depth, close) + suffix;
  };
  CHECK(parse_error(file_with(nested("{\"a\":", 100000, '[', ']', "}"), 0)) == "tensor 'a': its entry is not an object");
  CHECK(parse_error(file_with(nested("{\"a\":{\"dtype\":\"F32\",\"shape\":", 100000, '[', ']', "}}"), 0)) ==
        "tensor 'a': shape holds a non-number, not a non-negative integer");
  CHECK(parse_error(file_with(nested("{\"__metadata__\":{\"k\":", 100000, '{', '}', "}}"), 0)) ==
        "__metadata__ value 'k' is not a string");
  // A BOOL byte other than 0 or 1 is refused when read, not turned into an invalid bool.
  std::string bools = file_with("{\"f\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[0,2]}}", 0);
  bools.append("\x01\x05");
  auto file = io::Safetensors::parse(as_bytes(bools)).value();
  CHECK(file.load<Vector<bool, 2>>("f").error().message == "a BOOL element is not 0 or 1");
  // An empty file set is valid.
  CHECK(io::Safetensors::parse(as_bytes(file_with("{}", 0))).value().tensors().empty());
}

TEST_CASE("more hostile headers: schema, duplicates, limits and JSON syntax each have their message") {
  const std::string f32_entry = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
  CHECK(parse_error(file_with("{\"__metadata__\":[]}", 0)) == "__metadata__ is not an object");
  CHECK(parse_error(file_with("{\"__metadata__\":{},\"__metadata__\":{}}", 0)) ==
        "invalid JSON at byte 33: duplicate key \"__metadata__\"");
  CHECK(parse_error(file_with("{\"__metadata__\":{\"k\":\"1\",\"j\":\"2\",\"k\":\"3\"}}", 0)) ==
        "invalid JSON at byte 36: duplicate key \"k\"");
  CHECK(parse_error(file_with("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4)) ==
        "invalid JSON at byte 27: duplicate key \"dtype\"");
  CHECK(parse_error(file_with("{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4)) ==
        "tensor 'a': dtype is not a string");
  CHECK(parse_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4)) ==
        "tensor 'a': shape is not an array");
  CHECK(parse_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4)) ==
        "tensor 'a': shape holds 1.5, not a non-negative integer");
  CHECK(parse_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],\"data_offsets\":[0,4]}}", 4)) ==
        "tensor 'a': shape holds 18446744073709551616, not a non-negative integer");
  for (const char* offsets : {"[0]", "[0,4,8]", "[0,\"4\"]", "[-0,4]", "{}"}) {
    INFO(offsets);
    const std::string message =
        parse_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":" + std::string(offsets) + "}}", 4));
    CHECK((message == "tensor 'a': data_offsets must be two non-negative integers" ||
           message == "tensor 'a': data_offsets is not an array"));
  }
  CHECK(parse_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4)) == "tensor 'a': needs dtype, shape and data_offsets");
  std::string rank65 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1";
  for (int i = 0; i < 64; ++i) rank65 += ",1";
  CHECK(parse_error(file_with(rank65 + "],\"data_offsets\":[0,4]}}", 4)) == "tensor 'a': more than 64 axes");
  std::string rank64 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1";
  for (int i = 0; i < 63; ++i) rank64 += ",1";
  CHECK(io::Safetensors::parse(as_bytes(file_with(rank64 + "],\"data_offsets\":[0,4]}}", 4))).value().tensors()[0].shape.size() == 64);
  // JSON syntax: trailing commas, text after the object, bad literals, an unterminated header.
  CHECK(parse_error(file_with("{\"a\":" + f32_entry + ",}", 4)) == "invalid JSON at byte 54: expected a string key");
  CHECK(parse_error(file_with("{\"a\":" + f32_entry + "}x", 4)) == "invalid JSON at byte 54: unexpected text after the JSON value");
  CHECK(parse_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,],\"data_offsets\":[0,4]}}", 4)) ==
        "invalid JSON at byte 31: unexpected character");
  CHECK(parse_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4)) ==
        "invalid JSON at byte 30: leading zeros are not allowed");
  CHECK(parse_error(file_with("{\"a\" " + f32_entry + "}", 4)) == "invalid JSON at byte 5: expected ':'");
  CHECK(parse_error(file_with("{\"a\":" + f32_entry, 4)) == "invalid JSON at byte 56: unexpected end of input");
  CHECK(parse_error(file_with("{\"a\":{\"dtype\":\"F\x01\"}}", 0)) == "invalid JSON at byte 16: control character in a string");
  CHECK(parse_error(file_with("{\"a\xC0\x80\":1}", 0)) == "invalid JSON at byte 3: invalid UTF-8 in a string");
  CHECK(parse_error(file_with("{\"a\xED\xA0\x80\":1}", 0)) == "invalid JSON at byte 3: invalid UTF-8 in a string");
  CHECK(parse_error(file_with("{\"a\xF4\x90\x80\x80\":1}", 0)) == "invalid JSON at byte 3: invalid UTF-8 in a string");
  // Escaped names are decoded (and compared decoded: "\u0061" is "a").
  auto escaped = io::Safetensors::parse(as_bytes(file_with("{\"\\u00e9\\ud83d\\ude00\":" + f32_entry + "}", 4))).value();
  CHECK(escaped.tensors()[0].name == "\xC3\xA9\xF0\x9F\x98\x80");
  CHECK(parse_error(file_with("{\"a\":" + f32_entry + ",\"\\u0061\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8)) ==
        "invalid JSON at byte 62: duplicate key \"a\"");
}

TEST_CASE("a hostile header of many keys stays fast and small: duplicates found in n log n, metadata capped") {
  // 200000 tensors (10 MB of header): a pairwise duplicate check would take minutes.
  std::string header = "{";
  for (int i = 0; i < 200000; ++i) {
    header += "\"t";
    header += std::to_string(i);
    header += "\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},";
  }
  const std::size_t duplicate_at = header.size() + 4;
  auto many = header + "\"t7\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}";
  CHECK(parse_error(file_with(many, 0)) == "invalid JSON at byte " + std::to_string(duplicate_at) + ": duplicate key \"t7\"");
  header.back() = '}';
  const std::string many_bytes = file_with(header, 0);
  const auto file = io::Safetensors::parse(as_bytes(many_bytes)).value();
  CHECK(file.tensors().size() == 200000);
  // Looking every tensor up by name is n log n too.
  std::size_t found = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string name = "t";  // appended: GCC 12 warns falsely (-Wrestrict) on "t" + std::to_string(i)
    name += std::to_string(i);
    const auto* entry = file.find(name);
    found += entry != nullptr && entry->name == name ? 1 : 0;
  }
  CHECK(found == 200000);
  CHECK(file.find("t200000") == nullptr);
  CHECK(file.find("") == nullptr);
  std::string metadata = "{\"__metadata__\":{";
  for (std::size_t i = 0; i <= io::safetensors_max_metadata_entries; ++i) {
    metadata += '"';  // appends only: GCC 12 warns falsely (-Wrestrict) on chains of operator+
    metadata += std::to_string(i);
    metadata += "\":\"\",";
  }
  metadata.back() = '}';
  CHECK(parse_error(file_with(metadata + "}", 0)) == "__metadata__ has more than 65536 entries");
}

TEST_CASE("all_dtypes.safetensors, written by Python: every dtype reads with its values, zero copy") {
  auto file = io::Safetensors::open(dir + "all_dtypes.safetensors");
  REQUIRE_MESSAGE(file, forma::testing::error_text(file));
  CHECK(file->tensors().size() == 15);
  CHECK(file->metadata() == std::vector<std::pair<std::string, std::string>>{
                                {"format", "pt"}, {"writer", "scripts/fixtures/make_safetensors_fixtures.py"}});
  const auto mapped_at = [&](const char* name) { return file->bytes(*file->find(name)).data(); };
  const auto check = [&]<class T>(const char* name, std::array<T, 6> expected) {
    INFO(name);
    const auto view = file->get<forma::MatrixView<const T, 2, 3>>(name);
    REQUIRE_MESSAGE(view, forma::testing::error_text(view));
    CHECK(reinterpret_cast<const std::byte*>(view->data()) == mapped_at(name));  // into the mapping
    for (std::size_t i = 0; i < 6; ++i) CHECK((*view)(i / 3, i % 3) == expected[i]);
    const auto copy = file->load<Matrix<T, dyn, 3>>(name).value();
    CHECK(copy.extent(0) == 2);
    CHECK(std::memcmp(copy.data(), view->data(), 6 * sizeof(T)) == 0);
  };
  using forma::bf16;
  using forma::f16;
  using I64 = std::numeric_limits<std::int64_t>;
  check.operator()<double>("F64", {-3, -2, -1.5, 0, 0.25, 2});
  check.operator()<float>("F32", {-3, -2, -1.5, 0, 0.25, 2});
  check.operator()<f16>("F16", {f16(-3.0f), f16(-2.0f), f16(-1.5f), f16(0.0f), f16(0.25f), f16(2.0f)});
  check.operator()<bf16>("BF16", {bf16(-3.0f), bf16(-2.0f), bf16(-1.5f), bf16(0.0f), bf16(0.25f), bf16(2.0f)});
  check.operator()<std::int64_t>("I64", {I64::min(), -1, 0, 1, 2, I64::max()});
  check.operator()<std::int32_t>("I32", {-2147483647 - 1, -1, 0, 1, 2, 2147483647});
  check.operator()<std::int16_t>("I16", {-32768, -1, 0, 1, 2, 32767});
  check.operator()<std::int8_t>("I8", {-128, -1, 0, 1, 2, 127});
  check.operator()<std::uint64_t>("U64", {0, 1, 2, 3, 18446744073709551614u, 18446744073709551615u});
  check.operator()<std::uint32_t>("U32", {0, 1, 2, 3, 4294967294u, 4294967295u});
  check.operator()<std::uint16_t>("U16", {0, 1, 2, 3, 65534, 65535});
  check.operator()<std::uint8_t>("U8", {0, 1, 2, 3, 254, 255});
  check.operator()<bool>("BOOL", {true, false, false, true, true, false});
  CHECK(*file->get<forma::TensorView<const float, forma::extents<>>>("scalar").value().data() == 7.5f);
  CHECK(file->get<forma::MatrixView<const float, dyn, 3>>("empty").value().extent(0) == 0);
  // Conversions on request: F16/BF16 → F32 and I64 → F64.
  CHECK(file->load<Matrix<float, 2, 3>>("BF16", {.convert = true}).value()(1, 1) == 0.25f);
  CHECK(file->load<Matrix<float, 2, 3>>("F16", {.convert = true}).value()(0, 2) == -1.5f);
  CHECK(file->load<Matrix<double, 2, 3>>("I64", {.convert = true}).value()(1, 1) == 2.0);
}

TEST_CASE("get names the tensor and what differs, as load does") {
  auto file = io::Safetensors::open(dir + "all_dtypes.safetensors").value();
  const std::string path = dir + "all_dtypes.safetensors";
  const auto missing = file.get<forma::MatrixView<const float, 2, 3>>("w");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == forma::errc::not_found);
  CHECK(missing.error().to_string() == path + ": tensor 'w': no such tensor");
  const auto dtype = file.get<forma::MatrixView<const forma::bf16, 2, 3>>("F32");
  CHECK(dtype.error().code == forma::errc::dtype_mismatch);
  CHECK(dtype.error().to_string() == path + ": tensor 'F32': expected dtype BF16, file has F32");
  const auto shape = file.get<forma::MatrixView<const float, 3, 2>>("F32");
  CHECK(shape.error().code == forma::errc::shape_mismatch);
  CHECK(shape.error().to_string() == path + ": tensor 'F32': expected shape [3, 2], file has [2, 3]");
  const auto partial = file.get<forma::MatrixView<const float, dyn, 2>>("F32");
  CHECK(partial.error().message == "expected shape [?, 2], file has [2, 3]");
}

TEST_CASE_TEMPLATE("save_safetensors round-trips every dtype through a mapped file, zero copy", T, double, float,
                   forma::f16, forma::bf16, std::int64_t, std::int32_t, std::int16_t, std::int8_t, std::uint64_t,
                   std::uint32_t, std::uint16_t, std::uint8_t, bool) {
  Matrix<T, 2, 3> m;
  for (std::size_t i = 0; i < 6; ++i) m.data()[i] = static_cast<T>(static_cast<float>(i % 2 == 0 ? i : 1));
  forma::Tensor<T, forma::extents<>> scalar;
  *scalar.data() = static_cast<T>(1.0f);
  const Vector<std::uint8_t, 3> odd = Vector<std::uint8_t, 3>::from_values({1, 2, 3});  // misaligns what follows
  const std::string path = scratch_path("roundtrip.safetensors");
  REQUIRE(io::save_safetensors(path, {io::named("m", m), io::named("odd", odd), io::named("s", scalar)}));
  auto file = io::Safetensors::open(path);
  REQUIRE_MESSAGE(file, forma::testing::error_text(file));
  const auto view = file->get<forma::MatrixView<const T, 2, 3>>("m");
  REQUIRE_MESSAGE(view, forma::testing::error_text(view));
  CHECK(reinterpret_cast<const std::byte*>(view->data()) == file->bytes(*file->find("m")).data());
  CHECK(std::memcmp(view->data(), m.data(), sizeof(T) * 6) == 0);
  CHECK(std::memcmp(file->load<forma::Tensor<T, forma::extents<>>>("s").value().data(), scalar.data(), sizeof(T)) == 0);
  if constexpr (sizeof(T) > 1) {
    CHECK(file->get<forma::TensorView<const T, forma::extents<>>>("s").error().message.ends_with("; load() copies it instead"));
  }
  std::filesystem::remove(path);
}
