// Unit tests: .npy files written by NumPy, typed loading, saving, and every error.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include <forma/core/compare.hpp>
#include <forma/io/npy.hpp>

#include "test_support.hpp"

using forma::dyn;
using forma::extents;
using forma::Matrix;
using forma::Tensor;
using forma::Vector;
namespace io = forma::io;

namespace {
const std::string dir = FORMA_TEST_DATA_DIR "/npy/";

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}
// A path in the system's temporary directory, unique to this process.
std::string scratch_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("forma-npy-" + std::to_string(::getpid()) + "-" + name)).string();
}
std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
// A .npy file with the given header dict (version 1.0) and data bytes.
std::string npy_with(const std::string& dict, const std::string& data = "") {
  std::string bytes = "\x93NUMPY\x01";
  bytes.push_back('\0');
  const auto length = static_cast<std::uint16_t>(dict.size());
  bytes.append(reinterpret_cast<const char*>(&length), 2);
  return bytes + dict + data;
}
}  // namespace

TEST_CASE_TEMPLATE("a float32 matrix written by NumPy loads in C order, Fortran order and every version",
                   M, Matrix<float, 3, 4>, Matrix<float, dyn, dyn>, Matrix<float, 3, dyn>) {
  for (const char* name : {"f4_3x4.npy", "f4_3x4_fortran.npy", "f4_3x4_v2.npy", "f4_3x4_v3.npy"}) {
    INFO(name);
    auto m = io::load_npy<M>(dir + name);
    REQUIRE_MESSAGE(m, forma::testing::error_text(m));
    REQUIRE(m->extent(0) == 3);
    REQUIRE(m->extent(1) == 4);
    for (std::size_t i = 0; i < 3; ++i) {
      for (std::size_t j = 0; j < 4; ++j) CHECK((*m)(i, j) == static_cast<float>(4 * i + j) / 2.0f);
    }
  }
}

TEST_CASE("big endian, every integer width, bool, f16, scalars, empty arrays and rank 3") {
  const auto big = io::load_npy<Matrix<double, 2, 3>>(dir + "f8_big_2x3.npy").value();
  CHECK(big(1, 2) == 5 - 2.5);
  CHECK(big(0, 0) == -2.5);
  CHECK(io::load_npy<Vector<std::int8_t, 4>>(dir + "i1_4.npy").value()(3) == 9);
  CHECK(io::load_npy<Vector<std::int16_t, 4>>(dir + "i2_4.npy").value()(2) == 6);
  CHECK(io::load_npy<Vector<std::int32_t, 4>>(dir + "i4_4.npy").value()(1) == 3);
  CHECK(io::load_npy<Vector<std::int64_t, 4>>(dir + "i8_4.npy").value()(3) == 9);
  CHECK(io::load_npy<Vector<std::uint8_t, 4>>(dir + "u1_4.npy").value()(3) == 9);
  CHECK(io::load_npy<Vector<std::uint16_t, 4>>(dir + "u2_4.npy").value()(3) == 9);
  CHECK(io::load_npy<Vector<std::uint32_t, 4>>(dir + "u4_4.npy").value()(3) == 9);
  CHECK(io::load_npy<Vector<std::uint64_t, 4>>(dir + "u8_4.npy").value()(3) == 9);
  CHECK(io::load_npy<Vector<std::int32_t, 4>>(dir + "i4_big_4.npy").value()(0) == -1);
  const auto flags = io::load_npy<Vector<bool, 4>>(dir + "b1_4.npy").value();
  CHECK(flags(0));
  CHECK_FALSE(flags(1));
  CHECK(flags(3));
  const auto halves = io::load_npy<Vector<forma::f16, 5>>(dir + "f2_5.npy").value();
  CHECK(static_cast<float>(halves(2)) == 65504.0f);
  CHECK(static_cast<float>(halves(0)) == 0.5f);
  const auto scalar = io::load_npy<Tensor<double, extents<>>>(dir + "f8_scalar.npy").value();
  CHECK(*scalar.data() == 2.75);
  const auto empty = io::load_npy<Matrix<float, dyn, 3>>(dir + "f4_empty_0x3.npy").value();
  CHECK(empty.extent(0) == 0);
  CHECK(empty.size() == 0);
  CHECK(io::load_npy<Matrix<float, 0, 3>>(dir + "f4_empty_0x3.npy").value().size() == 0);
  const auto none = io::load_npy<Vector<float, dyn>>(dir + "f4_empty_0.npy").value();
  CHECK(none.extent(0) == 0);
  CHECK(io::load_npy<Vector<float, 3>>(dir + "f4_empty_0.npy").error().message == "expected shape (3,), file has (0,)");
  const auto big_halves = io::load_npy<Vector<forma::f16, 3>>(dir + "f2_big_3.npy").value();
  CHECK(static_cast<float>(big_halves(0)) == 0.5f);
  CHECK(static_cast<float>(big_halves(1)) == -2.0f);
  CHECK(static_cast<float>(big_halves(2)) == 65504.0f);
  const auto big_fortran = io::load_npy<Tensor<double, extents<2, dyn, 2>>>(dir + "f8_big_fortran_2x3x2.npy").value();
  for (std::size_t i = 0; i < 2; ++i) {
    for (std::size_t j = 0; j < 3; ++j) {
      for (std::size_t k = 0; k < 2; ++k) CHECK(big_fortran(i, j, k) == static_cast<double>(100 * i + 10 * j + k));
    }
  }
  const auto cube = io::load_npy<Tensor<float, extents<2, 3, 4>>>(dir + "f4_2x3x4_fortran.npy").value();
  for (std::size_t i = 0; i < 2; ++i) {
    for (std::size_t j = 0; j < 3; ++j) {
      for (std::size_t k = 0; k < 4; ++k) CHECK(cube(i, j, k) == static_cast<float>(12 * i + 4 * j + k));
    }
  }
}

TEST_CASE("a wrong shape or dtype is an Error that names the file and both sides") {
  const auto wrong_shape = io::load_npy<Matrix<float, 4, 3>>(dir + "f4_3x4.npy");
  REQUIRE_FALSE(wrong_shape);
  CHECK(wrong_shape.error().code == forma::errc::shape_mismatch);
  CHECK(wrong_shape.error().to_string() == dir + "f4_3x4.npy: expected shape (4, 3), file has (3, 4)");
  CHECK(wrong_shape.error().expected == "(4, 3)");
  CHECK(wrong_shape.error().found == "(3, 4)");
  const auto partial = io::load_npy<Matrix<float, dyn, 5>>(dir + "f4_3x4.npy");
  CHECK(partial.error().message == "expected shape (?, 5), file has (3, 4)");
  const auto wrong_rank = io::load_npy<Vector<float, 12>>(dir + "f4_3x4.npy");
  CHECK(wrong_rank.error().message == "expected shape (12,), file has (3, 4)");
  const auto wrong_dtype = io::load_npy<Matrix<float, 2, 3>>(dir + "f8_big_2x3.npy");
  REQUIRE_FALSE(wrong_dtype);
  CHECK(wrong_dtype.error().code == forma::errc::dtype_mismatch);
  CHECK(wrong_dtype.error().to_string() == dir + "f8_big_2x3.npy: expected dtype <f4, file has <f8");
  const auto bf = io::load_npy<Matrix<forma::bf16, 3, 4>>(dir + "f4_3x4.npy");
  CHECK(bf.error().message == "expected dtype bf16, file has <f4");
}

TEST_CASE("dtype conversion is an explicit opt-in") {
  const auto converted = io::load_npy<Matrix<float, 2, 3>>(dir + "f8_big_2x3.npy", {.convert = true});
  REQUIRE(converted);
  CHECK((*converted)(1, 1) == 1.5f);
  const auto from_half = io::load_npy<Vector<float, 5>>(dir + "f2_5.npy", {.convert = true}).value();
  CHECK(from_half(2) == 65504.0f);
  const auto to_bf16 = io::load_npy<Matrix<forma::bf16, 3, 4>>(dir + "f4_3x4.npy", {.convert = true}).value();
  CHECK(static_cast<float>(to_bf16(2, 3)) == 5.5f);
  const auto ints = io::load_npy<Vector<double, 4>>(dir + "i2_4.npy", {.convert = true}).value();
  CHECK(ints(3) == 9.0);
}

TEST_CASE("malformed and hostile files are Errors") {
  CHECK(io::parse_npy(as_bytes("not a numpy file")).error().message == "bad magic: not a .npy file");
  CHECK(io::parse_npy(as_bytes("")).error().message == "bad magic: not a .npy file");
  std::string v4 = npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }");
  v4[6] = '\x04';
  CHECK(io::parse_npy(as_bytes(v4)).error().message == "unsupported .npy version 4.0 (1.0, 2.0 and 3.0 are)");
  const auto object = io::read_npy(dir + "object.npy");
  REQUIRE_FALSE(object);
  CHECK(object.error().code == forma::errc::unsupported);
  CHECK(object.error().message == "object arrays (dtype '|O', pickled Python objects) are refused");
  CHECK(io::read_npy(dir + "structured.npy").error().message.starts_with("structured dtypes are not supported: "));
  // Truncated data: the header promises 3×4 floats.
  const std::string full = read_bytes(dir + "f4_3x4.npy");
  const auto truncated = io::parse_npy(as_bytes(full.substr(0, full.size() - 7)));
  REQUIRE_FALSE(truncated);
  CHECK(truncated.error().code == forma::errc::truncated);
  CHECK(truncated.error().message == "data truncated: header needs 48 bytes, file has 41");
  // The header length points past the end of the file.
  CHECK(io::parse_npy(as_bytes(full.substr(0, 40))).error().message == "the header needs 118 bytes, the file has 30");
  CHECK(io::parse_npy(as_bytes(npy_with("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }"))).error().message ==
        "malformed header (fortran_order must be True or False): {'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }");
  CHECK(io::parse_npy(as_bytes(npy_with("{'descr': '<f4', 'shape': (1,), }"))).error().message.starts_with(
      "malformed header (the keys must be 'descr', 'fortran_order' and 'shape')"));
  CHECK(io::parse_npy(as_bytes(npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}")))
            .error().message.starts_with("malformed header (unexpected or repeated key 'extra')"));
  CHECK(io::parse_npy(as_bytes(npy_with("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }"))).error().message ==
        "unsupported dtype '<c8'");
  CHECK(io::parse_npy(as_bytes(npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }"))).error().message ==
        "malformed header (shape must be a tuple of non-negative integers): {'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }");
  std::string rank65 = "{'descr': '<f4', 'fortran_order': False, 'shape': (1";
  for (int i = 0; i < 64; ++i) rank65 += ", 1";
  CHECK(io::parse_npy(as_bytes(npy_with(rank65 + "), }"))).error().message.starts_with("malformed header (shape has more than 64 axes): {'descr'"));
  CHECK(io::parse_npy(as_bytes(npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': ((1,),), }"))).error().message.starts_with(
      "malformed header (shape must be a tuple"));
  CHECK(io::parse_npy(as_bytes(npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } trailing"))).error().message.starts_with(
      "malformed header (text after the dictionary)"));
  CHECK(io::parse_npy(as_bytes(npy_with("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }"))).error().message.starts_with(
      "malformed header (unexpected or repeated key 'descr')"));
  // A version 2 header whose 4-byte length points past the end of the file.
  std::string v2 = "\x93NUMPY\x02";
  v2.push_back('\0');
  v2 += std::string("\xff\xff\xff\x00", 4);
  CHECK(io::parse_npy(as_bytes(v2 + "{}")).error().message == "the header needs 16777215 bytes, the file has 2");
  v2[11] = '\x7f';
  CHECK(io::parse_npy(as_bytes(v2)).error().message == "header of 2147483647 bytes is too long");
  CHECK(io::parse_npy(as_bytes(v2.substr(0, 10))).error().message == "the file ends inside its header");
  // On disk, the path leads the message.
  const std::string cut = scratch_path("truncated.npy");
  REQUIRE(io::write_file(cut, full.substr(0, full.size() - 7)));
  CHECK(io::load_npy<Matrix<float, 3, 4>>(cut).error().to_string() == cut + ": data truncated: header needs 48 bytes, file has 41");
  std::filesystem::remove(cut);
  // Shapes whose size overflows, and absurd sizes, never allocate.
  CHECK(io::parse_npy(as_bytes(npy_with("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }"))).error().message ==
        "shape (4294967296, 4294967296, 16) overflows");
  CHECK(io::parse_npy(as_bytes(npy_with("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"))).error().message ==
        "data truncated: header needs 8000000000000 bytes, file has 0");
  CHECK(io::parse_npy(as_bytes(npy_with("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", "\x01\x07"))).error().message ==
        "a bool element holds 7, not 0 or 1");
  std::string non_ascii = npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\xC3\xA9");
  CHECK(io::parse_npy(as_bytes(non_ascii)).error().message.starts_with("malformed header (non-ASCII byte"));
  const auto missing = io::read_npy(dir + "no_such.npy");
  CHECK(missing.error().to_string() == dir + "no_such.npy: cannot open: No such file or directory");
}

TEST_CASE("save_npy writes what read_npy reads: C order, a transposed view as Fortran order, every dtype") {
  auto m = Matrix<float, 2, 3>::from_values({{1, 2, 3}, {4, 5, 6}});
  const auto bytes = io::encode_npy(m).value();
  CHECK(bytes.size() % 64 == 24);  // header padded to 64 bytes, then 6 floats
  const auto back = io::to_tensor<Matrix<float, 2, 3>>(io::parse_npy(as_bytes(bytes)).value()).value();
  CHECK(forma::allclose(back, m, {.abs = 0, .rel = 0}));
  const auto transposed = io::encode_npy(forma::transpose(m)).value();
  CHECK(transposed.find("'fortran_order': True") != std::string::npos);
  const auto t = io::to_tensor<Matrix<float, 3, 2>>(io::parse_npy(as_bytes(transposed)).value()).value();
  CHECK(t(2, 1) == 6.0f);
  CHECK(t(0, 1) == 4.0f);
  const auto ints = io::encode_npy(Vector<std::uint16_t, 3>::from_values({1, 2, 65535})).value();
  CHECK(io::to_tensor<Vector<std::uint16_t, 3>>(io::parse_npy(as_bytes(ints)).value()).value()(2) == 65535);
  CHECK(io::encode_npy(Vector<forma::bf16, 2>{}).error().message == "bf16 has no NumPy dtype");
  CHECK(io::save_npy("/nonexistent/dir/x.npy", m).error().to_string() ==
        "/nonexistent/dir/x.npy: cannot create: No such file or directory");
}

TEST_CASE_TEMPLATE("save_npy then load_npy gives back every dtype, 0-d and empty arrays included", T, double, float,
                   forma::f16, std::int64_t, std::int32_t, std::int16_t, std::int8_t, std::uint64_t, std::uint32_t,
                   std::uint16_t, std::uint8_t, bool) {
  Tensor<T, extents<2, 3, 2>> cube;
  for (std::size_t i = 0; i < cube.size(); ++i) cube.data()[i] = static_cast<T>(static_cast<float>(i % 5 == 0 ? 1 : i % 3));
  const std::string path = scratch_path("roundtrip.npy");
  REQUIRE(io::save_npy(path, cube));
  const auto back = io::load_npy<Tensor<T, extents<dyn, 3, dyn>>>(path);
  REQUIRE_MESSAGE(back, forma::testing::error_text(back));
  CHECK(back->extent(2) == 2);
  CHECK(std::memcmp(back->data(), cube.data(), sizeof(T) * cube.size()) == 0);
  const auto header = io::read_npy(path).value();
  CHECK(header.type == forma::dtype_of<T>);
  Tensor<T, extents<>> scalar;
  *scalar.data() = static_cast<T>(1.0f);
  REQUIRE(io::save_npy(path, scalar));
  CHECK(std::memcmp(io::load_npy<Tensor<T, extents<>>>(path).value().data(), scalar.data(), sizeof(T)) == 0);
  REQUIRE(io::save_npy(path, Matrix<T, dyn, 4>(0)));
  CHECK(io::load_npy<Matrix<T, dyn, 4>>(path).value().extent(0) == 0);
  std::filesystem::remove(path);
}
