// Unit tests: safetensors reading (the reference samples), typed access, writing, and validation.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <forma/io/safetensors.hpp>

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
    REQUIRE_MESSAGE(file, file.error().to_string());
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
  REQUIRE_MESSAGE(file, file.error().to_string());
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
  REQUIRE_MESSAGE(file, file.error().to_string());
  CHECK(file->metadata()[1].second == "a \"quoted\" value");
  const auto view = file->get<forma::MatrixView<const forma::bf16, 2, 3>>("w");
  if (view) {  // aligned when the std::string's buffer is: the file mapping always is
    CHECK(static_cast<float>((*view)(1, 2)) == 3.5f);
  }
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
  CHECK(parse_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":{}}", 8)) ==
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
  std::string deep = "{\"a\":";
  deep.append(100, '[');
  deep.append(100, ']');
  deep.append("}");
  CHECK(parse_error(file_with(deep, 0)).ends_with("nested deeper than 64 levels"));
  // A BOOL byte other than 0 or 1 is refused when read, not turned into an invalid bool.
  std::string bools = file_with("{\"f\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[0,2]}}", 0);
  bools.append("\x01\x05");
  auto file = io::Safetensors::parse(as_bytes(bools)).value();
  CHECK(file.load<Vector<bool, 2>>("f").error().message == "a BOOL element is not 0 or 1");
  // An empty file set is valid.
  CHECK(io::Safetensors::parse(as_bytes(file_with("{}", 0))).value().tensors().empty());
}
