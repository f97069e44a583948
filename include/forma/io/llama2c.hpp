// forma/io/llama2c.hpp — llama2.c checkpoints: the legacy format and the versioned "ak42" ones.
//
//   legacy     7 × int32 header (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
//              seq_len; a negative vocab_size means the classifier has its own weights), then
//              fp32: embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, the
//              unused RoPE tables (2 × seq_len × head_dim/2), [classifier]
//   version 1  256-byte header: magic "ak42", int32 version, the 7 params, uint8 shared flag;
//              fp32: rms_att, rms_ffn, rms_final, embedding, wq, wk, wv, wo, w1, w2, w3, [classifier]
//   version 2  as version 1 plus int32 group_size; the norms in fp32 (rms_att, rms_ffn,
//              rms_final), then each matrix in Q8_0 — its int8 values, then one fp32 scale per
//              group of group_size values — in the order embedding, wq, wk, wv, wo, w1, w2, w3,
//              [classifier], layer by layer (llama2.c's export.py, version2_export). Parsed and
//              validated, its layout given by q8_0_layout(); map_weights refuses it (it is not
//              fp32), load_fp32 dequantizes it (int8 × scale) into memory it owns;
//              encode_q8_0_v2 writes it from fp32 weights as export.py does (quantize_q80).
//
// load<C>(path) maps the file and hands out LlamaWeights<C> pointing into it (zero copy);
// load_fp32<C>(path) does the same and also takes version 2 files, dequantized. Every
// header field is checked against C first and every mismatch is reported by name in one Error
// ("n_kv_heads: type says 4, file says 8; dim: type says 64, file says 288"), as is the file size
// against the byte count the header implies. Fields of C that are dyn take the file's values.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "forma/core/error.hpp"
#include "forma/core/extents.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/io/mmap.hpp"
#include "forma/models/llama_config.hpp"
#include "forma/models/llama_weights.hpp"

namespace forma::io::llama2c {

static_assert(std::endian::native == std::endian::little,
              "llama2c: checkpoints are little-endian and read in place");

inline constexpr std::uint32_t magic = 0x616b3432;  // "ak42"
inline constexpr std::size_t legacy_header_bytes = 7 * sizeof(std::int32_t);
inline constexpr std::size_t versioned_header_bytes = 256;

enum class format : std::uint8_t { legacy, fp32_v1, q8_0_v2 };

constexpr std::string_view name_of(format f) noexcept {
  switch (f) {
    case format::legacy: return "llama2.c legacy (fp32)";
    case format::fp32_v1: return "llama2.c version 1 (fp32)";
    case format::q8_0_v2: return "llama2.c version 2 (Q8_0)";
  }
  return "?";
}

struct Header {
  format kind = format::legacy;
  std::size_t header_bytes = legacy_header_bytes;
  std::int32_t version = 0;
  std::size_t dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab_size = 0,
              seq_len = 0;
  bool shared_classifier = true;
  std::size_t group_size = 0;  // Q8_0 only

  std::size_t head_dim() const noexcept { return dim / n_heads; }
  std::size_t kv_dim() const noexcept { return n_kv_heads * head_dim(); }
  LlamaShape shape() const noexcept {
    return {dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len, shared_classifier};
  }
};

namespace detail {

// Sizes of every tensor in elements, in the file's units, overflow-checked.
struct element_counter {
  std::size_t total = 0;
  bool overflow = false;

  std::size_t product(std::initializer_list<std::size_t> factors) {
    std::size_t result = 1;
    for (std::size_t f : factors) {
      if (f != 0 && result > std::numeric_limits<std::size_t>::max() / f) {
        overflow = true;
        return 0;
      }
      result *= f;
    }
    return result;
  }
  void add(std::size_t count) {
    if (total > std::numeric_limits<std::size_t>::max() - count) overflow = true;
    total += count;
  }
};

inline Error header_error(std::string message) {
  return make_error(errc::bad_format, std::move(message));
}

// The matrices of the file, kind by kind in file order, each kind as a count (one per layer, or
// one): a hostile header may claim billions of layers, so nothing here is sized by it.
struct matrix_group {
  std::string_view name;
  std::size_t count, rows, cols;
};
inline std::vector<matrix_group> matrix_groups(const Header& h) {
  const std::size_t L = h.n_layers, D = h.dim, KV = h.kv_dim(), F = h.hidden_dim, V = h.vocab_size;
  std::vector<matrix_group> groups{{"token_embedding", 1, V, D}, {"wq", L, D, D},  {"wk", L, KV, D},
                                   {"wv", L, KV, D},             {"wo", L, D, D},  {"w1", L, F, D},
                                   {"w2", L, D, F},              {"w3", L, F, D}};
  if (!h.shared_classifier) groups.push_back({"classifier", 1, V, D});
  return groups;
}

}  // namespace detail

// One kind of Q8_0 matrix in a version 2 file: `count` matrices of rows × cols, the first at file
// byte `offset`, each its int8 values then its fp32 group scales, `stride` bytes apart.
struct Q8Tensor {
  std::string_view name;
  std::size_t count = 0, rows = 0, cols = 0;
  std::size_t offset = 0;
  std::size_t values = 0;  // int8 values per matrix (rows × cols)
  std::size_t scales = 0;  // fp32 scales per matrix (values / group_size)
  std::size_t stride = 0;  // bytes per matrix: values + 4 × scales
};

// Where every Q8_0 matrix of a version 2 file lies, and the file size it implies
// (errc::bad_format when a size overflows).
struct Q8Layout {
  std::size_t norms_offset = versioned_header_bytes;  // rms_att, rms_ffn, rms_final in fp32
  std::vector<Q8Tensor> tensors;
  std::size_t end = 0;
};
inline Result<Q8Layout> q8_0_layout(const Header& h) {
  if (h.kind != format::q8_0_v2 || h.group_size == 0) {
    return make_error(errc::invalid_argument, "q8_0_layout: not a version 2 (Q8_0) header");
  }
  detail::element_counter c;
  c.add(c.product({2, h.n_layers, h.dim}));  // rms_att, rms_ffn
  c.add(h.dim);                              // rms_final
  Q8Layout layout;
  layout.norms_offset = h.header_bytes;
  std::size_t cursor = c.product({c.total, sizeof(float)});
  if (cursor > std::numeric_limits<std::size_t>::max() - h.header_bytes) c.overflow = true;
  cursor += h.header_bytes;
  for (const auto& group : detail::matrix_groups(h)) {
    Q8Tensor t{group.name, group.count, group.rows, group.cols, cursor, 0, 0, 0};
    t.values = c.product({group.rows, group.cols});
    t.scales = t.values / h.group_size;
    t.stride = t.values;
    const std::size_t scale_bytes = c.product({t.scales, sizeof(float)});
    if (t.stride > std::numeric_limits<std::size_t>::max() - scale_bytes) c.overflow = true;
    t.stride += scale_bytes;
    const std::size_t bytes = c.product({t.stride, t.count});
    if (cursor > std::numeric_limits<std::size_t>::max() - bytes) c.overflow = true;
    cursor += bytes;
    layout.tensors.push_back(t);
  }
  if (c.overflow) return detail::header_error("the sizes in the header overflow");
  layout.end = cursor;
  return layout;
}

// The number of bytes a file with this header must have (errc::bad_format on overflow).
inline Result<std::size_t> expected_size(const Header& h) {
  if (h.kind == format::q8_0_v2) {
    auto layout = q8_0_layout(h);
    if (!layout) return std::move(layout).error();
    return layout->end;
  }
  detail::element_counter c;
  const std::size_t L = h.n_layers, D = h.dim, KV = h.kv_dim(), F = h.hidden_dim;
  c.add(c.product({h.vocab_size, D}));                      // embedding
  c.add(c.product({2, L, D}));                              // rms_att, rms_ffn
  c.add(c.product({L, D, D}));                              // wq
  c.add(c.product({2, L, KV, D}));                          // wk, wv
  c.add(c.product({L, D, D}));                              // wo
  c.add(c.product({3, L, F, D}));                           // w1, w2, w3
  c.add(D);                                                 // rms_final
  if (h.kind == format::legacy) c.add(c.product({h.seq_len, h.head_dim()}));  // RoPE tables
  if (!h.shared_classifier) c.add(c.product({h.vocab_size, D}));
  const std::size_t bytes = c.product({c.total, sizeof(float)});
  if (c.overflow || bytes > std::numeric_limits<std::size_t>::max() - h.header_bytes) {
    return detail::header_error("the sizes in the header overflow");
  }
  return bytes + h.header_bytes;
}

// Parses and validates the header at the start of `bytes` (the whole file, or at least its header).
inline Result<Header> parse_header(std::span<const std::byte> bytes) {
  ByteReader reader(bytes);
  Header h;
  std::uint32_t first = 0;
  if (!reader.read(first)) {
    return make_error(errc::truncated, "the file has " + std::to_string(bytes.size()) +
                                           " bytes, too few for a llama2.c header");
  }
  std::array<std::int32_t, 7> fields{};
  if (first == magic) {
    std::int32_t version = 0;
    if (!reader.read(version)) return make_error(errc::truncated, "the file ends inside its header");
    h.version = version;
    if (version == 1) {
      h.kind = format::fp32_v1;
    } else if (version == 2) {
      h.kind = format::q8_0_v2;
    } else {
      return make_error(errc::unsupported, "llama2.c version " + std::to_string(version) +
                                               " is not supported (versions 1 and 2 are)");
    }
    h.header_bytes = versioned_header_bytes;
    for (auto& field : fields) {
      if (!reader.read(field)) return make_error(errc::truncated, "the file ends inside its header");
    }
    std::uint8_t shared = 0;
    if (!reader.read(shared)) return make_error(errc::truncated, "the file ends inside its header");
    if (shared > 1) {
      return detail::header_error("shared_classifier flag is " + std::to_string(shared) +
                                  ", expected 0 or 1");
    }
    h.shared_classifier = shared == 1;
    if (h.kind == format::q8_0_v2) {
      std::int32_t group = 0;
      if (!reader.read(group)) return make_error(errc::truncated, "the file ends inside its header");
      if (group <= 0) return detail::header_error("group_size is " + std::to_string(group) + ", must be positive");
      h.group_size = static_cast<std::size_t>(group);
    }
    if (bytes.size() < versioned_header_bytes) {
      return make_error(errc::truncated, "the file has " + std::to_string(bytes.size()) +
                                             " bytes, too few for its 256-byte header");
    }
  } else {
    fields[0] = static_cast<std::int32_t>(first);
    for (std::size_t i = 1; i < fields.size(); ++i) {
      if (!reader.read(fields[i])) {
        return make_error(errc::truncated, "the file has " + std::to_string(bytes.size()) +
                                               " bytes, too few for a llama2.c header");
      }
    }
    // A negative vocab_size flags separate classifier weights (legacy only).
    h.shared_classifier = fields[5] > 0;
    if (fields[5] < 0 && fields[5] != std::numeric_limits<std::int32_t>::min()) fields[5] = -fields[5];
  }
  static constexpr std::array<const char*, 7> names{"dim",        "hidden_dim", "n_layers", "n_heads",
                                                    "n_kv_heads", "vocab_size", "seq_len"};
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (fields[i] <= 0) {
      return detail::header_error(std::string(names[i]) + " is " + std::to_string(fields[i]) +
                                  ", must be positive");
    }
  }
  h.dim = static_cast<std::size_t>(fields[0]);
  h.hidden_dim = static_cast<std::size_t>(fields[1]);
  h.n_layers = static_cast<std::size_t>(fields[2]);
  h.n_heads = static_cast<std::size_t>(fields[3]);
  h.n_kv_heads = static_cast<std::size_t>(fields[4]);
  h.vocab_size = static_cast<std::size_t>(fields[5]);
  h.seq_len = static_cast<std::size_t>(fields[6]);
  if (h.dim % h.n_heads != 0) {
    return detail::header_error("n_heads " + std::to_string(h.n_heads) + " does not divide dim " +
                                std::to_string(h.dim));
  }
  if (h.n_heads % h.n_kv_heads != 0) {
    return detail::header_error("n_kv_heads " + std::to_string(h.n_kv_heads) +
                                " does not divide n_heads " + std::to_string(h.n_heads));
  }
  if (h.head_dim() % 2 != 0) {
    return detail::header_error("head_dim " + std::to_string(h.head_dim()) +
                                " is odd; RoPE needs an even head_dim");
  }
  if (h.kind == format::q8_0_v2) {
    detail::element_counter c;
    for (const auto& group : detail::matrix_groups(h)) {
      const std::size_t values = c.product({group.rows, group.cols});
      if (c.overflow) return detail::header_error("the sizes in the header overflow");
      if (values % h.group_size != 0) {
        return detail::header_error("group_size " + std::to_string(h.group_size) + " does not divide " +
                                    std::string(group.name) + " (" + std::to_string(values) + " values)");
      }
    }
  }
  return h;
}

inline Result<Header> read_header(const std::string& path) {
  auto file = MappedFile::open(path);
  if (!file) return std::move(file).error();
  auto header = parse_header(file->bytes());
  if (!header) return std::move(header).error().with_path(path);
  return header;
}

// Checks the whole file: its header and that its size is the one the header implies.
inline Result<Header> validate(std::span<const std::byte> bytes) {
  auto header = parse_header(bytes);
  if (!header) return header;
  auto expected = expected_size(*header);
  if (!expected) return std::move(expected).error();
  if (*expected != bytes.size()) {
    Error error = make_error(bytes.size() < *expected ? errc::truncated : errc::bad_format,
                             "file has " + std::to_string(bytes.size()) + " bytes, the header implies " +
                                 std::to_string(*expected));
    error.expected = std::to_string(*expected);
    error.found = std::to_string(bytes.size());
    return error;
  }
  return header;
}

// Every field of C that is static against the header; all mismatches in one Error.
template <LlamaConfig C>
Result<void> check_config(const Header& h) {
  std::string mismatches;
  const auto compare = [&](const char* name, std::size_t type_value, std::size_t file_value) {
    if (type_value == dyn || type_value == file_value) return;
    if (!mismatches.empty()) mismatches += "; ";
    mismatches += std::string(name) + ": type says " + std::to_string(type_value) +
                  ", file says " + std::to_string(file_value);
  };
  compare("dim", C.dim, h.dim);
  compare("hidden_dim", C.hidden, h.hidden_dim);
  compare("n_layers", C.layers, h.n_layers);
  compare("n_heads", C.heads, h.n_heads);
  compare("n_kv_heads", C.kv_heads, h.n_kv_heads);
  compare("vocab_size", C.vocab, h.vocab_size);
  compare("seq_len", C.max_seq, h.seq_len);
  if (C.classifier != classifier_kind::any &&
      (C.classifier == classifier_kind::shared) != h.shared_classifier) {
    if (!mismatches.empty()) mismatches += "; ";
    mismatches += std::string("classifier: type says ") +
                  (C.classifier == classifier_kind::shared ? "shared" : "separate") +
                  ", file says " + (h.shared_classifier ? "shared" : "separate");
  }
  if (mismatches.empty()) return {};
  return make_error(errc::shape_mismatch, mismatches);
}

// Points LlamaWeights<C> into `bytes` (a validated fp32 file with header h).
template <LlamaConfig C>
Result<LlamaWeights<C>> map_weights(const Header& h, std::span<const std::byte> bytes) {
  if (h.kind == format::q8_0_v2) {
    return make_error(errc::unsupported,
                      "a Q8_0 (version 2) checkpoint cannot be loaded as fp32 weights");
  }
  if (auto fits = check_config<C>(h); !fits) return std::move(fits).error();
  // What validate() established, checked again here: the views must stay inside `bytes`.
  auto expected = expected_size(h);
  if (!expected) return std::move(expected).error();
  if (*expected != bytes.size()) {
    return make_error(errc::invalid_argument, "map_weights: " + std::to_string(bytes.size()) +
                                                  " bytes for a header that implies " + std::to_string(*expected));
  }
  if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(float) != 0) {
    return make_error(errc::invalid_argument, "map_weights: the bytes are not aligned for float");
  }
  const float* cursor = reinterpret_cast<const float*>(bytes.data() + h.header_bytes);
  LlamaWeights<C> w;
  w.shape = h.shape();
  const auto take = [&cursor]<class View>(View& view, auto... sizes) {
    using E = typename View::extents_type;
    view = View(cursor, E(std::array<std::size_t, E::rank()>{static_cast<std::size_t>(sizes)...}));
    cursor += view.size();
  };
  const std::size_t L = h.n_layers, D = h.dim, KV = h.kv_dim(), F = h.hidden_dim, V = h.vocab_size;
  if (h.kind == format::legacy) {
    take(w.token_embedding, V, D);
    take(w.rms_att, L, D);
    take(w.wq, L, D, D);
    take(w.wk, L, KV, D);
    take(w.wv, L, KV, D);
    take(w.wo, L, D, D);
    take(w.rms_ffn, L, D);
    take(w.w1, L, F, D);
    take(w.w2, L, D, F);
    take(w.w3, L, F, D);
    take(w.rms_final, D);
    cursor += h.seq_len * h.head_dim();  // freq_cis_real and freq_cis_imag: unused
  } else {
    take(w.rms_att, L, D);
    take(w.rms_ffn, L, D);
    take(w.rms_final, D);
    take(w.token_embedding, V, D);
    take(w.wq, L, D, D);
    take(w.wk, L, KV, D);
    take(w.wv, L, KV, D);
    take(w.wo, L, D, D);
    take(w.w1, L, F, D);
    take(w.w2, L, D, F);
    take(w.w3, L, F, D);
  }
  if (h.shared_classifier) {
    w.classifier = w.token_embedding;
  } else {
    take(w.classifier, V, D);
  }
  return w;
}

// A mapped checkpoint and the weights that point into it. Moving it keeps the views valid (the
// mapping does not move).
template <LlamaConfig C>
class Checkpoint {
 public:
  Checkpoint(MappedFile file, Header header, LlamaWeights<C> weights)
      : file_(std::move(file)), header_(header), weights_(weights) {}
  const Header& header() const noexcept { return header_; }
  const LlamaWeights<C>& weights() const noexcept { return weights_; }
  const std::string& path() const noexcept { return file_.path(); }
  // The mapped file the weights point into.
  std::span<const std::byte> bytes() const noexcept { return file_.bytes(); }

 private:
  MappedFile file_;
  Header header_;
  LlamaWeights<C> weights_;
};

// Maps `path`, validates it against C, and returns the checkpoint, or an Error naming the file.
template <LlamaConfig C>
Result<Checkpoint<C>> load(const std::string& path) {
  auto file = MappedFile::open(path);
  if (!file) return std::move(file).error();
  auto header = validate(file->bytes());
  if (!header) return std::move(header).error().with_path(path);
  if (auto fits = check_config<C>(*header); !fits) return std::move(fits).error().with_path(path);
  auto weights = map_weights<C>(*header, file->bytes());
  if (!weights) return std::move(weights).error().with_path(path);
  return Checkpoint<C>(std::move(*file), *header, *weights);
}

// ---- version 2 (Q8_0): dequantizing and writing ---------------------------------------------------

// A version 2 file dequantized (int8 × its group's scale, in fp32) into the image of the version 1
// file with the same weights: its 256-byte header, then the fp32 tensors in version 1 order. The
// image is floats so that map_weights can point into it.
inline Result<std::vector<float>> dequantize_to_v1(const Header& h, std::span<const std::byte> bytes) {
  auto layout = q8_0_layout(h);
  if (!layout) return std::move(layout).error();
  if (layout->end != bytes.size()) {
    return make_error(errc::invalid_argument, "dequantize_to_v1: " + std::to_string(bytes.size()) +
                                                  " bytes for a header that implies " + std::to_string(layout->end));
  }
  Header v1 = h;
  v1.kind = format::fp32_v1;
  v1.version = 1;
  v1.group_size = 0;
  auto size = expected_size(v1);
  if (!size) return std::move(size).error();
  std::vector<float> image(*size / sizeof(float), 0.0f);
  auto* out = reinterpret_cast<std::byte*>(image.data());
  std::memcpy(out, bytes.data(), versioned_header_bytes);
  const std::int32_t version = 1;
  std::memcpy(out + 4, &version, sizeof version);
  std::memset(out + 37, 0, versioned_header_bytes - 37);  // the group size and padding
  // The norms (rms_att, rms_ffn, rms_final) come first in both; then the matrices in the same order.
  const std::size_t norms = (2 * h.n_layers + 1) * h.dim * sizeof(float);
  std::memcpy(out + versioned_header_bytes, bytes.data() + layout->norms_offset, norms);
  float* y = image.data() + (versioned_header_bytes + norms) / sizeof(float);
  for (const Q8Tensor& t : layout->tensors) {
    for (std::size_t m = 0; m < t.count; ++m) {
      const std::byte* q = bytes.data() + t.offset + m * t.stride;
      const std::byte* scales = q + t.values;
      for (std::size_t g = 0; g < t.scales; ++g) {
        float scale;
        std::memcpy(&scale, scales + g * sizeof(float), sizeof scale);
        for (std::size_t k = 0; k < h.group_size; ++k) {
          const std::size_t i = g * h.group_size + k;
          y[i] = static_cast<float>(static_cast<std::int8_t>(q[i])) * scale;
        }
      }
      y += t.values;
    }
  }
  return image;
}

// Weights of any llama2.c checkpoint in fp32: mapped in place (legacy, version 1) or dequantized
// from Q8_0 (version 2) into memory the checkpoint owns.
template <LlamaConfig C>
class Fp32Checkpoint {
 public:
  const Header& header() const noexcept { return header_; }  // the file's (version 2 for Q8_0)
  const LlamaWeights<C>& weights() const noexcept { return weights_; }

 private:
  template <LlamaConfig D>
  friend Result<Fp32Checkpoint<D>> load_fp32(const std::string& path);

  std::optional<MappedFile> file_;
  std::vector<float> image_;
  Header header_;
  LlamaWeights<C> weights_;
};

template <LlamaConfig C>
Result<Fp32Checkpoint<C>> load_fp32(const std::string& path) {
  auto file = MappedFile::open(path);
  if (!file) return std::move(file).error();
  auto header = validate(file->bytes());
  if (!header) return std::move(header).error().with_path(path);
  if (auto fits = check_config<C>(*header); !fits) return std::move(fits).error().with_path(path);
  Fp32Checkpoint<C> c;
  c.header_ = *header;
  std::span<const std::byte> bytes = file->bytes();
  Header mapped = *header;
  if (header->kind == format::q8_0_v2) {
    auto image = dequantize_to_v1(*header, bytes);
    if (!image) return std::move(image).error().with_path(path);
    c.image_ = std::move(*image);
    bytes = std::as_bytes(std::span<const float>(c.image_));
    mapped.kind = format::fp32_v1;
    mapped.version = 1;
    mapped.group_size = 0;
  } else {
    c.file_.emplace(std::move(*file));
    bytes = c.file_->bytes();
  }
  auto weights = map_weights<C>(mapped, bytes);
  if (!weights) return std::move(weights).error().with_path(path);
  c.weights_ = *weights;
  return c;
}

// llama2.c's export.py quantize_q80 on `n` values (a multiple of group_size): per group, scale =
// max|x| / 127 and q = round(x / scale), halves to even (torch.round); a zero group gets q = 0.
// Where a subnormal scale lets x / scale reach past ±127 (export.py's int8 cast would wrap 128 to
// -128), q is clamped to ±127.
inline void quantize_q80(const float* x, std::size_t n, std::size_t group_size, std::int8_t* q, float* scales) {
  for (std::size_t g = 0; g < n / group_size; ++g) {
    const float* in = x + g * group_size;
    float wmax = 0.0f;
    for (std::size_t k = 0; k < group_size; ++k) wmax = std::max(wmax, std::fabs(in[k]));
    const float scale = wmax / 127.0f;
    scales[g] = scale;
    for (std::size_t k = 0; k < group_size; ++k) {
      const float r = scale == 0.0f ? 0.0f : std::nearbyint(in[k] / scale);
      q[g * group_size + k] = static_cast<std::int8_t>(std::clamp(r, -127.0f, 127.0f));
    }
  }
}

// The group size export.py picks: `requested` halved until it divides dim.
inline std::size_t q80_group_size(std::size_t dim, std::size_t requested = 64) {
  std::size_t g = requested;
  while (g > 1 && dim % g != 0) g /= 2;
  return g;
}

// The bytes of a version 2 (Q8_0) file holding `w`, laid out as export.py's version2_export writes
// it. Errors: a group size that does not divide a matrix, or a value that is not finite.
template <LlamaConfig C>
Result<std::string> encode_q8_0_v2(const LlamaWeights<C>& w, std::size_t group_size) {
  const LlamaShape& s = w.shape;
  Header h;
  h.kind = format::q8_0_v2;
  h.version = 2;
  h.header_bytes = versioned_header_bytes;
  h.dim = s.dim, h.hidden_dim = s.hidden, h.n_layers = s.layers, h.n_heads = s.heads, h.n_kv_heads = s.kv_heads;
  h.vocab_size = s.vocab, h.seq_len = s.max_seq, h.shared_classifier = s.shared_classifier;
  h.group_size = group_size;
  if (group_size == 0 || group_size > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    return make_error(errc::invalid_argument, "group size " + std::to_string(group_size));
  }
  for (const auto& group : detail::matrix_groups(h)) {
    if (group.rows * group.cols % group_size != 0) {
      return make_error(errc::invalid_argument, "group size " + std::to_string(group_size) + " does not divide " +
                                                    std::string(group.name) + " (" +
                                                    std::to_string(group.rows * group.cols) + " values)");
    }
  }
  auto layout = q8_0_layout(h);
  if (!layout) return std::move(layout).error();
  std::string out(layout->end, '\0');
  const auto put = [&out](std::size_t at, const void* data, std::size_t size) { std::memcpy(out.data() + at, data, size); };
  const std::uint32_t m = magic;
  const std::int32_t version = 2;
  const std::int32_t fields[7] = {static_cast<std::int32_t>(s.dim),     static_cast<std::int32_t>(s.hidden),
                                  static_cast<std::int32_t>(s.layers),  static_cast<std::int32_t>(s.heads),
                                  static_cast<std::int32_t>(s.kv_heads), static_cast<std::int32_t>(s.vocab),
                                  static_cast<std::int32_t>(s.max_seq)};
  const std::uint8_t shared = s.shared_classifier ? 1 : 0;
  const auto group = static_cast<std::int32_t>(group_size);
  put(0, &m, 4);
  put(4, &version, 4);
  put(8, fields, sizeof fields);
  put(36, &shared, 1);
  put(37, &group, 4);
  std::size_t at = layout->norms_offset;
  for (const auto& norm : {std::span<const float>(w.rms_att.data(), w.rms_att.size()),
                           std::span<const float>(w.rms_ffn.data(), w.rms_ffn.size()),
                           std::span<const float>(w.rms_final.data(), w.rms_final.size())}) {
    put(at, norm.data(), norm.size_bytes());
    at += norm.size_bytes();
  }
  const float* sources[] = {w.token_embedding.data(), w.wq.data(), w.wk.data(), w.wv.data(), w.wo.data(),
                            w.w1.data(), w.w2.data(), w.w3.data(), w.classifier.data()};
  std::vector<float> scales;
  for (std::size_t i = 0; i < layout->tensors.size(); ++i) {
    const Q8Tensor& t = layout->tensors[i];
    scales.resize(t.scales);
    for (std::size_t k = 0; k < t.count; ++k) {
      const float* x = sources[i] + k * t.values;
      for (std::size_t j = 0; j < t.values; ++j) {
        if (!std::isfinite(x[j])) {
          return make_error(errc::invalid_argument, "a NaN or an infinity cannot be quantized to Q8_0")
              .with_tensor(std::string(t.name));
        }
      }
      char* q = out.data() + t.offset + k * t.stride;
      quantize_q80(x, t.values, group_size, reinterpret_cast<std::int8_t*>(q), scales.data());
      std::memcpy(q + t.values, scales.data(), t.scales * sizeof(float));
    }
  }
  return out;
}

}  // namespace forma::io::llama2c
