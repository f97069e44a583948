// forma/io/safetensors.hpp — safetensors files: validated, memory-mapped, typed.
//
// Layout: a little-endian u64 header length N, N bytes of JSON ({"name": {"dtype": "F32",
// "shape": [2, 3], "data_offsets": [begin, end]}, ..., "__metadata__": {"k": "v"}}), then the data
// section. Opening validates everything before any tensor is touched: the header length against
// the file (and a 100 MB cap), the JSON (strict, read against the schema as it is parsed, so
// nesting deeper than the schema's is refused at once), unique names, every entry's dtype, shape
// (≤ 64 axes) and offsets, byte counts = dtype size × shape product (overflow-checked), and that the
// tensors tile the data section exactly — no overlap, no gap, nothing past the end. Time is
// O(n log n) in the header size and memory a small multiple of it, however hostile the header.
//
//   auto file = Safetensors::open("model.safetensors");            // Result<Safetensors>
//   auto w = file->get<MatrixView<const bf16, 64, 64>>("w");        // zero copy, Result
//   auto b = file->load<Vector<float, 64>>("b", {.convert = true}); // a copy, any alignment
//   save_safetensors("out.safetensors", {named("w", w), named("b", b)}, {{"format", "pt"}});
// dtypes: F64 F32 F16 BF16 I64 I32 I16 I8 U64 U32 U16 U8 BOOL.
#pragma once

#include <algorithm>
#include <array>
#include <cerrno>
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
#include "forma/core/extents.hpp"
#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/io/common.hpp"
#include "forma/io/json.hpp"
#include "forma/io/mmap.hpp"

namespace forma::io {

inline constexpr std::uint64_t safetensors_max_header_bytes = 100'000'000;  // as the reference reader
// Real files carry a handful of metadata entries; the cap bounds what a hostile header of many tiny
// entries makes a reader allocate.
inline constexpr std::size_t safetensors_max_metadata_entries = 1 << 16;

struct SafetensorsEntry {
  std::string name;
  dtype type = dtype::f32;
  std::vector<std::size_t> shape;
  std::size_t begin = 0;  // byte range within the data section
  std::size_t end = 0;

  std::size_t size() const noexcept {
    std::size_t n = 1;
    for (std::size_t e : shape) n *= e;
    return n;
  }
};

struct SafetensorsLoadOptions {
  bool convert = false;  // allow a numeric dtype conversion when copying
};

namespace safetensors_detail {

struct dtype_name {
  std::string_view name;
  dtype type;
};
inline constexpr std::array<dtype_name, 13> dtype_names{{
    {"F64", dtype::f64}, {"F32", dtype::f32}, {"F16", dtype::f16}, {"BF16", dtype::bf16},
    {"I64", dtype::i64}, {"I32", dtype::i32}, {"I16", dtype::i16}, {"I8", dtype::i8},
    {"U64", dtype::u64}, {"U32", dtype::u32}, {"U16", dtype::u16}, {"U8", dtype::u8},
    {"BOOL", dtype::boolean},
}};

inline std::optional<dtype> parse_dtype(std::string_view name) {
  for (const auto& d : dtype_names) {
    if (d.name == name) return d.type;
  }
  return std::nullopt;
}
inline std::string_view dtype_text(dtype t) {
  for (const auto& d : dtype_names) {
    if (d.type == t) return d.name;
  }
  return "?";
}

inline std::string shape_text(std::span<const std::size_t> shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

inline Error bad(std::string message) { return make_error(errc::bad_format, std::move(message)); }

// One tensor's entry, read from `r` just after its key: {"dtype": ..., "shape": [...],
// "data_offsets": [begin, end]}, checked as it is read.
inline Result<SafetensorsEntry> read_entry(std::string name, json::Reader& r) {
  auto kind = r.value_kind();
  if (!kind) return std::move(kind).error();
  if (*kind != json::Kind::object) return bad("tensor '" + name + "': its entry is not an object");
  if (auto ok = r.begin_object(); !ok) return std::move(ok).error();
  SafetensorsEntry e;
  e.name = std::move(name);
  const auto fail = [&e](const std::string& what) { return bad("tensor '" + e.name + "': " + what); };
  bool have_dtype = false, have_shape = false, have_offsets = false;
  std::string key;
  while (true) {
    auto more = r.next_key(key);
    if (!more) return std::move(more).error();
    if (!*more) break;
    bool* seen = key == "dtype" ? &have_dtype : key == "shape" ? &have_shape : key == "data_offsets" ? &have_offsets : nullptr;
    if (seen == nullptr) return fail("unexpected key '" + key + "'");
    if (*seen) return json::Reader::error_at(r.key_end(), "duplicate key \"" + key + "\"");
    *seen = true;
    if (key == "dtype") {
      auto dtype_kind = r.value_kind();
      if (!dtype_kind) return std::move(dtype_kind).error();
      if (*dtype_kind != json::Kind::string) return fail("dtype is not a string");
      auto text = r.string();
      if (!text) return std::move(text).error();
      const auto t = parse_dtype(*text);
      if (!t) return make_error(errc::unsupported, "tensor '" + e.name + "': unsupported dtype '" + *text + "'");
      e.type = *t;
      continue;
    }
    auto array_kind = r.value_kind();
    if (!array_kind) return std::move(array_kind).error();
    if (*array_kind != json::Kind::array) return fail(key + " is not an array");
    if (auto ok = r.begin_array(); !ok) return std::move(ok).error();
    std::size_t count = 0;
    while (true) {
      auto element = r.next_element();
      if (!element) return std::move(element).error();
      if (!*element) break;
      auto element_kind = r.value_kind();
      if (!element_kind) return std::move(element_kind).error();
      const bool is_number = *element_kind == json::Kind::number;
      json::Number number;
      if (is_number) {
        auto read = r.number();
        if (!read) return std::move(read).error();
        number = *read;
      }
      const bool valid = is_number && number.integer && *number.integer <= std::numeric_limits<std::size_t>::max();
      if (key == "shape") {
        if (!valid) {
          return fail("shape holds " + (is_number ? std::string(number.text) : std::string("a non-number")) +
                      ", not a non-negative integer");
        }
        if (e.shape.size() == max_rank) return fail("more than " + std::to_string(max_rank) + " axes");
        e.shape.push_back(static_cast<std::size_t>(*number.integer));
      } else {
        if (!valid || count >= 2) return fail("data_offsets must be two non-negative integers");
        (count == 0 ? e.begin : e.end) = static_cast<std::size_t>(*number.integer);
      }
      ++count;
    }
    if (key == "data_offsets" && count != 2) return fail("data_offsets must be two non-negative integers");
  }
  if (!have_dtype || !have_shape || !have_offsets) return fail("needs dtype, shape and data_offsets");
  if (e.begin > e.end) {
    return fail("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] run backwards");
  }
  std::size_t bytes = size_of(e.type);
  for (const std::size_t d : e.shape) {
    if (d != 0 && bytes > std::numeric_limits<std::size_t>::max() / d) {
      return fail("shape " + shape_text(e.shape) + " overflows");
    }
    bytes *= d;
  }
  if (bytes != e.end - e.begin) {
    Error error = fail(std::string(dtype_text(e.type)) + " " + shape_text(e.shape) + " needs " + std::to_string(bytes) +
                       " bytes, data_offsets give " + std::to_string(e.end - e.begin));
    error.expected = std::to_string(bytes);
    error.found = std::to_string(e.end - e.begin);
    return error;
  }
  return e;
}

// The first key (by position) that repeats an earlier one among `keys`, as a JSON error.
// O(n log n): a hostile header may hold millions of keys.
inline Result<void> check_unique(std::vector<std::pair<std::string_view, std::size_t>> keys) {
  std::sort(keys.begin(), keys.end());
  const std::pair<std::string_view, std::size_t>* first = nullptr;
  for (std::size_t i = 1; i < keys.size(); ++i) {
    if (keys[i].first == keys[i - 1].first && (first == nullptr || keys[i].second < first->second)) first = &keys[i];
  }
  if (first == nullptr) return {};
  return json::Reader::error_at(first->second, "duplicate key \"" + std::string(first->first) + "\"");
}

template <class E>
Result<E> match_shape(const SafetensorsEntry& e) {
  if (e.shape.size() != E::rank()) {
    return mismatch(errc::shape_mismatch, "shape", static_shape_text<E>(shape_style::json), shape_text(e.shape), "file has");
  }
  std::array<std::size_t, E::rank()> values{};
  for (std::size_t axis = 0; axis < E::rank(); ++axis) {
    if (E::static_extent(axis) != dyn && E::static_extent(axis) != e.shape[axis]) {
      return mismatch(errc::shape_mismatch, "shape", static_shape_text<E>(shape_style::json), shape_text(e.shape), "file has");
    }
    values[axis] = e.shape[axis];
  }
  if constexpr (E::rank() == 0) {
    return E{};
  } else {
    return E(values);
  }
}

inline bool bools_valid(std::span<const std::byte> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0} || b == std::byte{1}; });
}

}  // namespace safetensors_detail

class Safetensors {
 public:
  // Validates a whole file held in `bytes`; the Safetensors object views them (keep them alive).
  static Result<Safetensors> parse(std::span<const std::byte> bytes) {
    using namespace safetensors_detail;
    Safetensors file;
    file.bytes_ = bytes;
    if (auto ok = file.validate(); !ok) return std::move(ok).error();
    return file;
  }

  // Maps and validates `path`; the object owns the mapping.
  static Result<Safetensors> open(const std::string& path) {
    auto mapped = MappedFile::open(path);
    if (!mapped) return std::move(mapped).error();
    Safetensors file;
    file.bytes_ = mapped->bytes();
    file.file_.emplace(std::move(*mapped));
    if (auto ok = file.validate(); !ok) return std::move(ok).error().with_path(path);
    return file;
  }

  // In data order.
  const std::vector<SafetensorsEntry>& tensors() const noexcept { return entries_; }
  const std::vector<std::pair<std::string, std::string>>& metadata() const noexcept { return metadata_; }
  std::size_t data_offset() const noexcept { return data_offset_; }
  std::string path() const { return file_ ? file_->path() : std::string(); }

  // O(log n): files with thousands of tensors are looked up tensor by tensor.
  const SafetensorsEntry* find(std::string_view name) const noexcept {
    const auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                                     [this](std::size_t i, std::string_view key) { return entries_[i].name < key; });
    return it != by_name_.end() && entries_[*it].name == name ? &entries_[*it] : nullptr;
  }
  std::span<const std::byte> bytes(const SafetensorsEntry& e) const noexcept {
    return bytes_.subspan(data_offset_ + e.begin, e.end - e.begin);
  }

  // A zero-copy view, e.g. get<MatrixView<const bf16, 64, 64>>("w"): the dtype must be the view's,
  // the shape must fit its extents, and the data must be aligned for the element type.
  template <class View>
  Result<View> get(std::string_view name) const {
    using T = std::remove_const_t<typename View::element_type>;
    using E = typename View::extents_type;
    static_assert(std::is_const_v<typename View::element_type>, "get: mapped tensors are read-only (a view of const T)");
    static_assert(std::is_same_v<typename View::layout_type, layout_right>, "get: tensors are stored row-major");
    auto found = lookup(name);
    if (!found) return std::move(found).error();
    const SafetensorsEntry& e = **found;
    if (auto ok = check_dtype<T>(e); !ok) return std::move(ok).error();
    auto extents_value = safetensors_detail::match_shape<E>(e);
    if (!extents_value) return named(std::move(extents_value).error(), e.name);
    const auto data = bytes(e);
    if (reinterpret_cast<std::uintptr_t>(data.data()) % alignof(T) != 0) {
      return named(make_error(errc::unsupported, "starts at file byte " + std::to_string(data_offset_ + e.begin) +
                                                     ", not aligned for " + std::string(name_of(dtype_of<T>)) +
                                                     "; load() copies it instead"),
                   e.name);
    }
    if constexpr (std::is_same_v<T, bool>) {
      if (!safetensors_detail::bools_valid(data)) return named(make_error(errc::bad_format, "a BOOL element is not 0 or 1"), e.name);
    }
    return View(reinterpret_cast<const T*>(data.data()), *extents_value);
  }

  // An owned copy, e.g. load<Matrix<float, 64, 64>>("w", {.convert = true}).
  template <class TensorType>
  Result<TensorType> load(std::string_view name, SafetensorsLoadOptions options = {}) const {
    using T = typename TensorType::value_type;
    using E = typename TensorType::extents_type;
    static_assert(owns_elements<TensorType>, "load: the target must be an owning forma::Tensor");
    auto found = lookup(name);
    if (!found) return std::move(found).error();
    const SafetensorsEntry& e = **found;
    if (e.type != dtype_of<T> && !options.convert) {
      if (auto ok = check_dtype<T>(e); !ok) return std::move(ok).error();
    }
    auto extents_value = safetensors_detail::match_shape<E>(e);
    if (!extents_value) return named(std::move(extents_value).error(), e.name);
    TensorType result(uninitialized, *extents_value);
    const auto data = bytes(e);
    if (e.type == dtype::boolean && !safetensors_detail::bools_valid(data)) {
      return named(make_error(errc::bad_format, "a BOOL element is not 0 or 1"), e.name);
    }
    if (e.type == dtype_of<T>) {
      if (!data.empty()) std::memcpy(result.data(), data.data(), data.size());
      return result;
    }
    if (!convert_elements(e.type, data, result.data(), result.size())) {
      return named(make_error(errc::unsupported, "cannot convert " + std::string(name_of(e.type)) + " to " +
                                                     std::string(name_of(dtype_of<T>))),
                   e.name);
    }
    return result;
  }

 private:
  Error named(Error error, const std::string& tensor) const {
    error = std::move(error).with_tensor(tensor);
    return file_ ? std::move(error).with_path(file_->path()) : error;
  }

  Result<const SafetensorsEntry*> lookup(std::string_view name) const {
    if (const auto* e = find(name)) return e;
    return named(make_error(errc::not_found, "no such tensor"), std::string(name));
  }

  template <class T>
  Result<void> check_dtype(const SafetensorsEntry& e) const {
    if (e.type == dtype_of<T>) return {};
    return named(mismatch(errc::dtype_mismatch, "dtype", std::string(safetensors_detail::dtype_text(dtype_of<T>)),
                          std::string(safetensors_detail::dtype_text(e.type)), "file has"),
                 e.name);
  }

  // The JSON header, read against its schema: an object of tensor entries and an optional
  // "__metadata__" object of strings. Names and metadata keys must be unique.
  Result<void> read_header(std::string_view header) {
    using namespace safetensors_detail;
    json::Reader r(header);
    if (auto ok = r.begin_object(); !ok) return ok;
    std::vector<std::size_t> name_ends, metadata_key_ends;
    std::optional<std::size_t> metadata_at;
    std::string name;
    while (true) {
      auto more = r.next_key(name);
      if (!more) return std::move(more).error();
      if (!*more) break;
      const std::size_t name_end = r.key_end();
      if (name != "__metadata__") {
        auto entry = read_entry(name, r);
        if (!entry) return std::move(entry).error();
        entries_.push_back(std::move(*entry));
        name_ends.push_back(name_end);
        continue;
      }
      if (metadata_at) return json::Reader::error_at(name_end, "duplicate key \"__metadata__\"");
      metadata_at = name_end;
      auto metadata_kind = r.value_kind();
      if (!metadata_kind) return std::move(metadata_kind).error();
      if (*metadata_kind != json::Kind::object) return bad("__metadata__ is not an object");
      if (auto ok = r.begin_object(); !ok) return ok;
      std::string key;
      while (true) {
        auto member = r.next_key(key);
        if (!member) return std::move(member).error();
        if (!*member) break;
        const std::size_t key_end = r.key_end();
        auto value_kind = r.value_kind();
        if (!value_kind) return std::move(value_kind).error();
        if (*value_kind != json::Kind::string) return bad("__metadata__ value '" + key + "' is not a string");
        if (metadata_.size() == safetensors_max_metadata_entries) {
          return bad("__metadata__ has more than " + std::to_string(safetensors_max_metadata_entries) + " entries");
        }
        auto value = r.string();
        if (!value) return std::move(value).error();
        metadata_.emplace_back(key, std::move(*value));
        metadata_key_ends.push_back(key_end);
      }
    }
    if (auto ok = r.finish(); !ok) return ok;
    std::vector<std::pair<std::string_view, std::size_t>> names, keys;
    names.reserve(entries_.size());
    for (std::size_t i = 0; i < entries_.size(); ++i) names.emplace_back(entries_[i].name, name_ends[i]);
    if (auto ok = check_unique(std::move(names)); !ok) return ok;
    keys.reserve(metadata_.size());
    for (std::size_t i = 0; i < metadata_.size(); ++i) keys.emplace_back(metadata_[i].first, metadata_key_ends[i]);
    return check_unique(std::move(keys));
  }

  Result<void> validate() {
    using namespace safetensors_detail;
    if (bytes_.size() < 8) {
      return make_error(errc::truncated, "the file has " + std::to_string(bytes_.size()) +
                                             " bytes, too few for the header length");
    }
    std::uint64_t header_length = 0;
    std::memcpy(&header_length, bytes_.data(), 8);
    if (header_length > safetensors_max_header_bytes) {
      return bad("header length " + std::to_string(header_length) + " exceeds the 100 MB limit");
    }
    if (header_length > bytes_.size() - 8) {
      return make_error(errc::truncated, "header length " + std::to_string(header_length) +
                                             " runs past the end of the file (" + std::to_string(bytes_.size()) +
                                             " bytes)");
    }
    data_offset_ = 8 + static_cast<std::size_t>(header_length);
    const std::string_view header(reinterpret_cast<const char*>(bytes_.data() + 8), static_cast<std::size_t>(header_length));
    if (header.empty() || header.front() != '{') return bad("the header does not start with '{'");
    if (auto ok = read_header(header); !ok) return ok;
    // The tensors must tile the data section: sorted by offset, each starts where the last ended.
    std::stable_sort(entries_.begin(), entries_.end(),
                     [](const auto& a, const auto& b) { return a.begin < b.begin || (a.begin == b.begin && a.end < b.end); });
    const std::size_t data_size = bytes_.size() - data_offset_;
    std::size_t cursor = 0;
    const SafetensorsEntry* previous = nullptr;
    for (const auto& e : entries_) {
      if (e.begin < cursor) {
        return bad("tensors '" + previous->name + "' and '" + e.name + "' overlap (bytes " +
                   std::to_string(previous->begin) + "-" + std::to_string(previous->end) + " and " +
                   std::to_string(e.begin) + "-" + std::to_string(e.end) + ")");
      }
      if (e.begin > cursor) {
        return bad("bytes " + std::to_string(cursor) + "-" + std::to_string(e.begin) +
                   " of the data section belong to no tensor");
      }
      if (e.end > data_size) {
        return make_error(errc::truncated, "tensor '" + e.name + "' ends at byte " + std::to_string(e.end) +
                                               ", the data section has " + std::to_string(data_size));
      }
      cursor = e.end;
      previous = &e;
    }
    if (cursor != data_size) {
      return bad("bytes " + std::to_string(cursor) + "-" + std::to_string(data_size) +
                 " of the data section belong to no tensor");
    }
    by_name_.resize(entries_.size());
    for (std::size_t i = 0; i < by_name_.size(); ++i) by_name_[i] = i;
    std::sort(by_name_.begin(), by_name_.end(), [this](std::size_t a, std::size_t b) { return entries_[a].name < entries_[b].name; });
    return {};
  }

  std::optional<MappedFile> file_;
  std::span<const std::byte> bytes_;
  std::size_t data_offset_ = 0;
  std::vector<SafetensorsEntry> entries_;          // in data order
  std::vector<std::size_t> by_name_;                // indices into entries_, sorted by name
  std::vector<std::pair<std::string, std::string>> metadata_;
};

// One tensor to write: a name and the bytes of a row-major tensor.
struct NamedTensor {
  std::string name;
  dtype type = dtype::f32;
  std::vector<std::size_t> shape;
  std::span<const std::byte> data;
};

template <host_tensor X>
NamedTensor named(std::string name, const X& x) {
  static_assert(std::is_same_v<typename X::layout_type, layout_right>,
                "named: safetensors stores row-major tensors (copy a transposed view first)");
  NamedTensor t;
  t.name = std::move(name);
  t.type = dtype_of<typename X::value_type>;
  for (std::size_t axis = 0; axis < X::extents_type::rank(); ++axis) t.shape.push_back(x.extent(axis));
  t.data = std::as_bytes(std::span(forma::view(x).data(), forma::view(x).size()));
  return t;
}

// The bytes of a safetensors file: tensors in the given order, the header padded with spaces so
// the data starts at a multiple of 8.
inline Result<std::string> encode_safetensors(const std::vector<NamedTensor>& tensors,
                                              const std::vector<std::pair<std::string, std::string>>& metadata = {}) {
  std::string header = "{";
  bool first = true;
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    for (std::size_t i = 0; i < metadata.size(); ++i) {
      if (i > 0) header += ',';
      header += json::quote(metadata[i].first);
      header += ':';
      header += json::quote(metadata[i].second);
    }
    header += "}";
    first = false;
  }
  std::size_t offset = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const NamedTensor& t = tensors[i];
    if (t.name == "__metadata__") return make_error(errc::invalid_argument, "a tensor cannot be named __metadata__");
    for (std::size_t j = 0; j < i; ++j) {
      if (tensors[j].name == t.name) return make_error(errc::invalid_argument, "two tensors are named '" + t.name + "'");
    }
    std::size_t expected = size_of(t.type);
    for (const std::size_t d : t.shape) expected *= d;
    if (expected != t.data.size()) {
      return make_error(errc::invalid_argument, "tensor '" + t.name + "': " + std::to_string(t.data.size()) +
                                                    " bytes for a shape that needs " + std::to_string(expected));
    }
    // Appends only: GCC 12 at -O3 warns falsely (-Wrestrict) on chains of string operator+.
    if (!first) header += ',';
    header += json::quote(t.name);
    header += ":{\"dtype\":\"";
    header += safetensors_detail::dtype_text(t.type);
    header += "\",\"shape\":[";
    for (std::size_t k = 0; k < t.shape.size(); ++k) {
      if (k > 0) header += ',';
      header += std::to_string(t.shape[k]);
    }
    header += "],\"data_offsets\":[";
    header += std::to_string(offset);
    header += ',';
    header += std::to_string(offset + t.data.size());
    header += "]}";
    offset += t.data.size();
    first = false;
  }
  header += "}";
  header.append((8 - (header.size() % 8)) % 8, ' ');
  const auto length = static_cast<std::uint64_t>(header.size());
  std::string bytes(reinterpret_cast<const char*>(&length), 8);
  bytes += header;
  for (const NamedTensor& t : tensors) bytes.append(reinterpret_cast<const char*>(t.data.data()), t.data.size());
  return bytes;
}

inline Result<void> save_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                                     const std::vector<std::pair<std::string, std::string>>& metadata = {}) {
  auto bytes = encode_safetensors(tensors, metadata);
  if (!bytes) return std::move(bytes).error().with_path(path);
  return write_file(path, *bytes);
}

}  // namespace forma::io
