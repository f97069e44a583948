// forma/core/dtype.hpp — element types: the 16-bit float storage types and the dtype vocabulary.
//
// `f16` (IEEE binary16) and `bf16` (bfloat16) are storage types: they hold 16 bits and convert
// to and from float with round-to-nearest-even, keeping infinities, NaN and signed zeros, with
// f16 subnormals handled exactly. Arithmetic happens in float.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>

#include "forma/core/config.hpp"

namespace forma {

namespace detail {
struct from_bits_tag {};
}  // namespace detail

// IEEE 754 binary16: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits.
class f16 {
 public:
  constexpr f16() noexcept = default;
  FORMA_HD constexpr explicit f16(float value) noexcept : bits_(encode(value)) {}
  FORMA_HD constexpr explicit operator float() const noexcept { return decode(bits_); }

  FORMA_HD static constexpr f16 from_bits(std::uint16_t bits) noexcept {
    return f16(detail::from_bits_tag{}, bits);
  }
  FORMA_HD constexpr std::uint16_t bits() const noexcept { return bits_; }

  // Bitwise identity (so NaN == NaN here); numeric comparison goes through float.
  friend constexpr bool operator==(f16, f16) noexcept = default;

  FORMA_HD static constexpr std::uint16_t encode(float value) noexcept {
    const std::uint32_t x = std::bit_cast<std::uint32_t>(value);
    const std::uint32_t sign = (x >> 16) & 0x8000u;
    const std::uint32_t abs = x & 0x7FFFFFFFu;
    if (abs >= 0x7F800000u) {  // inf or NaN; NaN stays a quiet NaN
      return static_cast<std::uint16_t>(sign | 0x7C00u | (abs > 0x7F800000u ? 0x0200u : 0u));
    }
    if (abs >= 0x477FF000u) {  // rounds to ≥ 65520 → overflow to infinity
      return static_cast<std::uint16_t>(sign | 0x7C00u);
    }
    if (abs < 0x38800000u) {  // below 2^-14: f16 subnormal or zero
      if (abs < 0x33000000u) return static_cast<std::uint16_t>(sign);  // < 2^-25: rounds to ±0
      const std::uint32_t exponent = abs >> 23;
      const std::uint32_t mantissa = (abs & 0x7FFFFFu) | 0x800000u;
      const std::uint32_t shift = 126u - exponent;  // 14..24
      const std::uint32_t half = 1u << (shift - 1);
      const std::uint32_t rest = mantissa & ((1u << shift) - 1u);
      std::uint32_t result = mantissa >> shift;
      if (rest > half || (rest == half && (result & 1u))) ++result;
      return static_cast<std::uint16_t>(sign | result);
    }
    // Normal: rebias the exponent (127 → 15) and round the 13 dropped bits to nearest even.
    const std::uint32_t rebased = abs - 0x38000000u;
    const std::uint32_t rest = rebased & 0x1FFFu;
    std::uint32_t result = rebased >> 13;
    if (rest > 0x1000u || (rest == 0x1000u && (result & 1u))) ++result;
    return static_cast<std::uint16_t>(sign | result);
  }

  FORMA_HD static constexpr float decode(std::uint16_t h) noexcept {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t exponent = (h >> 10) & 0x1Fu;
    std::uint32_t mantissa = h & 0x3FFu;
    std::uint32_t bits = 0;
    if (exponent == 0x1Fu) {
      bits = sign | 0x7F800000u | (mantissa << 13);
    } else if (exponent != 0) {
      bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      std::uint32_t e = 113u;
      while ((mantissa & 0x400u) == 0) {
        mantissa <<= 1;
        --e;
      }
      bits = sign | (e << 23) | ((mantissa & 0x3FFu) << 13);
    }
    return std::bit_cast<float>(bits);
  }

 private:
  FORMA_HD constexpr f16(detail::from_bits_tag, std::uint16_t bits) noexcept : bits_(bits) {}
  std::uint16_t bits_ = 0;
};

// bfloat16: the upper half of a binary32 (1 sign, 8 exponent, 7 mantissa bits).
class bf16 {
 public:
  constexpr bf16() noexcept = default;
  FORMA_HD constexpr explicit bf16(float value) noexcept : bits_(encode(value)) {}
  FORMA_HD constexpr explicit operator float() const noexcept { return decode(bits_); }

  FORMA_HD static constexpr bf16 from_bits(std::uint16_t bits) noexcept {
    return bf16(detail::from_bits_tag{}, bits);
  }
  FORMA_HD constexpr std::uint16_t bits() const noexcept { return bits_; }

  friend constexpr bool operator==(bf16, bf16) noexcept = default;

  FORMA_HD static constexpr std::uint16_t encode(float value) noexcept {
    const std::uint32_t x = std::bit_cast<std::uint32_t>(value);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u) {  // NaN: keep the sign, force a quiet NaN
      return static_cast<std::uint16_t>((x >> 16) | 0x0040u);
    }
    const std::uint32_t rounding = 0x7FFFu + ((x >> 16) & 1u);  // nearest, ties to even
    return static_cast<std::uint16_t>((x + rounding) >> 16);
  }

  FORMA_HD static constexpr float decode(std::uint16_t b) noexcept {
    return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
  }

 private:
  FORMA_HD constexpr bf16(detail::from_bits_tag, std::uint16_t bits) noexcept : bits_(bits) {}
  std::uint16_t bits_ = 0;
};

static_assert(sizeof(f16) == 2 && sizeof(bf16) == 2);
static_assert(std::is_trivially_copyable_v<f16> && std::is_trivially_copyable_v<bf16>);

// The element types a tensor, a file or a kernel can name.
enum class dtype : std::uint8_t {
  f64, f32, f16, bf16,
  i8, i16, i32, i64,
  u8, u16, u32, u64,
  boolean,
};

namespace detail {
template <class T>
struct dtype_of_impl;
template <> struct dtype_of_impl<double> { static constexpr dtype value = dtype::f64; };
template <> struct dtype_of_impl<float> { static constexpr dtype value = dtype::f32; };
template <> struct dtype_of_impl<f16> { static constexpr dtype value = dtype::f16; };
template <> struct dtype_of_impl<bf16> { static constexpr dtype value = dtype::bf16; };
template <> struct dtype_of_impl<std::int8_t> { static constexpr dtype value = dtype::i8; };
template <> struct dtype_of_impl<std::int16_t> { static constexpr dtype value = dtype::i16; };
template <> struct dtype_of_impl<std::int32_t> { static constexpr dtype value = dtype::i32; };
template <> struct dtype_of_impl<std::int64_t> { static constexpr dtype value = dtype::i64; };
template <> struct dtype_of_impl<std::uint8_t> { static constexpr dtype value = dtype::u8; };
template <> struct dtype_of_impl<std::uint16_t> { static constexpr dtype value = dtype::u16; };
template <> struct dtype_of_impl<std::uint32_t> { static constexpr dtype value = dtype::u32; };
template <> struct dtype_of_impl<std::uint64_t> { static constexpr dtype value = dtype::u64; };
template <> struct dtype_of_impl<bool> { static constexpr dtype value = dtype::boolean; };
}  // namespace detail

// A type that can be a tensor element: one of the dtypes above.
template <class T>
concept element = requires { detail::dtype_of_impl<std::remove_cv_t<T>>::value; };

// Element types ops compute on directly (f16/bf16 are converted to float first).
template <class T>
concept arithmetic_element = element<T> && std::is_arithmetic_v<std::remove_cv_t<T>> &&
                             !std::is_same_v<std::remove_cv_t<T>, bool>;

template <class T>
concept floating_element = std::is_same_v<std::remove_cv_t<T>, float> ||
                           std::is_same_v<std::remove_cv_t<T>, double>;

template <element T>
inline constexpr dtype dtype_of = detail::dtype_of_impl<std::remove_cv_t<T>>::value;

constexpr std::size_t size_of(dtype type) noexcept {
  switch (type) {
    case dtype::f64: case dtype::i64: case dtype::u64: return 8;
    case dtype::f32: case dtype::i32: case dtype::u32: return 4;
    case dtype::f16: case dtype::bf16: case dtype::i16: case dtype::u16: return 2;
    case dtype::i8: case dtype::u8: case dtype::boolean: return 1;
  }
  return 0;
}

// Short names as the diagnostics print them ("f32", "bf16", ...).
constexpr std::string_view name_of(dtype type) noexcept {
  switch (type) {
    case dtype::f64: return "f64";
    case dtype::f32: return "f32";
    case dtype::f16: return "f16";
    case dtype::bf16: return "bf16";
    case dtype::i8: return "i8";
    case dtype::i16: return "i16";
    case dtype::i32: return "i32";
    case dtype::i64: return "i64";
    case dtype::u8: return "u8";
    case dtype::u16: return "u16";
    case dtype::u32: return "u32";
    case dtype::u64: return "u64";
    case dtype::boolean: return "bool";
  }
  return "?";
}

// Converts between element types, going through float for f16/bf16. Floating point to integer
// truncates toward zero and saturates at the integer's range, NaN becoming 0 (a plain cast of an
// out-of-range float is undefined behaviour); to bool is "not zero".
template <element To, element From>
FORMA_HD constexpr To convert_element(From value) noexcept {
  if constexpr (std::is_same_v<To, From>) {
    return value;
  } else if constexpr (std::is_same_v<From, f16> || std::is_same_v<From, bf16>) {
    return convert_element<To>(static_cast<float>(value));
  } else if constexpr (std::is_same_v<To, f16> || std::is_same_v<To, bf16>) {
    return To(static_cast<float>(value));
  } else if constexpr (std::is_same_v<To, bool>) {
    return value != From{};
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    if (!(value == value)) return To{0};  // NaN
    constexpr To low = std::numeric_limits<To>::min(), high = std::numeric_limits<To>::max();
    if (value <= static_cast<From>(low)) return low;
    // static_cast<From>(high) may round up past high (2^63 − 1 → 2^63): compare with ≥.
    if (value >= static_cast<From>(high)) return high;
    return static_cast<To>(value);
  } else {
    return static_cast<To>(value);
  }
}

}  // namespace forma
