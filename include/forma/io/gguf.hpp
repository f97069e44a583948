// forma/io/gguf.hpp — GGUF files (llama.cpp / ggml): validated, memory-mapped, dequantized.
//
// Layout (little-endian, versions 2 and 3): "GGUF", u32 version, u64 tensor_count, u64 kv_count;
// kv_count metadata entries (string key, u32 value type, value); tensor_count tensor infos (string
// name, u32 n_dims ≤ 4, u64 dims fastest-first — ne[0] is the row length —, u32 ggml type, u64
// offset into the data section); then, at the next multiple of general.alignment (default 32), the
// data section. A string is a u64 length and its bytes; an array is a u32 element type, a u64 count
// and the elements (arrays may hold strings and other arrays).
//
// Opening validates everything before a tensor is touched: every count and string length against
// the bytes left (before anything is allocated), value types, bools 0 or 1, array nesting ≤ 8,
// unique keys and tensor names, general.alignment (a uint32, a power of two), n_dims, known ggml
// types, ne[0] a multiple of the type's block, element and byte counts (overflow-checked), offsets
// aligned, tensors inside the data section and not overlapping. Errors are one line and name the
// file; names and keys from the file are printed escaped.
//
//   auto file = gguf::File::open("model.gguf");                         // Result<File>
//   auto arch = file->get<std::string_view>("general.architecture");    // exact type, Result
//   auto ctx = file->get_int<std::uint64_t>("llama.context_length");    // any integer type that fits
//   auto tokens = file->get_array<std::string_view>("tokenizer.ggml.tokens");
//   auto w = file->tensor("blk.0.attn_q.weight");                       // Result<const TensorInfo*>
//   auto values = file->dequantize(**w);                                 // Result<std::vector<float>>
//   auto y0 = file->dot_row(**w, 0, x);                                  // Σ_i w[0, i]·x[i], one row
// Dequantized types: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K (block layouts as ggml's;
// the arithmetic is ggml's reference dequantization, so results equal gguf-py's bit for bit when
// built without floating-point contraction, which forma's targets are: -ffp-contract=off). Other
// known types parse, and dequantize() says they are not supported yet.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "forma/core/dtype.hpp"
#include "forma/core/error.hpp"
#include "forma/io/mmap.hpp"

namespace forma::io::gguf {

inline constexpr std::uint32_t magic = 0x46554747;  // "GGUF" read as a little-endian u32
inline constexpr std::uint32_t default_alignment = 32;
inline constexpr std::uint32_t max_dims = 4;
inline constexpr std::size_t max_array_depth = 8;  // an array inside arrays inside ... (8 levels)

// ---- metadata value types ------------------------------------------------------------------------

enum class value_type : std::uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
  string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12,
};

inline constexpr bool valid(value_type t) noexcept { return static_cast<std::uint32_t>(t) <= 12; }

constexpr std::string_view name_of(value_type t) noexcept {
  switch (t) {
    case value_type::u8: return "uint8";
    case value_type::i8: return "int8";
    case value_type::u16: return "uint16";
    case value_type::i16: return "int16";
    case value_type::u32: return "uint32";
    case value_type::i32: return "int32";
    case value_type::f32: return "float32";
    case value_type::boolean: return "bool";
    case value_type::string: return "string";
    case value_type::array: return "array";
    case value_type::u64: return "uint64";
    case value_type::i64: return "int64";
    case value_type::f64: return "float64";
  }
  return "?";
}

// Bytes of a fixed-size value; 0 for string and array.
constexpr std::size_t fixed_size(value_type t) noexcept {
  switch (t) {
    case value_type::u8: case value_type::i8: case value_type::boolean: return 1;
    case value_type::u16: case value_type::i16: return 2;
    case value_type::u32: case value_type::i32: case value_type::f32: return 4;
    case value_type::u64: case value_type::i64: case value_type::f64: return 8;
    case value_type::string: case value_type::array: return 0;
  }
  return 0;
}

template <class T> struct value_type_of;
template <> struct value_type_of<std::uint8_t> { static constexpr value_type value = value_type::u8; };
template <> struct value_type_of<std::int8_t> { static constexpr value_type value = value_type::i8; };
template <> struct value_type_of<std::uint16_t> { static constexpr value_type value = value_type::u16; };
template <> struct value_type_of<std::int16_t> { static constexpr value_type value = value_type::i16; };
template <> struct value_type_of<std::uint32_t> { static constexpr value_type value = value_type::u32; };
template <> struct value_type_of<std::int32_t> { static constexpr value_type value = value_type::i32; };
template <> struct value_type_of<std::uint64_t> { static constexpr value_type value = value_type::u64; };
template <> struct value_type_of<std::int64_t> { static constexpr value_type value = value_type::i64; };
template <> struct value_type_of<float> { static constexpr value_type value = value_type::f32; };
template <> struct value_type_of<double> { static constexpr value_type value = value_type::f64; };
template <> struct value_type_of<bool> { static constexpr value_type value = value_type::boolean; };
template <> struct value_type_of<std::string_view> { static constexpr value_type value = value_type::string; };

// ---- ggml tensor types ---------------------------------------------------------------------------

enum class tensor_type : std::uint32_t {
  f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9,
  q2_k = 10, q3_k = 11, q4_k = 12, q5_k = 13, q6_k = 14, q8_k = 15,
  iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20, iq3_s = 21, iq2_s = 22, iq4_xs = 23,
  i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_m = 29, bf16 = 30, tq1_0 = 34, tq2_0 = 35,
  mxfp4 = 39,
};

struct TypeTraits {
  std::string_view name;  // as ggml spells it: "Q4_K"
  std::uint32_t block = 0;  // elements per block
  std::uint32_t bytes = 0;  // bytes per block
  bool dequantizable = false;
};

// The traits of ggml type number `type`, or nothing for a number ggml does not define.
inline std::optional<TypeTraits> traits(std::uint32_t type) noexcept {
  switch (type) {
    case 0: return TypeTraits{"F32", 1, 4, true};
    case 1: return TypeTraits{"F16", 1, 2, true};
    case 2: return TypeTraits{"Q4_0", 32, 18, true};
    case 3: return TypeTraits{"Q4_1", 32, 20, true};
    case 6: return TypeTraits{"Q5_0", 32, 22, true};
    case 7: return TypeTraits{"Q5_1", 32, 24, true};
    case 8: return TypeTraits{"Q8_0", 32, 34, true};
    case 9: return TypeTraits{"Q8_1", 32, 40, false};
    case 10: return TypeTraits{"Q2_K", 256, 84, true};
    case 11: return TypeTraits{"Q3_K", 256, 110, true};
    case 12: return TypeTraits{"Q4_K", 256, 144, true};
    case 13: return TypeTraits{"Q5_K", 256, 176, true};
    case 14: return TypeTraits{"Q6_K", 256, 210, true};
    case 15: return TypeTraits{"Q8_K", 256, 292, false};
    case 16: return TypeTraits{"IQ2_XXS", 256, 66, false};
    case 17: return TypeTraits{"IQ2_XS", 256, 74, false};
    case 18: return TypeTraits{"IQ3_XXS", 256, 98, false};
    case 19: return TypeTraits{"IQ1_S", 256, 50, false};
    case 20: return TypeTraits{"IQ4_NL", 32, 18, false};
    case 21: return TypeTraits{"IQ3_S", 256, 110, false};
    case 22: return TypeTraits{"IQ2_S", 256, 82, false};
    case 23: return TypeTraits{"IQ4_XS", 256, 136, false};
    case 24: return TypeTraits{"I8", 1, 1, false};
    case 25: return TypeTraits{"I16", 1, 2, false};
    case 26: return TypeTraits{"I32", 1, 4, false};
    case 27: return TypeTraits{"I64", 1, 8, false};
    case 28: return TypeTraits{"F64", 1, 8, false};
    case 29: return TypeTraits{"IQ1_M", 256, 56, false};
    case 30: return TypeTraits{"BF16", 1, 2, true};
    case 34: return TypeTraits{"TQ1_0", 256, 54, false};
    case 35: return TypeTraits{"TQ2_0", 256, 66, false};
    case 39: return TypeTraits{"MXFP4", 32, 17, false};
    default: return std::nullopt;
  }
}

inline std::string_view name_of(tensor_type t) noexcept {
  const auto info = traits(static_cast<std::uint32_t>(t));
  return info ? info->name : std::string_view("?");
}

// ---- helpers ---------------------------------------------------------------------------------------

namespace detail {

// A name or key from the file as an error message may print it: printable ASCII kept, other bytes
// as \xNN, \\ and \" escaped, at most 80 characters of the original. Keeps every Error on one line.
inline std::string printable(std::string_view text) {
  std::string out;
  const std::size_t n = std::min<std::size_t>(text.size(), 80);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\\' || c == '"') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (text.size() > n) out += "...";
  return out;
}

inline Error bad(std::string message) { return make_error(errc::bad_format, std::move(message)); }
inline Error short_file(std::string message) { return make_error(errc::truncated, std::move(message)); }

template <class T>
T load(const std::byte* p) noexcept {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}
inline float half(const std::byte* p) noexcept { return static_cast<float>(f16::from_bits(load<std::uint16_t>(p))); }
inline std::uint8_t u8(const std::byte* p, std::size_t i) noexcept { return static_cast<std::uint8_t>(p[i]); }

}  // namespace detail

// A name, key or string from a file as forma prints it on one line: printable ASCII, other bytes as
// \xNN, at most 80 characters of the original.
inline std::string printable(std::string_view text) { return detail::printable(text); }

// ---- block dequantization (ggml's reference arithmetic, one block at a time) ---------------------------

namespace kernels {

using detail::half;
using detail::u8;

// Q8_0: f16 d, int8 q[32]; y = q·d.
inline void q8_0(const std::byte* b, float* y) noexcept {
  const float d = half(b);
  for (int i = 0; i < 32; ++i) y[i] = static_cast<float>(static_cast<std::int8_t>(u8(b, 2 + i))) * d;
}
// Q4_0: f16 d, u8 qs[16]; y[j] = (lo(qs[j]) − 8)·d, y[j+16] = (hi(qs[j]) − 8)·d.
inline void q4_0(const std::byte* b, float* y) noexcept {
  const float d = half(b);
  for (int j = 0; j < 16; ++j) {
    const std::uint8_t q = u8(b, 2 + j);
    y[j] = d * static_cast<float>((q & 0x0F) - 8);
    y[j + 16] = d * static_cast<float>((q >> 4) - 8);
  }
}
// Q4_1: f16 d, f16 m, u8 qs[16]; y = d·q + m.
inline void q4_1(const std::byte* b, float* y) noexcept {
  const float d = half(b), m = half(b + 2);
  for (int j = 0; j < 16; ++j) {
    const std::uint8_t q = u8(b, 4 + j);
    y[j] = d * static_cast<float>(q & 0x0F) + m;
    y[j + 16] = d * static_cast<float>(q >> 4) + m;
  }
}
// Q5_0: f16 d, u32 qh, u8 qs[16]; the fifth bit of element j is bit j of qh; y = (q − 16)·d.
inline void q5_0(const std::byte* b, float* y) noexcept {
  const float d = half(b);
  const auto qh = detail::load<std::uint32_t>(b + 2);
  for (int j = 0; j < 16; ++j) {
    const std::uint8_t q = u8(b, 6 + j);
    const int x0 = (q & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    const int x1 = (q >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = d * static_cast<float>(x0 - 16);
    y[j + 16] = d * static_cast<float>(x1 - 16);
  }
}
// Q5_1: f16 d, f16 m, u32 qh, u8 qs[16]; y = d·q + m.
inline void q5_1(const std::byte* b, float* y) noexcept {
  const float d = half(b), m = half(b + 2);
  const auto qh = detail::load<std::uint32_t>(b + 4);
  for (int j = 0; j < 16; ++j) {
    const std::uint8_t q = u8(b, 8 + j);
    const int x0 = (q & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    const int x1 = (q >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = d * static_cast<float>(x0) + m;
    y[j + 16] = d * static_cast<float>(x1) + m;
  }
}

// The 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes of Q4_K / Q5_K.
inline void scale_min_k4(int j, const std::byte* q, std::uint8_t& scale, std::uint8_t& min) noexcept {
  if (j < 4) {
    scale = u8(q, j) & 63;
    min = u8(q, j + 4) & 63;
  } else {
    scale = static_cast<std::uint8_t>((u8(q, j + 4) & 0x0F) | ((u8(q, j - 4) >> 6) << 4));
    min = static_cast<std::uint8_t>((u8(q, j + 4) >> 4) | ((u8(q, j) >> 6) << 4));
  }
}

// Q2_K (256): scales[16] (low nibble scale, high nibble min), qs[64], f16 d, f16 dmin; sixteen
// sub-blocks of 16 with 2-bit q: y = (d·sc)·q − dmin·m. Sub-block k reads bits 2·((k mod 8) / 2) of
// qs[32·(k / 8) + 16·(k mod 2) + i].
inline void q2_k(const std::byte* b, float* y) noexcept {
  const float d = half(b + 80), dmin = half(b + 82);
  for (int k = 0; k < 16; ++k) {
    const std::uint8_t sc = u8(b, k);
    const float dl = d * static_cast<float>(sc & 0x0F), ml = dmin * static_cast<float>(sc >> 4);
    const int shift = 2 * ((k % 8) / 2);
    const std::byte* q = b + 16 + 32 * (k / 8) + 16 * (k % 2);
    for (int i = 0; i < 16; ++i) y[16 * k + i] = dl * static_cast<float>((u8(q, i) >> shift) & 3) - ml;
  }
}
// Q3_K (256): hmask[32], qs[64], scales[12] (sixteen 6-bit scales, biased by 32), f16 d; sixteen
// sub-blocks of 16: y = (d·sc)·(q − 4·(1 − h)), q two bits of qs as in Q2_K, h bit k / 2 of hmask.
inline void q3_k(const std::byte* b, float* y) noexcept {
  const float d = half(b + 108);
  const std::byte* scales = b + 96;
  for (int k = 0; k < 16; ++k) {
    const int low = (k < 8 ? u8(scales, k) : u8(scales, k - 8) >> 4) & 0x0F;
    const int high = (u8(scales, 8 + k % 4) >> (2 * (k / 4))) & 3;
    const float dl = d * static_cast<float>((low | (high << 4)) - 32);
    const int shift = 2 * ((k % 8) / 2);
    const std::byte* q = b + 32 + 32 * (k / 8) + 16 * (k % 2);
    const std::byte* hm = b + 16 * (k % 2);
    for (int i = 0; i < 16; ++i) {
      const int h = (u8(hm, i) >> (k / 2)) & 1;
      y[16 * k + i] = dl * static_cast<float>(((u8(q, i) >> shift) & 3) - (h ? 0 : 4));
    }
  }
}
// Q4_K (256): f16 d, f16 dmin, scales[12], qs[128]; eight sub-blocks of 32: y = d·sc·q − dmin·m.
inline void q4_k(const std::byte* b, float* y) noexcept {
  const float d = half(b), dmin = half(b + 2);
  const std::byte* scales = b + 4;
  const std::byte* q = b + 16;
  for (int chunk = 0; chunk < 4; ++chunk) {
    std::uint8_t sc = 0, m = 0;
    scale_min_k4(2 * chunk, scales, sc, m);
    const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
    scale_min_k4(2 * chunk + 1, scales, sc, m);
    const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) {
      const std::uint8_t v = u8(q, 32 * chunk + l);
      y[64 * chunk + l] = d1 * static_cast<float>(v & 0x0F) - m1;
      y[64 * chunk + 32 + l] = d2 * static_cast<float>(v >> 4) - m2;
    }
  }
}
// Q5_K (256): f16 d, f16 dmin, scales[12], qh[32], qs[128]; the fifth bit of sub-block s is bit s of qh.
inline void q5_k(const std::byte* b, float* y) noexcept {
  const float d = half(b), dmin = half(b + 2);
  const std::byte* scales = b + 4;
  const std::byte* qh = b + 16;
  const std::byte* ql = b + 48;
  for (int chunk = 0; chunk < 4; ++chunk) {
    std::uint8_t sc = 0, m = 0;
    scale_min_k4(2 * chunk, scales, sc, m);
    const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
    scale_min_k4(2 * chunk + 1, scales, sc, m);
    const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) {
      const std::uint8_t v = u8(ql, 32 * chunk + l);
      const std::uint8_t h = u8(qh, l);
      const int lo = (v & 0x0F) | (((h >> (2 * chunk)) & 1) << 4);
      const int hi = (v >> 4) | (((h >> (2 * chunk + 1)) & 1) << 4);
      y[64 * chunk + l] = d1 * static_cast<float>(lo) - m1;
      y[64 * chunk + 32 + l] = d2 * static_cast<float>(hi) - m2;
    }
  }
}
// Q6_K (256): ql[128], qh[64], int8 scales[16], f16 d; sixteen sub-blocks of 16: y = (d·sc)·(q − 32).
inline void q6_k(const std::byte* b, float* y) noexcept {
  const float d = half(b + 208);
  for (int h = 0; h < 2; ++h) {
    const std::byte* ql = b + 64 * h;
    const std::byte* qh = b + 128 + 32 * h;
    const std::byte* sc = b + 192 + 8 * h;
    float* out = y + 128 * h;
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const std::uint8_t a = u8(ql, l), c = u8(ql, l + 32), hb = u8(qh, l);
      const int q1 = ((a & 0x0F) | (((hb >> 0) & 3) << 4)) - 32;
      const int q2 = ((c & 0x0F) | (((hb >> 2) & 3) << 4)) - 32;
      const int q3 = ((a >> 4) | (((hb >> 4) & 3) << 4)) - 32;
      const int q4 = ((c >> 4) | (((hb >> 6) & 3) << 4)) - 32;
      const auto scale = [&](int k) { return d * static_cast<float>(static_cast<std::int8_t>(u8(sc, k))); };
      out[l] = scale(is) * static_cast<float>(q1);
      out[l + 32] = scale(is + 2) * static_cast<float>(q2);
      out[l + 64] = scale(is + 4) * static_cast<float>(q3);
      out[l + 96] = scale(is + 6) * static_cast<float>(q4);
    }
  }
}

}  // namespace kernels

// Dequantizes `count` elements of `type` (a multiple of its block) from `src` into `y`. False for a
// type forma does not dequantize.
inline bool dequantize_run(tensor_type type, const std::byte* src, std::size_t count, float* y) noexcept {
  const auto blocks = [&](std::size_t block, std::size_t bytes, void (*kernel)(const std::byte*, float*)) {
    for (std::size_t i = 0; i < count / block; ++i) kernel(src + i * bytes, y + i * block);
    return true;
  };
  switch (type) {
    case tensor_type::f32:
      if (count > 0) std::memcpy(y, src, count * sizeof(float));
      return true;
    case tensor_type::f16:
      for (std::size_t i = 0; i < count; ++i) y[i] = detail::half(src + 2 * i);
      return true;
    case tensor_type::bf16:
      for (std::size_t i = 0; i < count; ++i) y[i] = static_cast<float>(bf16::from_bits(detail::load<std::uint16_t>(src + 2 * i)));
      return true;
    case tensor_type::q8_0: return blocks(32, 34, kernels::q8_0);
    case tensor_type::q4_0: return blocks(32, 18, kernels::q4_0);
    case tensor_type::q4_1: return blocks(32, 20, kernels::q4_1);
    case tensor_type::q5_0: return blocks(32, 22, kernels::q5_0);
    case tensor_type::q5_1: return blocks(32, 24, kernels::q5_1);
    case tensor_type::q2_k: return blocks(256, 84, kernels::q2_k);
    case tensor_type::q3_k: return blocks(256, 110, kernels::q3_k);
    case tensor_type::q4_k: return blocks(256, 144, kernels::q4_k);
    case tensor_type::q5_k: return blocks(256, 176, kernels::q5_k);
    case tensor_type::q6_k: return blocks(256, 210, kernels::q6_k);
    default: return false;
  }
}

// ---- metadata values -----------------------------------------------------------------------------------

// One metadata value, viewing the file's bytes (valid while the File lives).
class Value {
 public:
  value_type type() const noexcept { return type_; }

  // A scalar of exactly type T (std::string_view for strings); nothing for another type.
  template <class T>
  std::optional<T> get() const noexcept {
    if (type_ != value_type_of<T>::value) return std::nullopt;
    if constexpr (std::is_same_v<T, std::string_view>) {
      return string_;
    } else if constexpr (std::is_same_v<T, bool>) {
      return bits_ != 0;
    } else {
      T value;
      std::memcpy(&value, &bits_, sizeof(T));
      return value;
    }
  }
  // Any integer scalar (or bool) that fits T.
  template <class T>
  std::optional<T> get_int() const noexcept {
    static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
    const auto fits = [](auto v) -> std::optional<T> {
      if (std::in_range<T>(v)) return static_cast<T>(v);
      return std::nullopt;
    };
    switch (type_) {
      case value_type::u8: case value_type::u16: case value_type::u32: case value_type::u64:
      case value_type::boolean:
        return fits(bits_);
      case value_type::i8: return fits(*get<std::int8_t>());
      case value_type::i16: return fits(*get<std::int16_t>());
      case value_type::i32: return fits(*get<std::int32_t>());
      case value_type::i64: return fits(*get<std::int64_t>());
      default: return std::nullopt;
    }
  }

  // Arrays: the element type, the length, and the elements.
  bool is_array() const noexcept { return type_ == value_type::array; }
  value_type element_type() const noexcept { return element_; }
  std::size_t size() const noexcept { return count_; }
  // Element i of an array of fixed-size T (exact type); nothing out of range or for another type.
  template <class T>
  std::optional<T> element(std::size_t i) const noexcept {
    if (type_ != value_type::array || element_ != value_type_of<T>::value || i >= count_) return std::nullopt;
    if constexpr (std::is_same_v<T, std::string_view>) {
      return strings_[i];
    } else if constexpr (std::is_same_v<T, bool>) {
      return raw_[i] != std::byte{0};
    } else {
      return detail::load<T>(raw_.data() + i * sizeof(T));
    }
  }
  std::span<const std::string_view> strings() const noexcept { return strings_; }  // arrays of strings
  std::span<const Value> arrays() const noexcept { return arrays_; }                 // arrays of arrays
  std::span<const std::byte> raw() const noexcept { return raw_; }                   // arrays of fixed-size values

  // The value as gguf-dump prints it: 42, 0.5, true, "text" (escaped), arrays abbreviated to their
  // first `items` elements (one fewer at each level of nesting): [string x 50257: "!", "\"", ...].
  std::string text(std::size_t items = 5) const {
    if (type_ != value_type::array) return scalar_text();
    std::string out = "[" + std::string(name_of(element_)) + " x " + std::to_string(count_) + ":";
    const std::size_t shown = std::min(count_, items);
    for (std::size_t i = 0; i < shown; ++i) {
      out += i == 0 ? " " : ", ";
      if (element_ == value_type::string) {
        out += '"' + detail::printable(strings_[i]) + '"';
      } else if (element_ == value_type::array) {
        out += arrays_[i].text(items > 1 ? items - 1 : 1);  // fewer per level: bounded however deep
      } else {
        Value item;
        item.type_ = element_;
        std::memcpy(&item.bits_, raw_.data() + i * fixed_size(element_), fixed_size(element_));
        out += item.scalar_text();
      }
    }
    if (shown < count_) out += ", ...";
    return out + "]";
  }

 private:
  friend class File;

  std::string scalar_text() const {
    switch (type_) {
      case value_type::u8: case value_type::u16: case value_type::u32: case value_type::u64:
        return std::to_string(bits_);
      case value_type::i8: return std::to_string(*get<std::int8_t>());
      case value_type::i16: return std::to_string(*get<std::int16_t>());
      case value_type::i32: return std::to_string(*get<std::int32_t>());
      case value_type::i64: return std::to_string(*get<std::int64_t>());
      case value_type::f32: return number_text(*get<float>());
      case value_type::f64: return number_text(*get<double>());
      case value_type::boolean: return bits_ ? "true" : "false";
      case value_type::string: return '"' + detail::printable(string_) + '"';
      case value_type::array: return "[...]";
    }
    return "?";
  }
  static std::string number_text(double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.9g", v);
    return buffer;
  }

  value_type type_ = value_type::u8;
  value_type element_ = value_type::u8;
  std::uint64_t bits_ = 0;  // a fixed-size scalar's bytes (little-endian, zero-extended)
  std::string_view string_;
  std::size_t count_ = 0;
  std::span<const std::byte> raw_;
  std::vector<std::string_view> strings_;
  std::vector<Value> arrays_;
};

struct KeyValue {
  std::string_view key;
  Value value;
};

// ---- tensors -----------------------------------------------------------------------------------------

struct TensorInfo {
  std::string_view name;
  std::uint32_t n_dims = 0;
  std::array<std::uint64_t, max_dims> ne{1, 1, 1, 1};  // fastest-first: ne[0] is the row length
  tensor_type type = tensor_type::f32;
  std::uint64_t offset = 0;  // from the start of the data section
  std::uint64_t elements = 0;
  std::uint64_t bytes = 0;

  std::span<const std::uint64_t> dims() const noexcept { return {ne.data(), n_dims}; }
  std::uint64_t row_length() const noexcept { return ne[0]; }
  std::uint64_t rows() const noexcept { return ne[0] == 0 ? 0 : elements / ne[0]; }
  std::uint64_t row_bytes() const noexcept { return ne[0] == 0 ? 0 : bytes / rows(); }
};

// ---- the file ------------------------------------------------------------------------------------------

class File {
 public:
  // Validates `bytes` in place; the caller keeps them alive as long as the File.
  static Result<File> from_bytes(std::span<const std::byte> bytes) {
    File file;
    file.bytes_ = bytes;
    if (auto ok = file.validate(); !ok) return std::move(ok).error();
    return file;
  }

  // Maps and validates `path`; the File owns the mapping.
  static Result<File> open(const std::string& path) {
    auto mapped = MappedFile::open(path);
    if (!mapped) return std::move(mapped).error();
    File file;
    file.bytes_ = mapped->bytes();
    file.file_.emplace(std::move(*mapped));
    if (auto ok = file.validate(); !ok) return std::move(ok).error().with_path(path);
    return file;
  }

  std::uint32_t version() const noexcept { return version_; }
  std::uint32_t alignment() const noexcept { return alignment_; }
  std::size_t data_offset() const noexcept { return data_offset_; }
  std::string path() const { return file_ ? file_->path() : std::string(); }

  // ---- metadata, in file order
  const std::vector<KeyValue>& metadata() const noexcept { return metadata_; }
  const Value* find(std::string_view key) const noexcept {
    const auto it = std::lower_bound(keys_.begin(), keys_.end(), key,
                                     [this](std::size_t i, std::string_view k) { return metadata_[i].key < k; });
    return it != keys_.end() && metadata_[*it].key == key ? &metadata_[*it].value : nullptr;
  }
  Result<const Value*> value(std::string_view key) const {
    if (const Value* v = find(key)) return v;
    return with_file(make_error(errc::not_found, "no metadata key '" + detail::printable(key) + "'"));
  }
  // A scalar of exactly type T: std::uint32_t, float, bool, std::string_view, ...
  template <class T>
  Result<T> get(std::string_view key) const {
    auto v = value(key);
    if (!v) return std::move(v).error();
    if (auto x = (*v)->template get<T>()) return *x;
    return type_error(key, std::string(name_of(value_type_of<T>::value)), **v);
  }
  // Any integer scalar whose value fits T.
  template <class T>
  Result<T> get_int(std::string_view key) const {
    auto v = value(key);
    if (!v) return std::move(v).error();
    if (auto x = (*v)->template get_int<T>()) return *x;
    const value_type t = (*v)->type();
    if (t == value_type::array || t == value_type::string || t == value_type::f32 || t == value_type::f64) {
      return type_error(key, "an integer", **v);
    }
    return with_file(make_error(errc::out_of_range, "metadata '" + detail::printable(key) + "': " + (*v)->text() +
                                                        " does not fit the requested integer type"));
  }
  // An array of exactly T (a copy; std::string_view elements view the file).
  template <class T>
  Result<std::vector<T>> get_array(std::string_view key) const {
    auto v = value(key);
    if (!v) return std::move(v).error();
    const Value& a = **v;
    if (!a.is_array() || a.element_type() != value_type_of<T>::value) {
      return type_error(key, "array of " + std::string(name_of(value_type_of<T>::value)), a);
    }
    if constexpr (std::is_same_v<T, std::string_view>) {
      return std::vector<T>(a.strings().begin(), a.strings().end());
    } else {
      std::vector<T> out(a.size());
      for (std::size_t i = 0; i < out.size(); ++i) out[i] = *a.template element<T>(i);
      return out;
    }
  }

  // ---- tensors, in file order
  const std::vector<TensorInfo>& tensors() const noexcept { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const noexcept {
    const auto it = std::lower_bound(names_.begin(), names_.end(), name,
                                     [this](std::size_t i, std::string_view k) { return tensors_[i].name < k; });
    return it != names_.end() && tensors_[*it].name == name ? &tensors_[*it] : nullptr;
  }
  Result<const TensorInfo*> tensor(std::string_view name) const {
    if (const TensorInfo* t = find_tensor(name)) return t;
    return with_file(make_error(errc::not_found, "no such tensor").with_tensor(detail::printable(name)));
  }
  std::span<const std::byte> bytes(const TensorInfo& t) const noexcept {
    return bytes_.subspan(data_offset_ + t.offset, t.bytes);
  }

  // All elements as float, in ggml order (row after row, ne[0] per row).
  Result<std::vector<float>> dequantize(const TensorInfo& t) const {
    if (auto ok = check_dequantizable(t); !ok) return std::move(ok).error();
    std::vector<float> out(t.elements);
    dequantize_run(t.type, bytes(t).data(), out.size(), out.data());
    return out;
  }
  Result<void> dequantize(const TensorInfo& t, std::span<float> out) const {
    if (auto ok = check_dequantizable(t); !ok) return ok;
    if (out.size() != t.elements) {
      return with_file(mismatch(errc::shape_mismatch, "a buffer of", std::to_string(t.elements) + " floats",
                                std::to_string(out.size()), "got")
                           .with_tensor(detail::printable(t.name)));
    }
    dequantize_run(t.type, bytes(t).data(), out.size(), out.data());
    return {};
  }
  // Row `row` (ne[0] floats) into `out`.
  Result<void> dequantize_row(const TensorInfo& t, std::uint64_t row, std::span<float> out) const {
    if (auto ok = check_row(t, row); !ok) return ok;
    if (out.size() != t.ne[0]) {
      return with_file(mismatch(errc::shape_mismatch, "a row buffer of", std::to_string(t.ne[0]) + " floats",
                                std::to_string(out.size()), "got")
                           .with_tensor(detail::printable(t.name)));
    }
    dequantize_run(t.type, bytes(t).data() + row * t.row_bytes(), out.size(), out.data());
    return {};
  }
  // Σ_i w[row, i]·x[i] over the row's ne[0] elements, `x` holding ne[0] floats. Dequantizes one
  // block (≤ 256 elements) at a time into a stack buffer and sums the products in double, so the
  // result is the float nearest the exact dot product of the dequantized row with x, or within a
  // few ulp of it.
  Result<float> dot_row(const TensorInfo& t, std::uint64_t row, const float* x) const {
    if (auto ok = check_row(t, row); !ok) return std::move(ok).error();
    const auto info = *traits(static_cast<std::uint32_t>(t.type));
    const std::size_t chunk = info.block == 1 ? 256 : info.block;  // elements per step
    const std::size_t chunk_bytes = chunk / info.block * info.bytes;
    const std::byte* src = bytes(t).data() + row * t.row_bytes();
    std::array<float, 256> w;
    double sum = 0;
    for (std::size_t i = 0; i < t.ne[0]; i += chunk) {
      const std::size_t n = std::min<std::size_t>(chunk, t.ne[0] - i);
      dequantize_run(t.type, src + i / chunk * chunk_bytes, n, w.data());
      for (std::size_t k = 0; k < n; ++k) sum += static_cast<double>(w[k]) * static_cast<double>(x[i + k]);
    }
    return static_cast<float>(sum);
  }

 private:
  Error with_file(Error error) const { return file_ ? std::move(error).with_path(file_->path()) : error; }

  Error type_error(std::string_view key, const std::string& wanted, const Value& v) const {
    const std::string found = v.is_array() ? "array of " + std::string(name_of(v.element_type())) : std::string(name_of(v.type()));
    Error e = mismatch(errc::dtype_mismatch, "metadata '" + detail::printable(key) + "' to be", wanted, found, "file has");
    return with_file(std::move(e));
  }

  Result<void> check_dequantizable(const TensorInfo& t) const {
    const auto info = traits(static_cast<std::uint32_t>(t.type));
    if (info && info->dequantizable) return {};
    return with_file(make_error(errc::unsupported, "cannot dequantize type " + std::string(name_of(t.type)) + " yet")
                         .with_tensor(detail::printable(t.name)));
  }
  Result<void> check_row(const TensorInfo& t, std::uint64_t row) const {
    if (auto ok = check_dequantizable(t); !ok) return ok;
    if (row >= t.rows()) {
      return with_file(make_error(errc::out_of_range, "row " + std::to_string(row) + " of " + std::to_string(t.rows()))
                           .with_tensor(detail::printable(t.name)));
    }
    return {};
  }

  // ---- parsing

  Result<std::string_view> read_string(ByteReader& r, const std::string& what) const {
    std::uint64_t length = 0;
    if (!r.read(length)) return detail::short_file("the file ends inside the length of " + what);
    if (length > r.remaining()) {
      return detail::short_file(what + ": length " + std::to_string(length) + " runs past the end of the file (" +
                                std::to_string(r.remaining()) + " bytes left)");
    }
    std::span<const std::byte> text;
    r.read_bytes(static_cast<std::size_t>(length), text);
    return std::string_view(reinterpret_cast<const char*>(text.data()), text.size());
  }

  // A value of type `type`, read from `r`; `what` names it for errors.
  Result<Value> read_value(ByteReader& r, value_type type, std::size_t depth, const std::string& what) const {
    using detail::bad;
    using detail::short_file;
    if (!valid(type)) return bad(what + ": unknown value type " + std::to_string(static_cast<std::uint32_t>(type)));
    Value v;
    v.type_ = type;
    if (const std::size_t size = fixed_size(type); size != 0) {
      std::span<const std::byte> raw;
      if (!r.read_bytes(size, raw)) return short_file(what + ": the file ends inside the value");
      std::memcpy(&v.bits_, raw.data(), size);
      if (type == value_type::boolean && v.bits_ > 1) return bad(what + ": bool " + std::to_string(v.bits_) + " is not 0 or 1");
      return v;
    }
    if (type == value_type::string) {
      auto s = read_string(r, what);
      if (!s) return std::move(s).error();
      v.string_ = *s;
      return v;
    }
    std::uint32_t element = 0;
    std::uint64_t count = 0;
    if (!r.read(element) || !r.read(count)) return short_file(what + ": the file ends inside the array header");
    v.element_ = static_cast<value_type>(element);
    if (!valid(v.element_)) return bad(what + ": unknown array element type " + std::to_string(element));
    if (v.element_ == value_type::array && depth + 1 >= max_array_depth) {
      return make_error(errc::unsupported, what + ": arrays nested more than " + std::to_string(max_array_depth) + " deep");
    }
    // The least bytes one element takes: its size, a string's length, an array's type and count.
    const std::size_t least = v.element_ == value_type::string ? 8 : v.element_ == value_type::array ? 12 : fixed_size(v.element_);
    if (count > r.remaining() / least) {
      return short_file(what + ": " + std::to_string(count) + " " + std::string(name_of(v.element_)) +
                        " elements cannot fit in the " + std::to_string(r.remaining()) + " bytes left");
    }
    v.count_ = static_cast<std::size_t>(count);
    if (const std::size_t size = fixed_size(v.element_); size != 0) {
      r.read_bytes(v.count_ * size, v.raw_);
      if (v.element_ == value_type::boolean) {
        for (std::size_t i = 0; i < v.count_; ++i) {
          if (static_cast<unsigned>(v.raw_[i]) > 1) {
            return bad(what + ": element " + std::to_string(i) + " (bool " + std::to_string(static_cast<unsigned>(v.raw_[i])) +
                       ") is not 0 or 1");
          }
        }
      }
      return v;
    }
    if (v.element_ == value_type::string) {
      v.strings_.reserve(v.count_);
      for (std::size_t i = 0; i < v.count_; ++i) {
        auto s = read_string(r, what + " element " + std::to_string(i));
        if (!s) return std::move(s).error();
        v.strings_.push_back(*s);
      }
      return v;
    }
    v.arrays_.reserve(v.count_);
    for (std::size_t i = 0; i < v.count_; ++i) {
      auto item = read_value(r, value_type::array, depth + 1, what + " element " + std::to_string(i));
      if (!item) return std::move(item).error();
      v.arrays_.push_back(std::move(*item));
    }
    return v;
  }

  Result<void> read_tensor_info(ByteReader& r, std::size_t index) {
    using detail::bad;
    using detail::printable;
    using detail::short_file;
    auto name = read_string(r, "the name of tensor " + std::to_string(index));
    if (!name) return std::move(name).error();
    TensorInfo t;
    t.name = *name;
    const auto fail = [&t](errc code, const std::string& message) {
      return make_error(code, message).with_tensor(printable(t.name));
    };
    if (!r.read(t.n_dims)) return fail(errc::truncated, "the file ends inside its n_dims");
    if (t.n_dims > max_dims) return fail(errc::bad_format, "n_dims " + std::to_string(t.n_dims) + " exceeds " + std::to_string(max_dims));
    for (std::uint32_t i = 0; i < t.n_dims; ++i) {
      if (!r.read(t.ne[i])) return fail(errc::truncated, "the file ends inside its dims");
    }
    std::uint32_t type = 0;
    if (!r.read(type)) return fail(errc::truncated, "the file ends inside its type");
    if (!r.read(t.offset)) return fail(errc::truncated, "the file ends inside its offset");
    const auto info = traits(type);
    if (!info) return fail(errc::unsupported, "unknown ggml type " + std::to_string(type));
    t.type = static_cast<tensor_type>(type);
    const auto dims_text = [&t] {
      std::string text = "[";
      for (std::uint32_t i = 0; i < t.n_dims; ++i) text += (i ? ", " : "") + std::to_string(t.ne[i]);
      return text + "]";
    };
    constexpr std::uint64_t limit = std::numeric_limits<std::int64_t>::max();  // ggml's int64_t ne
    std::uint64_t elements = 1;
    for (std::uint32_t i = 0; i < max_dims; ++i) {
      if (t.ne[i] > limit || (t.ne[i] != 0 && elements > limit / t.ne[i])) {
        return fail(errc::bad_format, "dims " + dims_text() + " overflow");
      }
      elements *= t.ne[i];
    }
    if (t.ne[0] % info->block != 0) {
      return fail(errc::bad_format, std::string(info->name) + " needs ne[0] (" + std::to_string(t.ne[0]) +
                                        ") to be a multiple of its block of " + std::to_string(info->block));
    }
    const std::uint64_t blocks = elements / info->block;
    if (blocks > std::numeric_limits<std::uint64_t>::max() / info->bytes) {
      return fail(errc::bad_format, "dims " + dims_text() + " overflow");
    }
    t.elements = elements;
    t.bytes = blocks * info->bytes;
    if (t.offset % alignment_ != 0) {
      return fail(errc::bad_format, "offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                                        std::to_string(alignment_));
    }
    tensors_.push_back(t);
    return {};
  }

  Result<void> validate() {
    using detail::bad;
    using detail::printable;
    using detail::short_file;
    ByteReader r(bytes_);
    std::uint32_t file_magic = 0;
    if (!r.read(file_magic)) {
      return short_file("the file has " + std::to_string(bytes_.size()) + " bytes, too few for the GGUF magic");
    }
    if (file_magic != magic) {
      return bad("not a GGUF file (it starts with \"" +
                 printable(std::string_view(reinterpret_cast<const char*>(bytes_.data()), 4)) + "\", not \"GGUF\")");
    }
    if (!r.read(version_)) return short_file("the file ends inside the version");
    if (version_ != 2 && version_ != 3) {
      if (version_ == 0x02000000u || version_ == 0x03000000u) {
        return make_error(errc::unsupported, "a big-endian GGUF file (only little-endian files are read)");
      }
      return make_error(errc::unsupported, "GGUF version " + std::to_string(version_) + " (only versions 2 and 3 are read)");
    }
    std::uint64_t tensor_count = 0, kv_count = 0;
    if (!r.read(tensor_count)) return short_file("the file ends inside the tensor count");
    if (!r.read(kv_count)) return short_file("the file ends inside the metadata count");
    // Each metadata entry takes ≥ 13 bytes (key length, type, a one-byte value); each tensor info ≥ 24.
    if (kv_count > r.remaining() / 13) {
      return short_file("metadata count " + std::to_string(kv_count) + " cannot fit in the " +
                        std::to_string(r.remaining()) + " bytes left");
    }
    if (tensor_count > r.remaining() / 24) {
      return short_file("tensor count " + std::to_string(tensor_count) + " cannot fit in the " +
                        std::to_string(r.remaining()) + " bytes left");
    }
    metadata_.reserve(static_cast<std::size_t>(kv_count));
    for (std::uint64_t i = 0; i < kv_count; ++i) {
      auto key = read_string(r, "the key of metadata entry " + std::to_string(i));
      if (!key) return std::move(key).error();
      std::uint32_t type = 0;
      const std::string what = "metadata '" + printable(*key) + "'";
      if (!r.read(type)) return short_file(what + ": the file ends inside its type");
      auto value = read_value(r, static_cast<value_type>(type), 0, what);
      if (!value) return std::move(value).error();
      metadata_.push_back({*key, std::move(*value)});
    }
    keys_.resize(metadata_.size());
    for (std::size_t i = 0; i < keys_.size(); ++i) keys_[i] = i;
    std::sort(keys_.begin(), keys_.end(), [this](std::size_t a, std::size_t b) {
      return metadata_[a].key < metadata_[b].key || (metadata_[a].key == metadata_[b].key && a < b);
    });
    for (std::size_t i = 1; i < keys_.size(); ++i) {
      if (metadata_[keys_[i]].key == metadata_[keys_[i - 1]].key) {
        return bad("duplicate metadata key '" + printable(metadata_[keys_[i]].key) + "'");
      }
    }
    if (const Value* a = find("general.alignment")) {
      const auto value = a->get<std::uint32_t>();
      if (!value) return bad("general.alignment is a " + std::string(name_of(a->type())) + ", not a uint32");
      if (*value == 0 || !std::has_single_bit(*value)) {
        return bad("general.alignment " + std::to_string(*value) + " is not a power of two");
      }
      alignment_ = *value;
    }
    tensors_.reserve(static_cast<std::size_t>(tensor_count));
    for (std::uint64_t i = 0; i < tensor_count; ++i) {
      if (auto ok = read_tensor_info(r, static_cast<std::size_t>(i)); !ok) return ok;
    }
    names_.resize(tensors_.size());
    for (std::size_t i = 0; i < names_.size(); ++i) names_[i] = i;
    std::sort(names_.begin(), names_.end(), [this](std::size_t a, std::size_t b) {
      return tensors_[a].name < tensors_[b].name || (tensors_[a].name == tensors_[b].name && a < b);
    });
    for (std::size_t i = 1; i < names_.size(); ++i) {
      if (tensors_[names_[i]].name == tensors_[names_[i - 1]].name) {
        return bad("duplicate tensor name '" + printable(tensors_[names_[i]].name) + "'");
      }
    }
    // The data section starts at the next multiple of the alignment after the tensor infos. A file
    // without tensors may end before it (llama.cpp's vocab-only files do).
    const std::size_t header_end = r.position();
    data_offset_ = (header_end + alignment_ - 1) / alignment_ * alignment_;
    if (tensors_.empty()) return {};
    if (data_offset_ > bytes_.size()) {
      return short_file("the data section would start at byte " + std::to_string(data_offset_) + ", past the end of the file (" +
                        std::to_string(bytes_.size()) + " bytes)");
    }
    const std::uint64_t data_size = bytes_.size() - data_offset_;
    std::vector<std::size_t> order(tensors_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [this](std::size_t a, std::size_t b) {
      const TensorInfo &x = tensors_[a], &y = tensors_[b];
      return x.offset < y.offset || (x.offset == y.offset && (x.bytes < y.bytes || (x.bytes == y.bytes && a < b)));
    });
    const TensorInfo* previous = nullptr;
    for (const std::size_t i : order) {
      const TensorInfo& t = tensors_[i];
      if (t.offset > data_size || t.bytes > data_size - t.offset) {
        return make_error(errc::truncated, std::to_string(t.bytes) + " bytes at offset " + std::to_string(t.offset) +
                                               " run past the end of the data section (" + std::to_string(data_size) +
                                               " bytes)")
            .with_tensor(printable(t.name));
      }
      if (previous != nullptr && t.offset < previous->offset + previous->bytes) {
        return bad("tensors '" + printable(previous->name) + "' (bytes " + std::to_string(previous->offset) + "-" +
                   std::to_string(previous->offset + previous->bytes) + ") and '" + printable(t.name) + "' (bytes " +
                   std::to_string(t.offset) + "-" + std::to_string(t.offset + t.bytes) + ") overlap");
      }
      previous = &t;
    }
    return {};
  }

  std::optional<MappedFile> file_;
  std::span<const std::byte> bytes_;
  std::uint32_t version_ = 0;
  std::uint32_t alignment_ = default_alignment;
  std::size_t data_offset_ = 0;
  std::vector<KeyValue> metadata_;  // in file order
  std::vector<std::size_t> keys_;   // indices into metadata_, sorted by key
  std::vector<TensorInfo> tensors_;  // in file order
  std::vector<std::size_t> names_;   // indices into tensors_, sorted by name
};

}  // namespace forma::io::gguf
