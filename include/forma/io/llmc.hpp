// forma/io/llmc.hpp — llm.c's GPT-2 checkpoints (gpt2_124M.bin and its kin) into the decoder.
//
//   constexpr auto config = forma::presets::any_gpt2;
//   auto checkpoint = forma::io::llmc::load<config>("gpt2_124M.bin");  // checks every field
//   forma::Decoder<config> model(checkpoint->weights());
//
// The layout of llm.c's train_gpt2.py write_model / train_gpt2.c: a header of 256 int32 —
// [0] magic 20240326, [1] version (3: float32 parameters, 5: bfloat16), [2] maxT (positions),
// [3] V (vocabulary), [4] L (layers), [5] NH (heads), [6] C (width), [7] Vp (the vocabulary padded
// for speed), the rest zero — then the parameters, each row-major, in this order:
//   wte (Vp, C)  wpe (maxT, C)  ln1w, ln1b (L, C)  qkvw (L, 3C, C)  qkvb (L, 3C)
//   attprojw (L, C, C)  attprojb (L, C)  ln2w, ln2b (L, C)  fcw (L, 4C, C)  fcb (L, 4C)
//   fcprojw (L, C, 4C)  fcprojb (L, C)  lnfw, lnfb (C)
// The matrices are already (out, in). Float32 files are used in place (views into the mapping);
// bfloat16 files are widened to f32 once. The classifier is the first V rows of wte (tied);
// GELU is the tanh form, LayerNorm's epsilon 1e-5.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "forma/core/contract.hpp"
#include "forma/core/dtype.hpp"
#include "forma/core/error.hpp"
#include "forma/core/extents.hpp"
#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/io/mmap.hpp"
#include "forma/models/decoder_config.hpp"
#include "forma/models/decoder_weights.hpp"

namespace forma::io::llmc {

inline constexpr std::int32_t magic = 20240326;
inline constexpr std::size_t header_bytes = 256 * 4;

struct Header {
  std::int32_t version = 0;  // 3: float32, 5: bfloat16
  std::size_t max_t = 0, vocab = 0, layers = 0, heads = 0, channels = 0, padded_vocab = 0;

  std::size_t element_bytes() const noexcept { return version == 5 ? 2 : 4; }
  // Parameters in the file (with the padded vocabulary).
  std::size_t parameter_count() const noexcept {
    const std::size_t C = channels, L = layers;
    return padded_vocab * C + max_t * C + L * (C + C + 3 * C * C + 3 * C + C * C + C + C + C +
                                               4 * C * C + 4 * C + 4 * C * C + C) +
           C + C;
  }
  DecoderShape shape() const noexcept {
    return {channels, 4 * channels, layers, heads, heads, vocab, max_t, max_t, true, 1e-5f, 0.0f};
  }
};

namespace detail {
inline Error bad(const std::string& path, std::string message) {
  return make_error(errc::bad_format, std::move(message)).with_path(path);
}
}  // namespace detail

// Reads and validates the header against the file's size.
inline Result<Header> parse_header(std::span<const std::byte> bytes, const std::string& path) {
  if (bytes.size() < header_bytes) {
    return make_error(errc::truncated, "an llm.c checkpoint starts with a 1024-byte header; the file has " +
                                           std::to_string(bytes.size()) + " bytes")
        .with_path(path);
  }
  std::array<std::int32_t, 256> h{};
  std::memcpy(h.data(), bytes.data(), header_bytes);
  if (h[0] != magic) {
    return detail::bad(path, "not an llm.c GPT-2 checkpoint: magic " + std::to_string(h[0]) +
                                 ", expected " + std::to_string(magic));
  }
  if (h[1] != 3 && h[1] != 5) {
    return make_error(errc::unsupported, "llm.c checkpoint version " + std::to_string(h[1]) +
                                             " (forma reads 3: float32 and 5: bfloat16)")
        .with_path(path);
  }
  for (int i = 2; i <= 7; ++i) {
    // Each extent positive and small enough that the sizes below cannot overflow.
    if (h[i] <= 0 || h[i] > (1 << 20)) {
      static constexpr std::array<const char*, 8> names{"magic", "version", "maxT", "V", "L", "NH", "C", "Vp"};
      return detail::bad(path, std::string("header field ") + names[static_cast<std::size_t>(i)] +
                                   " = " + std::to_string(h[i]) + " is out of range");
    }
  }
  Header header;
  header.version = h[1];
  header.max_t = static_cast<std::size_t>(h[2]);
  header.vocab = static_cast<std::size_t>(h[3]);
  header.layers = static_cast<std::size_t>(h[4]);
  header.heads = static_cast<std::size_t>(h[5]);
  header.channels = static_cast<std::size_t>(h[6]);
  header.padded_vocab = static_cast<std::size_t>(h[7]);
  if (header.padded_vocab < header.vocab) {
    return detail::bad(path, "Vp " + std::to_string(header.padded_vocab) + " is smaller than V " +
                                 std::to_string(header.vocab));
  }
  if (header.channels % header.heads != 0) {
    return detail::bad(path, "NH " + std::to_string(header.heads) + " does not divide C " +
                                 std::to_string(header.channels));
  }
  const std::size_t expected = header_bytes + header.parameter_count() * header.element_bytes();
  if (bytes.size() != expected) {
    Error error = make_error(bytes.size() < expected ? errc::truncated : errc::bad_format,
                             "the header needs " + std::to_string(expected) +
                                 " bytes, the file has " + std::to_string(bytes.size()));
    error.expected = std::to_string(expected);
    error.found = std::to_string(bytes.size());
    return std::move(error).with_path(path);
  }
  return header;
}

inline Result<Header> read_header(const std::string& path) {
  auto file = MappedFile::open(path);
  if (!file) return std::move(file).error();
  return parse_header(file->bytes(), path);
}

// Every header field against the typed config, all mismatches in one error.
template <DecoderConfig C>
Result<void> check_config(const Header& h, const std::string& path = {}) {
  static_assert(C.family == model_family::gpt2,
                "llmc::check_config: llm.c checkpoints are GPT-2 (use gpt2_decoder)");
  std::string problems;
  const auto extent = [&](const char* what, std::size_t field, std::size_t value) {
    if (field == dyn || field == value) return;
    if (!problems.empty()) problems += "; ";
    problems += std::string(what) + ": type says " + std::to_string(field) + ", file says " +
                std::to_string(value);
  };
  extent("C", C.dim, h.channels);
  extent("4C (hidden)", C.hidden, 4 * h.channels);
  extent("L", C.layers, h.layers);
  extent("NH", C.heads, h.heads);
  extent("V", C.vocab, h.vocab);
  extent("maxT (positions)", C.positions, h.max_t);
  if (C.max_seq != dyn && C.max_seq > h.max_t) {
    if (!problems.empty()) problems += "; ";
    problems += "context: type says " + std::to_string(C.max_seq) + ", file has " +
                std::to_string(h.max_t) + " positions";
  }
  if (C.ffn != nn::ffn_kind::gelu_tanh) {
    if (!problems.empty()) problems += "; ";
    problems += "GELU: type says erf, llm.c uses tanh";
  }
  if (C.norm_eps != from_checkpoint && C.norm_eps != 1e-5f) {
    if (!problems.empty()) problems += "; ";
    problems += "norm_eps: type says " + std::to_string(C.norm_eps) + ", llm.c uses 1e-5";
  }
  if (!problems.empty()) return make_error(errc::shape_mismatch, problems).with_path(path);
  return {};
}

template <DecoderConfig C>
class Checkpoint {
 public:
  const Header& header() const noexcept { return header_; }
  const DecoderWeights<C>& weights() const noexcept { return weights_; }
  // True when the weights point into the mapped file (float32 files).
  bool zero_copy() const noexcept { return widened_.size() == 0; }

 private:
  template <DecoderConfig D>
  friend Result<Checkpoint<D>> load(const std::string& path, std::size_t context);

  MappedFile file_;
  Tensor<float, extents<dyn>> widened_;  // bfloat16 files, widened
  Header header_;
  DecoderWeights<C> weights_;
};

// Loads an llm.c GPT-2 checkpoint into the typed config C. `context` (0: the file's maxT) sets
// the shape's max_seq.
template <DecoderConfig C>
Result<Checkpoint<C>> load(const std::string& path, std::size_t context = 0) {
  auto file = MappedFile::open(path);
  if (!file) return std::move(file).error();
  auto header = parse_header(file->bytes(), path);
  if (!header) return std::move(header).error();
  if (auto ok = check_config<C>(*header, path); !ok) return std::move(ok).error();
  try {
    decoder_config_rules<C>(header->shape());  // the family's rules on the header's values
  } catch (const shape_error& e) {
    return make_error(errc::shape_mismatch, e.what()).with_path(path);
  }
  Checkpoint<C> checkpoint;
  checkpoint.header_ = *header;
  const Header& h = *header;
  const float* base = nullptr;
  const auto params = file->bytes().subspan(header_bytes);
  if (h.version == 5) {
    checkpoint.widened_ = Tensor<float, extents<dyn>>(uninitialized, h.parameter_count());
    float* to = checkpoint.widened_.data();
    for (std::size_t i = 0; i < h.parameter_count(); ++i) {
      std::uint16_t bits = 0;
      std::memcpy(&bits, params.data() + 2 * i, 2);
      to[i] = static_cast<float>(bf16::from_bits(bits));
    }
    base = to;
  } else {
    base = reinterpret_cast<const float*>(params.data());  // 1024 bytes into a page: aligned
  }
  checkpoint.file_ = std::move(*file);
  const std::size_t V = h.vocab, Vp = h.padded_vocab, T = h.max_t, L = h.layers, D = h.channels,
                    H = 4 * D;
  std::size_t at = 0;
  const auto next = [&](std::size_t count) {
    const float* p = base + at;
    at += count;
    return p;
  };
  using W = DecoderWeights<C>;
  using LW = DecoderLayerWeights<C>;
  const auto view = [](const float* p, auto... sizes) {
    return [=]<class View>(View& out) {
      using E = typename View::extents_type;
      out = View(p, E(std::array<std::size_t, E::rank()>{static_cast<std::size_t>(sizes)...}));
    };
  };
  W& w = checkpoint.weights_;
  w.shape = h.shape();
  if (context != 0) {
    if (context > h.max_t) {
      return make_error(errc::capacity, "context " + std::to_string(context) +
                                            " exceeds the checkpoint's " + std::to_string(h.max_t) +
                                            " positions")
          .with_path(path);
    }
    w.shape.max_seq = context;
  } else if (C.max_seq != dyn) {
    w.shape.max_seq = C.max_seq;
  }
  const float* wte = next(Vp * D);
  view(wte, V, D)(w.token_embedding);
  view(wte, V, D)(w.classifier);
  view(next(T * D), T, D)(w.position_embedding);
  w.layers.resize(L);
  const auto per_layer = [&](std::size_t count, auto&& assign) {
    const float* p = next(L * count);
    for (std::size_t l = 0; l < L; ++l) assign(w.layers[l], p + l * count);
  };
  per_layer(D, [&](LW& x, const float* p) { view(p, D)(x.attn_norm); });
  per_layer(D, [&](LW& x, const float* p) { view(p, D)(x.attn_norm_bias); });
  per_layer(3 * D * D, [&](LW& x, const float* p) {
    view(p, D, D)(x.wq);
    view(p + D * D, D, D)(x.wk);
    view(p + 2 * D * D, D, D)(x.wv);
  });
  per_layer(3 * D, [&](LW& x, const float* p) {
    view(p, D)(x.bq);
    view(p + D, D)(x.bk);
    view(p + 2 * D, D)(x.bv);
  });
  per_layer(D * D, [&](LW& x, const float* p) { view(p, D, D)(x.wo); });
  per_layer(D, [&](LW& x, const float* p) { view(p, D)(x.bo); });
  per_layer(D, [&](LW& x, const float* p) { view(p, D)(x.ffn_norm); });
  per_layer(D, [&](LW& x, const float* p) { view(p, D)(x.ffn_norm_bias); });
  per_layer(H * D, [&](LW& x, const float* p) { view(p, H, D)(x.w1); });
  per_layer(H, [&](LW& x, const float* p) { view(p, H)(x.b1); });
  per_layer(D * H, [&](LW& x, const float* p) { view(p, D, H)(x.w2); });
  per_layer(D, [&](LW& x, const float* p) { view(p, D)(x.b2); });
  view(next(D), D)(w.final_norm);
  view(next(D), D)(w.final_norm_bias);
  return checkpoint;
}

}  // namespace forma::io::llmc
