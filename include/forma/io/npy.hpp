// forma/io/npy.hpp — NumPy .npy files (format 1.0, 2.0, 3.0): typed loading and saving.
//
//   read_npy(path)                 → Result<NpyArray>: any supported dtype and shape, converted to
//                                    native byte order and C (row-major) order
//   load_npy<Matrix<float, 3, 4>>(path)  → Result<Matrix<float, 3, 4>>: the file must hold that
//                                    dtype and shape (dynamic extents take the file's); with
//                                    {.convert = true} other numeric dtypes are converted
//   save_npy(path, tensor)         → Result<void>: version 1.0 (2.0 for huge headers); a
//                                    transposed view is written as Fortran order, without a copy
// dtypes: f2 f4 f8, i1 i2 i4 i8, u1 u2 u4 u8, b1; little or big endian; C or Fortran order; 0-d
// and empty arrays. Errors name the file and say what differs: "expected shape (3, 4), file has
// (4, 3)", "expected dtype <f4, file has <f8", "data truncated: header needs 48 bytes, file has
// 41", bad magic, unsupported version, malformed header (quoting it), object arrays.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "forma/core/dtype.hpp"
#include "forma/core/error.hpp"
#include "forma/core/extents.hpp"
#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/io/common.hpp"
#include "forma/io/mmap.hpp"

namespace forma::io {

static_assert(std::endian::native == std::endian::little, "forma::io assumes a little-endian host");

struct NpyHeader {
  int major = 1, minor = 0;
  dtype type = dtype::f32;
  bool big_endian = false;
  bool fortran_order = false;
  std::vector<std::size_t> shape;
  std::size_t data_offset = 0;  // where the elements start
  std::size_t data_bytes = 0;   // element count × item size
  std::string descr;            // as written in the file, e.g. "<f4"
};

// An array read from a .npy file: native byte order, C order.
struct NpyArray {
  dtype type = dtype::f32;
  std::vector<std::size_t> shape;
  std::vector<std::byte> data;

  std::size_t size() const noexcept {
    std::size_t n = 1;
    for (std::size_t e : shape) n *= e;
    return n;
  }
  // The elements as T (T must be the array's dtype).
  template <element T>
  Result<std::span<const T>> values() const {
    if (dtype_of<T> != type) {
      return mismatch(errc::dtype_mismatch, "dtype", std::string(name_of(dtype_of<T>)),
                      std::string(name_of(type)), "array has");
    }
    return std::span<const T>(reinterpret_cast<const T*>(data.data()), size());
  }
};

struct NpyLoadOptions {
  bool convert = false;  // allow a numeric dtype conversion (f8 → f4, f2 → f4, i8 → i4, ...)
};

namespace npy_detail {

inline constexpr std::array<unsigned char, 6> magic{0x93, 'N', 'U', 'M', 'P', 'Y'};
inline constexpr std::size_t max_header_bytes = 1 << 24;  // NumPy itself refuses > 10 kB by default

// NumPy's spelling of a dtype ("f4", "u1", "b1"), or empty when NumPy has none (bf16).
constexpr std::string_view numpy_code(dtype t) noexcept {
  switch (t) {
    case dtype::f64: return "f8";
    case dtype::f32: return "f4";
    case dtype::f16: return "f2";
    case dtype::i8: return "i1";
    case dtype::i16: return "i2";
    case dtype::i32: return "i4";
    case dtype::i64: return "i8";
    case dtype::u8: return "u1";
    case dtype::u16: return "u2";
    case dtype::u32: return "u4";
    case dtype::u64: return "u8";
    case dtype::boolean: return "b1";
    case dtype::bf16: return "";
  }
  return "";
}

inline std::string descr_of(dtype t) {
  const std::string_view code = numpy_code(t);
  return std::string(size_of(t) == 1 ? "|" : "<") + std::string(code);
}

using ::forma::io::shape_text;

inline Error malformed(std::string_view header, std::string_view why) {
  std::string shown(header.substr(0, 120));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  if (header.size() > 120) shown += "...";
  return make_error(errc::bad_format, "malformed header (" + std::string(why) + "): " + shown);
}

// A cursor over the header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class DictParser {
 public:
  explicit DictParser(std::string_view text) : text_(text) {}

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool eat(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool at_end() {
    skip_space();
    return pos_ == text_.size();
  }
  bool string(std::string& out) {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) return false;
    const char quote = text_[pos_++];
    const std::size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) return false;
    out.assign(text_.substr(pos_, end - pos_));
    if (out.find('\\') != std::string::npos) return false;  // NumPy never escapes in these keys
    pos_ = end + 1;
    return true;
  }
  bool boolean(bool& out) {
    skip_space();
    if (text_.substr(pos_, 4) == "True") {
      out = true;
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      out = false;
      pos_ += 5;
      return true;
    }
    return false;
  }
  bool integer(std::size_t& out) {
    skip_space();
    const std::size_t start = pos_;
    std::size_t value = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      const auto digit = static_cast<std::size_t>(text_[pos_] - '0');
      if (value > (std::numeric_limits<std::size_t>::max() - digit) / 10) return false;
      value = value * 10 + digit;
      ++pos_;
    }
    if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;  // Python 2 longs
    out = value;
    return pos_ > start;
  }
  // A tuple of at most max_rank integers; `too_long` says why one was refused.
  bool tuple(std::vector<std::size_t>& out, bool& too_long) {
    too_long = false;
    if (!eat('(')) return false;
    out.clear();
    while (true) {
      if (eat(')')) return true;
      std::size_t value = 0;
      if (!integer(value)) return false;
      if (out.size() == max_rank) {
        too_long = true;
        return false;
      }
      out.push_back(value);
      if (eat(')')) return true;
      if (!eat(',')) return false;
    }
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

inline Result<void> parse_descr(std::string_view descr, NpyHeader& h) {
  if (descr.size() < 2) return make_error(errc::unsupported, "unsupported dtype '" + std::string(descr) + "'");
  const char order = descr[0];
  const std::string_view code = descr.substr(1);
  if (code == "O") {
    return make_error(errc::unsupported,
                      "object arrays (dtype '" + std::string(descr) + "', pickled Python objects) are refused");
  }
  if (order != '<' && order != '>' && order != '|' && order != '=') {
    return make_error(errc::unsupported, "unsupported dtype '" + std::string(descr) + "'");
  }
  static constexpr std::array<dtype, 12> types{dtype::f64, dtype::f32, dtype::f16, dtype::i8,
                                               dtype::i16, dtype::i32, dtype::i64, dtype::u8,
                                               dtype::u16, dtype::u32, dtype::u64, dtype::boolean};
  for (const dtype t : types) {
    if (numpy_code(t) == code) {
      h.type = t;
      h.big_endian = order == '>' && size_of(t) > 1;
      h.descr = std::string(descr);
      return {};
    }
  }
  return make_error(errc::unsupported, "unsupported dtype '" + std::string(descr) + "'");
}

// Reverses the axes of `shape` for a Fortran-order walk: element (i0, ..., in) of the array is at
// Fortran offset i0 + d0·(i1 + d1·(...)).
inline void fortran_to_c(const std::byte* in, std::byte* out, std::span<const std::size_t> shape,
                         std::size_t item) {
  const std::size_t rank = shape.size();
  std::size_t count = 1;
  for (std::size_t e : shape) count *= e;
  if (count == 0) return;
  std::vector<std::size_t> index(rank, 0);
  for (std::size_t c = 0; c < count; ++c) {
    std::size_t f = 0;
    for (std::size_t axis = rank; axis-- > 0;) f = f * shape[axis] + index[axis];
    std::memcpy(out + c * item, in + f * item, item);
    for (std::size_t axis = rank; axis-- > 0;) {
      if (++index[axis] < shape[axis]) break;
      index[axis] = 0;
    }
  }
}

inline void byteswap_all(std::byte* data, std::size_t count, std::size_t item) {
  for (std::size_t i = 0; i < count; ++i) std::reverse(data + i * item, data + (i + 1) * item);
}

}  // namespace npy_detail

// Parses and validates the header of a .npy file held in `bytes` (the data need not be there).
inline Result<NpyHeader> parse_npy_header(std::span<const std::byte> bytes) {
  using namespace npy_detail;
  NpyHeader h;
  if (bytes.size() < 10 || std::memcmp(bytes.data(), magic.data(), magic.size()) != 0) {
    return make_error(errc::bad_format, "bad magic: not a .npy file");
  }
  h.major = static_cast<int>(bytes[6]);
  h.minor = static_cast<int>(bytes[7]);
  if (h.major < 1 || h.major > 3 || h.minor != 0) {
    return make_error(errc::unsupported, "unsupported .npy version " + std::to_string(h.major) + "." +
                                             std::to_string(h.minor) + " (1.0, 2.0 and 3.0 are)");
  }
  ByteReader reader(bytes.subspan(8));
  std::size_t header_length = 0;
  if (h.major == 1) {
    std::uint16_t length = 0;
    reader.read(length);
    header_length = length;
  } else {
    std::uint32_t length = 0;
    if (!reader.read(length)) return make_error(errc::truncated, "the file ends inside its header");
    header_length = length;
  }
  const std::size_t prefix = reader.position() + 8;
  if (header_length > max_header_bytes) {
    return make_error(errc::bad_format, "header of " + std::to_string(header_length) + " bytes is too long");
  }
  if (bytes.size() - prefix < header_length) {
    return make_error(errc::truncated, "the header needs " + std::to_string(header_length) +
                                           " bytes, the file has " + std::to_string(bytes.size() - prefix));
  }
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + prefix), header_length);
  h.data_offset = prefix + header_length;
  if (h.major < 3) {
    for (const char c : text) {
      if (static_cast<unsigned char>(c) >= 0x80) return malformed(text, "non-ASCII byte in a version 1/2 header");
    }
  }

  DictParser p(text);
  if (!p.eat('{')) return malformed(text, "expected '{'");
  bool have_descr = false, have_order = false, have_shape = false;
  while (!p.eat('}')) {
    std::string key;
    if (!p.string(key) || !p.eat(':')) return malformed(text, "expected a quoted key and ':'");
    if (key == "descr" && !have_descr) {
      std::string descr;
      if (!p.string(descr)) {
        return make_error(errc::unsupported, "structured dtypes are not supported: " +
                                                 std::string(text.substr(0, std::min<std::size_t>(text.size(), 120))));
      }
      if (auto ok = parse_descr(descr, h); !ok) return std::move(ok).error();
      have_descr = true;
    } else if (key == "fortran_order" && !have_order) {
      if (!p.boolean(h.fortran_order)) return malformed(text, "fortran_order must be True or False");
      have_order = true;
    } else if (key == "shape" && !have_shape) {
      bool too_long = false;
      if (!p.tuple(h.shape, too_long)) {
        return malformed(text, too_long ? "shape has more than " + std::to_string(max_rank) + " axes"
                                        : std::string("shape must be a tuple of non-negative integers"));
      }
      have_shape = true;
    } else {
      return malformed(text, "unexpected or repeated key '" + key + "'");
    }
    if (!p.eat(',')) {
      if (!p.eat('}')) return malformed(text, "expected ',' or '}'");
      break;
    }
  }
  if (!p.at_end()) return malformed(text, "text after the dictionary");
  if (!have_descr || !have_order || !have_shape) {
    return malformed(text, "the keys must be 'descr', 'fortran_order' and 'shape'");
  }
  std::size_t count = 1;
  for (const std::size_t e : h.shape) {
    if (e != 0 && count > std::numeric_limits<std::size_t>::max() / e) {
      return make_error(errc::bad_format, "shape " + shape_text(h.shape) + " overflows");
    }
    count *= e;
  }
  const std::size_t item = size_of(h.type);
  if (count > std::numeric_limits<std::size_t>::max() / item) {
    return make_error(errc::bad_format, "shape " + shape_text(h.shape) + " overflows");
  }
  h.data_bytes = count * item;
  return h;
}

// The data bytes of a file with header h (as stored: file byte order and layout), checked to be
// all there.
inline Result<std::span<const std::byte>> npy_data(const NpyHeader& h, std::span<const std::byte> bytes) {
  const std::size_t available = bytes.size() - h.data_offset;
  if (available < h.data_bytes) {
    Error error = make_error(errc::truncated, "data truncated: header needs " + std::to_string(h.data_bytes) +
                                                  " bytes, file has " + std::to_string(available));
    error.expected = std::to_string(h.data_bytes);
    error.found = std::to_string(available);
    return error;
  }
  return bytes.subspan(h.data_offset, h.data_bytes);
}

// Parses a whole .npy file held in memory.
inline Result<NpyArray> parse_npy(std::span<const std::byte> bytes) {
  auto header = parse_npy_header(bytes);
  if (!header) return std::move(header).error();
  const NpyHeader& h = *header;
  if (auto data = npy_data(h, bytes); !data) return std::move(data).error();
  NpyArray array;
  array.type = h.type;
  array.shape = h.shape;
  array.data.resize(h.data_bytes);
  const std::byte* source = bytes.data() + h.data_offset;
  const std::size_t item = size_of(h.type);
  if (h.fortran_order && h.shape.size() > 1) {
    npy_detail::fortran_to_c(source, array.data.data(), h.shape, item);
  } else if (h.data_bytes > 0) {
    std::memcpy(array.data.data(), source, h.data_bytes);
  }
  if (h.big_endian) npy_detail::byteswap_all(array.data.data(), array.size(), item);
  if (h.type == dtype::boolean) {
    for (std::byte& b : array.data) {
      if (b != std::byte{0} && b != std::byte{1}) {
        return make_error(errc::bad_format, "a bool element holds " + std::to_string(static_cast<int>(b)) +
                                                ", not 0 or 1");
      }
    }
  }
  return array;
}

inline Result<NpyArray> read_npy(const std::string& path) {
  auto file = MappedFile::open(path);
  if (!file) return std::move(file).error();
  auto array = parse_npy(file->bytes());
  if (!array) return std::move(array).error().with_path(path);
  return array;
}

// Converts a read array into TensorType (an owning forma::Tensor), checking dtype and shape.
template <class TensorType>
Result<TensorType> to_tensor(const NpyArray& array, NpyLoadOptions options = {}) {
  using T = typename TensorType::value_type;
  using E = typename TensorType::extents_type;
  static_assert(owns_elements<TensorType>, "to_tensor/load_npy: the target must be an owning forma::Tensor");
  if (array.shape.size() != E::rank()) {
    return mismatch(errc::shape_mismatch, "shape", static_shape_text<E>(shape_style::python),
                    npy_detail::shape_text(array.shape), "file has");
  }
  std::array<std::size_t, E::rank()> extents_value{};
  for (std::size_t axis = 0; axis < E::rank(); ++axis) {
    const std::size_t want = E::static_extent(axis);
    if (want != dyn && want != array.shape[axis]) {
      return mismatch(errc::shape_mismatch, "shape", static_shape_text<E>(shape_style::python),
                      npy_detail::shape_text(array.shape), "file has");
    }
    extents_value[axis] = array.shape[axis];
  }
  if constexpr (E::rank() == 0) {
    (void)extents_value;
  }
  const bool same_type = array.type == dtype_of<T>;
  if (!same_type && !options.convert) {
    const std::string want = std::string(npy_detail::numpy_code(dtype_of<T>)).empty()
                                 ? std::string(name_of(dtype_of<T>))
                                 : npy_detail::descr_of(dtype_of<T>);
    return mismatch(errc::dtype_mismatch, "dtype", want, npy_detail::descr_of(array.type), "file has");
  }
  TensorType result = [&] {
    if constexpr (E::rank() == 0) {
      return TensorType(uninitialized, E{});
    } else {
      return TensorType(uninitialized, E(extents_value));
    }
  }();
  if (same_type) {
    if (array.size() > 0) std::memcpy(result.data(), array.data.data(), array.data.size());
  } else if (!convert_elements(array.type, std::span<const std::byte>(array.data), result.data(), result.size())) {
    return make_error(errc::unsupported, "cannot convert " + std::string(name_of(array.type)) + " to " +
                                             std::string(name_of(dtype_of<T>)));
  }
  return result;
}

// Loads a .npy file into TensorType, e.g. load_npy<Matrix<float, 3, 4>>("w.npy").
template <class TensorType>
Result<TensorType> load_npy(const std::string& path, NpyLoadOptions options = {}) {
  auto array = read_npy(path);
  if (!array) return std::move(array).error();
  auto tensor = to_tensor<TensorType>(*array, options);
  if (!tensor) return std::move(tensor).error().with_path(path);
  return tensor;
}

// The bytes of a .npy file holding `x` (C order, or Fortran order for a transposed view).
template <host_tensor X>
Result<std::string> encode_npy(const X& x) {
  using T = typename X::value_type;
  if (npy_detail::numpy_code(dtype_of<T>).empty()) {
    return make_error(errc::unsupported, std::string(name_of(dtype_of<T>)) + " has no NumPy dtype");
  }
  constexpr bool fortran = std::is_same_v<typename X::layout_type, layout_left>;
  std::vector<std::size_t> shape;
  for (std::size_t axis = 0; axis < X::extents_type::rank(); ++axis) shape.push_back(x.extent(axis));
  std::string dict = "{'descr': '" + npy_detail::descr_of(dtype_of<T>) + "', 'fortran_order': " +
                     (fortran && shape.size() > 1 ? "True" : "False") +
                     ", 'shape': " + npy_detail::shape_text(shape) + ", }";
  // Pad with spaces so the data starts at a multiple of 64, ending the header with '\n'.
  const bool version2 = dict.size() + 1 + 10 > 65535;
  const std::size_t prefix = version2 ? 12 : 10;
  const std::size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict.push_back('\n');
  std::string bytes(npy_detail::magic.begin(), npy_detail::magic.end());
  bytes.push_back(static_cast<char>(version2 ? 2 : 1));
  bytes.push_back('\0');
  if (version2) {
    const auto length = static_cast<std::uint32_t>(dict.size());
    bytes.append(reinterpret_cast<const char*>(&length), 4);
  } else {
    const auto length = static_cast<std::uint16_t>(dict.size());
    bytes.append(reinterpret_cast<const char*>(&length), 2);
  }
  bytes += dict;
  const auto v = forma::view(x);
  bytes.append(reinterpret_cast<const char*>(v.data()), v.size_bytes());
  return bytes;
}

template <host_tensor X>
Result<void> save_npy(const std::string& path, const X& x) {
  auto bytes = encode_npy(x);
  if (!bytes) return std::move(bytes).error().with_path(path);
  return write_file(path, *bytes);
}

}  // namespace forma::io
