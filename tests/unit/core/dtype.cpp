// Unit tests: f16 / bf16 conversions (against NumPy and PyTorch) and the dtype vocabulary.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <forma/core/dtype.hpp>

using forma::bf16;
using forma::f16;

namespace {

struct reference_row {
  std::uint32_t f32;
  std::uint16_t f16;
  std::uint16_t bf16;
};

std::vector<reference_row> read_reference() {
  std::ifstream in(FORMA_TEST_DATA_DIR "/dtype/f16_bf16.txt");
  REQUIRE(in.good());
  std::vector<reference_row> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::uint32_t a = 0, b = 0, c = 0;
    fields >> std::hex >> a >> b >> c;
    rows.push_back({a, static_cast<std::uint16_t>(b), static_cast<std::uint16_t>(c)});
  }
  return rows;
}

bool is_nan16(std::uint16_t bits) { return (bits & 0x7C00u) == 0x7C00u && (bits & 0x3FFu) != 0; }
bool is_nan_bf16(std::uint16_t bits) { return (bits & 0x7F80u) == 0x7F80u && (bits & 0x7Fu) != 0; }

}  // namespace

TEST_CASE("f16 and bf16 encode like NumPy and PyTorch (round to nearest even)") {
  const auto rows = read_reference();
  REQUIRE(rows.size() > 6000);
  std::size_t checked = 0;
  for (const auto& row : rows) {
    const float value = std::bit_cast<float>(row.f32);
    const std::uint16_t h = f16(value).bits();
    const std::uint16_t b = bf16(value).bits();
    if (std::isnan(value)) {
      CHECK(is_nan16(h));
      CHECK(is_nan_bf16(b));
      CHECK((h & 0x8000u) == (row.f32 >> 16 & 0x8000u));
    } else {
      INFO("f32 bits 0x" << std::hex << row.f32);
      CHECK(h == row.f16);
      CHECK(b == row.bf16);
    }
    ++checked;
  }
  CHECK(checked == rows.size());
}

TEST_CASE("f16 decodes every bit pattern and re-encodes it unchanged") {
  for (std::uint32_t bits = 0; bits <= 0xFFFFu; ++bits) {
    const auto h = f16::from_bits(static_cast<std::uint16_t>(bits));
    const float value = static_cast<float>(h);
    if (is_nan16(h.bits())) {
      REQUIRE(std::isnan(value));
    } else {
      REQUIRE(f16(value).bits() == h.bits());
    }
  }
}

TEST_CASE("f16 edge values") {
  CHECK(static_cast<float>(f16(65504.0f)) == 65504.0f);
  CHECK(std::isinf(static_cast<float>(f16(65520.0f))));
  CHECK(static_cast<float>(f16(65519.0f)) == 65504.0f);
  CHECK(static_cast<float>(f16(std::ldexp(1.0f, -24))) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(f16(std::ldexp(1.0f, -25)).bits() == 0);  // exactly half the smallest: ties to even (0)
  CHECK(f16(std::ldexp(1.5f, -25)).bits() == 1);
  CHECK(f16(-0.0f).bits() == 0x8000u);
  CHECK(static_cast<float>(f16(1.0f + std::ldexp(1.0f, -11))) == 1.0f);          // tie → even
  CHECK(static_cast<float>(f16(1.0f + 3 * std::ldexp(1.0f, -11))) == 1.0f + std::ldexp(1.0f, -9));
  static_assert(f16(2.0f).bits() == 0x4000u, "f16 conversion is constexpr");
}

TEST_CASE("bf16 edge values") {
  CHECK(bf16(1.0f).bits() == 0x3F80u);
  CHECK(static_cast<float>(bf16(1.0f + std::ldexp(1.0f, -8))) == 1.0f);  // tie → even
  CHECK(static_cast<float>(bf16(1.0f + 3 * std::ldexp(1.0f, -8))) == 1.0f + std::ldexp(1.0f, -6));
  CHECK(std::isinf(static_cast<float>(bf16(std::numeric_limits<float>::max()))));
  CHECK(std::isnan(static_cast<float>(bf16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(bf16(-0.0f).bits() == 0x8000u);
  static_assert(bf16(-2.0f).bits() == 0xC000u, "bf16 conversion is constexpr");
}

TEST_CASE("dtype vocabulary") {
  using forma::dtype;
  static_assert(forma::dtype_of<float> == dtype::f32);
  static_assert(forma::dtype_of<const double> == dtype::f64);
  static_assert(forma::dtype_of<f16> == dtype::f16);
  static_assert(forma::dtype_of<bf16> == dtype::bf16);
  static_assert(forma::dtype_of<std::int8_t> == dtype::i8);
  static_assert(forma::dtype_of<std::uint64_t> == dtype::u64);
  static_assert(forma::dtype_of<bool> == dtype::boolean);
  static_assert(!forma::element<std::string>);
  static_assert(!forma::element<long double>);
  static_assert(forma::arithmetic_element<int> && !forma::arithmetic_element<f16>);
  CHECK(forma::size_of(dtype::bf16) == 2);
  CHECK(forma::size_of(dtype::i64) == 8);
  CHECK(forma::size_of(dtype::boolean) == 1);
  CHECK(forma::name_of(dtype::bf16) == "bf16");
  CHECK(forma::name_of(dtype::u32) == "u32");
  CHECK(forma::convert_element<float>(f16(0.5f)) == 0.5f);
  CHECK(forma::convert_element<bf16>(2.0).bits() == 0x4000u);
  CHECK(forma::convert_element<int>(f16(3.0f)) == 3);
}

TEST_CASE("float to integer conversion saturates instead of invoking undefined behaviour") {
  using forma::convert_element;
  CHECK(convert_element<std::int8_t>(4.7e30f) == 127);
  CHECK(convert_element<std::int8_t>(-4.7e30f) == -128);
  CHECK(convert_element<std::int8_t>(-3.9f) == -3);
  CHECK(convert_element<std::uint8_t>(-1.0) == 0);
  CHECK(convert_element<std::int64_t>(1e300) == std::numeric_limits<std::int64_t>::max());
  CHECK(convert_element<std::int32_t>(std::numeric_limits<float>::quiet_NaN()) == 0);
  CHECK(convert_element<std::int32_t>(forma::f16(70000.0f)) == std::numeric_limits<std::int32_t>::max());  // inf
  CHECK(convert_element<bool>(0.25f));
  CHECK_FALSE(convert_element<bool>(0));
}
