// forma/io/common.hpp — what the file formats share: element conversion from raw bytes, the
// text of a type's static shape, and writing a whole file.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "forma/core/dtype.hpp"
#include "forma/core/error.hpp"
#include "forma/core/extents.hpp"

namespace forma::io {

// A shape as Python writes a tuple: (3, 4), (3,), ().
inline std::string shape_text(std::span<const std::size_t> shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  if (shape.size() == 1) text += ",";
  return text + ")";
}


// The most axes a file's tensor may have (NumPy 2's limit). A hostile header cannot make a reader
// hold millions of extents for one tensor.
inline constexpr std::size_t max_rank = 64;

// Converts `count` elements of dtype `from` stored (native byte order, possibly unaligned) in
// `bytes` into `to`. False for a dtype with no conversion.
template <element Target>
bool convert_elements(dtype from, std::span<const std::byte> bytes, Target* to, std::size_t count) {
  const auto each = [&]<class Source>() {
    for (std::size_t i = 0; i < count; ++i) {
      Source value;
      std::memcpy(&value, bytes.data() + i * sizeof(Source), sizeof(Source));
      to[i] = convert_element<Target>(value);
    }
    return true;
  };
  switch (from) {
    case dtype::f64: return each.template operator()<double>();
    case dtype::f32: return each.template operator()<float>();
    case dtype::f16: return each.template operator()<f16>();
    case dtype::bf16: return each.template operator()<bf16>();
    case dtype::i8: return each.template operator()<std::int8_t>();
    case dtype::i16: return each.template operator()<std::int16_t>();
    case dtype::i32: return each.template operator()<std::int32_t>();
    case dtype::i64: return each.template operator()<std::int64_t>();
    case dtype::u8: return each.template operator()<std::uint8_t>();
    case dtype::u16: return each.template operator()<std::uint16_t>();
    case dtype::u32: return each.template operator()<std::uint32_t>();
    case dtype::u64: return each.template operator()<std::uint64_t>();
    case dtype::boolean: return each.template operator()<bool>();
  }
  return false;
}

enum class shape_style : unsigned char { python, json };

// A type's static shape with "?" for dynamic extents: "(3, ?)", "(4,)" (python) or "[3, ?]" (json).
template <extents_type E>
std::string static_shape_text(shape_style style) {
  std::string text = style == shape_style::python ? "(" : "[";
  for (std::size_t axis = 0; axis < E::rank(); ++axis) {
    if (axis > 0) text += ", ";
    text += E::static_extent(axis) == dyn ? std::string("?") : std::to_string(E::static_extent(axis));
  }
  if (style == shape_style::python) return text + (E::rank() == 1 ? ",)" : ")");
  return text + "]";
}

// Writes `bytes` to `path`, replacing it; an Error naming the path on failure.
inline Result<void> write_file(const std::string& path, std::string_view bytes) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    return make_error(errc::io, std::string("cannot create: ") + std::strerror(errno)).with_path(path);
  }
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed) return make_error(errc::io, "cannot write the file").with_path(path);
  return {};
}

}  // namespace forma::io
