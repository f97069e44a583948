// forma/io/gguf_writer.hpp — writing GGUF files (version 3, little-endian) in gguf-py's layout.
//
//   gguf::Writer w;
//   w.set("general.architecture", "llama");                              // Result<void>
//   w.set("llama.context_length", std::uint32_t{512});
//   w.set("tokenizer.ggml.tokens", gguf::MetaValue::array(pieces));     // arrays of strings, numbers
//   w.add_tensor("token_embd.weight", {dim, vocab}, gguf::tensor_type::q8_0, values);  // f32 in
//   w.write("model.gguf");                                               // atomically; Result<void>
//
// The layout is gguf-py's GGUFWriter's (and llama.cpp's): "GGUF", version 3, the tensor and
// metadata counts, the metadata in the order set, the tensor infos in the order added (dims
// fastest-first: ne[0] is the row length, so a row-major (rows, cols) matrix is {cols, rows}), zero
// padding to the alignment, then each tensor's bytes padded to the alignment, offsets counted from
// the start of the data section. The alignment is 32, or the uint32 power of two set as
// general.alignment. The same metadata and tensors give gguf-py's bytes, byte for byte.
//
// Tensors come as f32 values (a view the caller keeps alive until write) encoded on write as
//   F32   the values;  F16 / BF16  rounded to nearest even (BF16: NaN made quiet, as ggml does);
//   Q8_0  blocks of 32: d = max|x| / 127 (f32, stored as f16), q = round(x · (1/d)) halves away
//         from zero — ggml's quantize_row_q8_0_ref, gguf-py's quants.Q8_0 —; a block with a NaN or
//         an infinity is an error naming the tensor,
// or as bytes already encoded in any ggml type (add_tensor_bytes). Every error is one line: at
// set / add time it names the key or tensor, at write time also the file.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "forma/core/dtype.hpp"
#include "forma/core/error.hpp"
#include "forma/io/atomic_file.hpp"
#include "forma/io/gguf.hpp"

namespace forma::io::gguf {

static_assert(std::endian::native == std::endian::little, "gguf::Writer writes little-endian files");

inline constexpr std::uint32_t written_version = 3;
inline constexpr std::size_t max_tensor_name = 63;  // ggml's GGML_MAX_NAME (64) less the NUL

// ---- encoding f32 values into ggml types ---------------------------------------------------------

namespace encoders {

// ggml_compute_fp32_to_bf16: NaN made quiet, otherwise rounded to nearest even.
inline std::uint16_t bf16_bits(float x) noexcept {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 64u);
  return static_cast<std::uint16_t>((u + (0x7FFFu + ((u >> 16) & 1u))) >> 16);
}

// One Q8_0 block (32 values → f16 d, int8 q[32], 34 bytes); false if a value is not finite.
inline bool q8_0(const float* x, std::byte* out) noexcept {
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) {
    if (!std::isfinite(x[j])) return false;
    amax = std::max(amax, std::fabs(x[j]));
  }
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  const std::uint16_t d_bits = f16(d).bits();
  std::memcpy(out, &d_bits, 2);
  for (int j = 0; j < 32; ++j) {
    // Halves away from zero, as roundf and gguf-py's np_roundf. A subnormal d can make 1/d
    // overflow (x · id = ±inf, or NaN for x = 0), where ggml's int8 cast is undefined: clamped to
    // ±127 here, NaN to 0; every other block is ggml's bytes.
    const float q = std::round(x[j] * id);
    out[2 + j] = static_cast<std::byte>(static_cast<std::int8_t>(q != q ? 0.0f : std::clamp(q, -127.0f, 127.0f)));
  }
  return true;
}

}  // namespace encoders

// Whether f32 values can be encoded as `type` here (F32, F16, BF16, Q8_0).
constexpr bool encodable(tensor_type type) noexcept {
  return type == tensor_type::f32 || type == tensor_type::f16 || type == tensor_type::bf16 ||
         type == tensor_type::q8_0;
}

// Encodes `count` values (a multiple of the type's block) as `type` into `out` (the type's bytes
// for them). False for a type not encodable() or a Q8_0 block holding a NaN or an infinity.
inline bool encode_run(tensor_type type, const float* x, std::size_t count, std::byte* out) noexcept {
  switch (type) {
    case tensor_type::f32:
      if (count > 0) std::memcpy(out, x, count * sizeof(float));
      return true;
    case tensor_type::f16:
      for (std::size_t i = 0; i < count; ++i) {
        const std::uint16_t bits = f16(x[i]).bits();
        std::memcpy(out + 2 * i, &bits, 2);
      }
      return true;
    case tensor_type::bf16:
      for (std::size_t i = 0; i < count; ++i) {
        const std::uint16_t bits = encoders::bf16_bits(x[i]);
        std::memcpy(out + 2 * i, &bits, 2);
      }
      return true;
    case tensor_type::q8_0:
      for (std::size_t b = 0; b < count / 32; ++b) {
        if (!encoders::q8_0(x + 32 * b, out + 34 * b)) return false;
      }
      return true;
    default: return false;
  }
}

// ---- metadata values ---------------------------------------------------------------------------

template <class T>
concept meta_scalar = std::same_as<T, std::uint8_t> || std::same_as<T, std::int8_t> ||
                      std::same_as<T, std::uint16_t> || std::same_as<T, std::int16_t> ||
                      std::same_as<T, std::uint32_t> || std::same_as<T, std::int32_t> ||
                      std::same_as<T, std::uint64_t> || std::same_as<T, std::int64_t> ||
                      std::same_as<T, float> || std::same_as<T, double> || std::same_as<T, bool>;

// One metadata value to write: a scalar of a GGUF value type, a string, or an array of one of them
// (arrays of arrays included). Owns its bytes.
class MetaValue {
 public:
  template <meta_scalar T>
  static MetaValue of(T value) noexcept {
    MetaValue v;
    v.type_ = value_type_of<T>::value;
    std::memcpy(&v.bits_, &value, sizeof(T));
    return v;
  }
  static MetaValue of(std::string_view text) {
    MetaValue v;
    v.type_ = value_type::string;
    v.string_ = std::string(text);
    return v;
  }
  template <meta_scalar T>
  static MetaValue array(std::span<const T> items) {
    MetaValue v;
    v.type_ = value_type::array;
    v.element_ = value_type_of<T>::value;
    v.count_ = items.size();
    v.raw_.resize(items.size() * sizeof(T));
    if constexpr (std::is_same_v<T, bool>) {
      for (std::size_t i = 0; i < items.size(); ++i) v.raw_[i] = std::byte{items[i] ? std::uint8_t{1} : std::uint8_t{0}};
    } else if (!items.empty()) {
      std::memcpy(v.raw_.data(), items.data(), v.raw_.size());
    }
    return v;
  }
  template <meta_scalar T>
  static MetaValue array(const std::vector<T>& items) {
    if constexpr (std::is_same_v<T, bool>) {
      std::vector<std::uint8_t> bytes(items.begin(), items.end());
      MetaValue v = array(std::span<const std::uint8_t>(bytes));
      v.element_ = value_type::boolean;
      return v;
    } else {
      return array(std::span<const T>(items));
    }
  }
  static MetaValue array(std::vector<std::string> items) {
    MetaValue v;
    v.type_ = value_type::array;
    v.element_ = value_type::string;
    v.count_ = items.size();
    v.strings_ = std::move(items);
    return v;
  }
  // An array of arrays (each element an array MetaValue; their element types may differ).
  static Result<MetaValue> array_of_arrays(std::vector<MetaValue> items) {
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (items[i].type_ != value_type::array) {
        return make_error(errc::invalid_argument, "element " + std::to_string(i) + " of an array of arrays is a " +
                                                      std::string(name_of(items[i].type_)));
      }
      if (items[i].depth() + 1 >= max_array_depth) {
        return make_error(errc::invalid_argument, "arrays nested more than " + std::to_string(max_array_depth) + " deep");
      }
    }
    MetaValue v;
    v.type_ = value_type::array;
    v.element_ = value_type::array;
    v.count_ = items.size();
    v.arrays_ = std::move(items);
    return v;
  }
  // A copy of a value read from a file (its bytes are copied: the File may close).
  static MetaValue copy(const Value& value) {
    MetaValue v;
    v.type_ = value.type();
    if (value.type() == value_type::string) {
      v.string_ = std::string(*value.get<std::string_view>());
    } else if (value.type() != value_type::array) {
      const auto raw = scalar_bytes(value);
      std::memcpy(&v.bits_, raw.data(), fixed_size(value.type()));
    } else {
      v.element_ = value.element_type();
      v.count_ = value.size();
      if (v.element_ == value_type::string) {
        v.strings_.assign(value.strings().begin(), value.strings().end());
      } else if (v.element_ == value_type::array) {
        for (const Value& item : value.arrays()) v.arrays_.push_back(copy(item));
      } else {
        v.raw_.assign(value.raw().begin(), value.raw().end());
      }
    }
    return v;
  }

  value_type type() const noexcept { return type_; }
  value_type element_type() const noexcept { return element_; }
  std::size_t size() const noexcept { return count_; }

  // Appends the value's bytes (without its type) to `out`.
  void append_to(std::string& out) const {
    if (const std::size_t size = fixed_size(type_); size != 0) {
      append(out, &bits_, size);
      return;
    }
    if (type_ == value_type::string) {
      append_string(out, string_);
      return;
    }
    append_u32(out, static_cast<std::uint32_t>(element_));
    append_u64(out, count_);
    if (element_ == value_type::string) {
      for (const auto& s : strings_) append_string(out, s);
    } else if (element_ == value_type::array) {
      for (const auto& a : arrays_) a.append_to(out);
    } else {
      out.append(reinterpret_cast<const char*>(raw_.data()), raw_.size());
    }
  }

  static void append(std::string& out, const void* data, std::size_t size) {
    out.append(static_cast<const char*>(data), size);
  }
  static void append_u32(std::string& out, std::uint32_t v) { append(out, &v, 4); }
  static void append_u64(std::string& out, std::uint64_t v) { append(out, &v, 8); }
  static void append_string(std::string& out, std::string_view s) {
    append_u64(out, s.size());
    out.append(s);
  }

 private:
  // A scalar Value's little-endian bytes.
  static std::array<std::byte, 8> scalar_bytes(const Value& value) {
    std::array<std::byte, 8> raw{};
    const auto put = [&](auto x) { std::memcpy(raw.data(), &x, sizeof x); };
    switch (value.type()) {
      case value_type::u8: put(*value.get<std::uint8_t>()); break;
      case value_type::i8: put(*value.get<std::int8_t>()); break;
      case value_type::u16: put(*value.get<std::uint16_t>()); break;
      case value_type::i16: put(*value.get<std::int16_t>()); break;
      case value_type::u32: put(*value.get<std::uint32_t>()); break;
      case value_type::i32: put(*value.get<std::int32_t>()); break;
      case value_type::u64: put(*value.get<std::uint64_t>()); break;
      case value_type::i64: put(*value.get<std::int64_t>()); break;
      case value_type::f32: put(*value.get<float>()); break;
      case value_type::f64: put(*value.get<double>()); break;
      case value_type::boolean: put(static_cast<std::uint8_t>(*value.get<bool>())); break;
      case value_type::string: case value_type::array: break;
    }
    return raw;
  }
  std::size_t depth() const noexcept {
    std::size_t d = 0;
    for (const auto& a : arrays_) d = std::max(d, a.depth() + 1);
    return d;
  }

  value_type type_ = value_type::u8;
  value_type element_ = value_type::u8;
  std::uint64_t bits_ = 0;
  std::string string_;
  std::size_t count_ = 0;
  std::vector<std::byte> raw_;
  std::vector<std::string> strings_;
  std::vector<MetaValue> arrays_;
};

// ---- the writer ----------------------------------------------------------------------------------

class Writer {
 public:
  // Sets a metadata key (each key once; general.alignment must be a uint32 power of two).
  Result<void> set(std::string key, MetaValue value) {
    if (key.empty()) return make_error(errc::invalid_argument, "gguf writer: an empty metadata key");
    for (const auto& [k, v] : metadata_) {
      if (k == key) return make_error(errc::invalid_argument, "gguf writer: metadata key '" + printable(key) + "' set twice");
    }
    if (key == "general.alignment") {
      std::uint32_t a = 0;
      if (value.type() == value_type::u32) {
        std::string bytes;
        value.append_to(bytes);
        std::memcpy(&a, bytes.data(), 4);
      }
      if (a == 0 || !std::has_single_bit(a)) {
        return make_error(errc::invalid_argument, "gguf writer: general.alignment must be a uint32 power of two");
      }
      if (!tensors_.empty()) {
        return make_error(errc::invalid_argument, "gguf writer: general.alignment is set before the first tensor");
      }
      alignment_ = a;
    }
    metadata_.emplace_back(std::move(key), std::move(value));
    return {};
  }
  template <class T>
    requires meta_scalar<T> || std::convertible_to<const T&, std::string_view>
  Result<void> set(std::string key, const T& value) {
    if constexpr (meta_scalar<T>) {
      return set(std::move(key), MetaValue::of(value));
    } else {
      return set(std::move(key), MetaValue::of(std::string_view(value)));
    }
  }

  // A tensor of f32 `values` (ne[0] · ne[1] · ... of them, row-major with ne[0] the row length),
  // written as `type` (F32, F16, BF16 or Q8_0). The values are read on write(): keep them alive.
  Result<void> add_tensor(std::string name, std::span<const std::uint64_t> ne, tensor_type type,
                          std::span<const float> values) {
    if (!encodable(type)) {
      return make_error(errc::unsupported, "gguf writer: cannot encode f32 values as " + std::string(name_of(type)) +
                                               " (F32, F16, BF16, Q8_0 can)")
          .with_tensor(printable(name));
    }
    auto bytes = check_tensor(name, ne, type);
    if (!bytes) return std::move(bytes).error();
    const std::uint64_t elements = count(ne);
    if (values.size() != elements) {
      return make_error(errc::shape_mismatch, "gguf writer: " + std::to_string(values.size()) + " values for dims " +
                                                  dims_text(ne) + " (" + std::to_string(elements) + " elements)")
          .with_tensor(printable(name));
    }
    push(std::move(name), ne, type, *bytes).values = values;
    return {};
  }
  Result<void> add_tensor(std::string name, std::initializer_list<std::uint64_t> ne, tensor_type type,
                          std::span<const float> values) {
    return add_tensor(std::move(name), std::span<const std::uint64_t>(ne.begin(), ne.size()), type, values);
  }

  // A tensor whose bytes are already encoded as `type` (any type ggml defines).
  Result<void> add_tensor_bytes(std::string name, std::span<const std::uint64_t> ne, tensor_type type,
                                std::vector<std::byte> data) {
    auto bytes = check_tensor(name, ne, type);
    if (!bytes) return std::move(bytes).error();
    if (data.size() != *bytes) {
      return make_error(errc::shape_mismatch, "gguf writer: " + std::to_string(data.size()) + " bytes for " +
                                                  std::string(name_of(type)) + " dims " + dims_text(ne) + " (" +
                                                  std::to_string(*bytes) + " bytes)")
          .with_tensor(printable(name));
    }
    push(std::move(name), ne, type, *bytes).encoded = std::move(data);
    return {};
  }

  std::uint32_t alignment() const noexcept { return alignment_; }
  std::size_t tensor_count() const noexcept { return tensors_.size(); }

  // The whole file in memory.
  Result<std::string> encode() const {
    std::string out;
    auto ok = write_to([&](const void* data, std::size_t size) -> Result<void> {
      MetaValue::append(out, data, size);
      return {};
    });
    if (!ok) return std::move(ok).error();
    return out;
  }

  // Writes the file to `path` atomically (PATH.tmp, renamed once complete); errors name `path`.
  Result<void> write(const std::string& path) const {
    AtomicFile file;
    if (auto ok = file.open(path); !ok) return ok;
    auto ok = write_to([&](const void* data, std::size_t size) { return file.write(data, size); });
    if (!ok) {
      Error e = std::move(ok).error();
      return e.path.empty() ? std::move(e).with_path(path) : e;
    }
    return file.commit();
  }

 private:
  struct Entry {
    std::string name;
    std::array<std::uint64_t, max_dims> ne{1, 1, 1, 1};
    std::uint32_t n_dims = 0;
    tensor_type type = tensor_type::f32;
    std::uint64_t bytes = 0;
    std::uint64_t offset = 0;
    std::span<const float> values;  // encoded on write, or
    std::vector<std::byte> encoded;  // the bytes as given
  };

  static std::uint64_t count(std::span<const std::uint64_t> ne) {
    std::uint64_t n = 1;
    for (const auto d : ne) n *= d;
    return n;
  }
  static std::string dims_text(std::span<const std::uint64_t> ne) {
    std::string text = "[";
    for (std::size_t i = 0; i < ne.size(); ++i) text += (i ? ", " : "") + std::to_string(ne[i]);
    return text + "]";
  }
  std::uint64_t padded(std::uint64_t n) const noexcept { return (n + alignment_ - 1) / alignment_ * alignment_; }

  // The tensor's byte count, after checking its name, dims and type.
  Result<std::uint64_t> check_tensor(const std::string& name, std::span<const std::uint64_t> ne, tensor_type type) const {
    const auto fail = [&](errc code, const std::string& message) {
      return make_error(code, "gguf writer: " + message).with_tensor(printable(name));
    };
    if (name.empty()) return make_error(errc::invalid_argument, "gguf writer: a tensor with an empty name");
    if (name.size() > max_tensor_name) {
      return fail(errc::invalid_argument, "the name has " + std::to_string(name.size()) + " bytes, more than ggml's " +
                                              std::to_string(max_tensor_name));
    }
    for (const auto& t : tensors_) {
      if (t.name == name) return fail(errc::invalid_argument, "added twice");
    }
    if (ne.empty() || ne.size() > max_dims) {
      return fail(errc::invalid_argument, std::to_string(ne.size()) + " dims (1 to " + std::to_string(max_dims) + ")");
    }
    const auto info = traits(static_cast<std::uint32_t>(type));
    if (!info) return fail(errc::invalid_argument, "unknown ggml type " + std::to_string(static_cast<std::uint32_t>(type)));
    constexpr std::uint64_t limit = std::numeric_limits<std::int64_t>::max();
    std::uint64_t elements = 1;
    for (const auto d : ne) {
      if (d > limit || (d != 0 && elements > limit / d)) return fail(errc::invalid_argument, "dims " + dims_text(ne) + " overflow");
      elements *= d;
    }
    if (ne[0] % info->block != 0) {
      return fail(errc::shape_mismatch, std::string(info->name) + " needs ne[0] (" + std::to_string(ne[0]) +
                                            ") to be a multiple of its block of " + std::to_string(info->block));
    }
    const std::uint64_t blocks = elements / info->block;
    if (blocks > limit / info->bytes) return fail(errc::invalid_argument, "dims " + dims_text(ne) + " overflow");
    return blocks * info->bytes;
  }

  Entry& push(std::string name, std::span<const std::uint64_t> ne, tensor_type type, std::uint64_t bytes) {
    Entry e;
    e.name = std::move(name);
    e.n_dims = static_cast<std::uint32_t>(ne.size());
    std::copy(ne.begin(), ne.end(), e.ne.begin());
    e.type = type;
    e.bytes = bytes;
    tensors_.push_back(std::move(e));
    return tensors_.back();
  }

  // Header, metadata, tensor infos, padding, data: through `put(data, size) -> Result<void>`.
  template <class Put>
  Result<void> write_to(Put&& put) const {
    std::string header;
    MetaValue::append_u32(header, magic);
    MetaValue::append_u32(header, written_version);
    MetaValue::append_u64(header, tensors_.size());
    MetaValue::append_u64(header, metadata_.size());
    for (const auto& [key, value] : metadata_) {
      MetaValue::append_string(header, key);
      MetaValue::append_u32(header, static_cast<std::uint32_t>(value.type()));
      value.append_to(header);
    }
    std::uint64_t offset = 0;
    for (const auto& t : tensors_) {
      MetaValue::append_string(header, t.name);
      MetaValue::append_u32(header, t.n_dims);
      for (std::uint32_t i = 0; i < t.n_dims; ++i) MetaValue::append_u64(header, t.ne[i]);
      MetaValue::append_u32(header, static_cast<std::uint32_t>(t.type));
      MetaValue::append_u64(header, offset);
      offset += padded(t.bytes);
    }
    header.resize(static_cast<std::size_t>(padded(header.size())), '\0');
    if (auto ok = put(header.data(), header.size()); !ok) return ok;

    static constexpr char zeros[256] = {};
    std::vector<std::byte> buffer;
    for (const auto& t : tensors_) {
      if (t.values.data() == nullptr && !t.encoded.empty()) {
        if (auto ok = put(t.encoded.data(), t.encoded.size()); !ok) return ok;
      } else if (!t.values.empty()) {
        // Encode a run of whole blocks at a time (≈ 1 MiB of values).
        const auto info = *traits(static_cast<std::uint32_t>(t.type));
        const std::size_t step = std::max<std::size_t>(1, (std::size_t{1} << 18) / info.block) * info.block;
        for (std::size_t i = 0; i < t.values.size(); i += step) {
          const std::size_t n = std::min(step, t.values.size() - i);
          buffer.resize(n / info.block * info.bytes);
          if (!encode_run(t.type, t.values.data() + i, n, buffer.data())) {
            const std::size_t row = i / t.ne[0];
            return make_error(errc::invalid_argument, "a NaN or an infinity in the rows from " + std::to_string(row) +
                                                          " cannot be encoded as " + std::string(name_of(t.type)))
                .with_tensor(printable(t.name));
          }
          if (auto ok = put(buffer.data(), buffer.size()); !ok) return ok;
        }
      }
      for (std::uint64_t pad = padded(t.bytes) - t.bytes; pad > 0;) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(pad, sizeof zeros));
        if (auto ok = put(zeros, n); !ok) return ok;
        pad -= n;
      }
    }
    return {};
  }

  std::vector<std::pair<std::string, MetaValue>> metadata_;
  std::vector<Entry> tensors_;
  std::uint32_t alignment_ = default_alignment;
};

}  // namespace forma::io::gguf
