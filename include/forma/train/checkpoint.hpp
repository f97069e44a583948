// forma/train/checkpoint.hpp — writing trained weights as a llama2.c checkpoint.
//
//   save_llama2c(weights, path)   LlamaWeights<C> (e.g. LlamaTrainer::weights()) => the legacy
//                                 format that llama2.c's run.c and forma::io::llama2c::load read:
//     7 × int32 header (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size — negative when
//     the classifier is separate —, seq_len = max_seq), then fp32: token_embedding, rms_att, wq,
//     wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, the RoPE tables (cos then sin, each
//     seq_len × head_dim/2, as llama2.c's precompute_freqs_cis; readers skip them), [classifier].
// The weights only: the optimizer state is not saved. An unwritable path is an Error (errc::io).
//
//   save_checkpoint(trainer, path, metadata)   the whole training state as safetensors: every
//                                 parameter ("param.NAME"), AdamW's moments ("adam_m.NAME",
//                                 "adam_v.NAME"), float32 with their llama2.c shapes flattened to
//                                 1-D, and string metadata: "format" = "forma-train 1", "step" (the
//                                 optimizer steps taken), the caller's entries, and "checksum" —
//                                 FNV-1a 64 over the tensors' bytes in file order, then every other
//                                 metadata entry sorted by key as key NUL value NUL (hex). Written to
//                                 PATH.tmp, fsynced, renamed over PATH, the directory fsynced: a
//                                 crash leaves the old file or the new one, never a part.
//   load_checkpoint(trainer, path) checks the format, the checksum and every tensor's name, type and
//                                 size against the trainer's shape, then restores parameters,
//                                 moments and step; returns the metadata. Any failure is an Error
//                                 naming the file, and leaves the trainer as it was.
// Python reads the file with json + NumPy (an 8-byte header length, a JSON header, raw bytes).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "forma/core/error.hpp"
#include "forma/io/atomic_file.hpp"
#include "forma/io/safetensors.hpp"
#include "forma/kernels/math.hpp"
#include "forma/models/llama_config.hpp"
#include "forma/models/llama_weights.hpp"

namespace forma::train {

template <LlamaConfig C>
Result<void> save_llama2c(const LlamaWeights<C>& w, const std::string& path) {
  const LlamaShape& s = w.shape;
  struct closer {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, closer> file(std::fopen(path.c_str(), "wb"));
  auto failed = [&] {
    return make_error(errc::io, "save_llama2c: cannot write " + path).with_path(path);
  };
  if (!file) return failed();
  const std::int32_t header[7] = {
      static_cast<std::int32_t>(s.dim),      static_cast<std::int32_t>(s.hidden),
      static_cast<std::int32_t>(s.layers),   static_cast<std::int32_t>(s.heads),
      static_cast<std::int32_t>(s.kv_heads),
      s.shared_classifier ? static_cast<std::int32_t>(s.vocab)
                          : -static_cast<std::int32_t>(s.vocab),
      static_cast<std::int32_t>(s.max_seq)};
  bool ok = std::fwrite(header, sizeof(header), 1, file.get()) == 1;
  auto put = [&](const auto& view) {
    if (ok && view.size() != 0) {
      ok = std::fwrite(view.data(), sizeof(float), view.size(), file.get()) == view.size();
    }
  };
  put(w.token_embedding);
  put(w.rms_att);
  put(w.wq);
  put(w.wk);
  put(w.wv);
  put(w.wo);
  put(w.rms_ffn);
  put(w.w1);
  put(w.w2);
  put(w.w3);
  put(w.rms_final);
  const std::size_t head_dim = s.head_dim(), pairs = head_dim / 2;
  std::vector<float> table(s.max_seq * pairs);
  for (int part = 0; part < 2 && ok; ++part) {
    for (std::size_t t = 0; t < s.max_seq; ++t) {
      for (std::size_t i = 0; i < pairs; ++i) {
        const float angle = static_cast<float>(t) *
                            math::rope_frequency(static_cast<unsigned>(i),
                                                 static_cast<unsigned>(head_dim), C.rope_theta);
        table[t * pairs + i] = part == 0 ? std::cos(angle) : std::sin(angle);
      }
    }
    ok = table.empty() ||
         std::fwrite(table.data(), sizeof(float), table.size(), file.get()) == table.size();
  }
  if (!s.shared_classifier) put(w.classifier);
  if (!ok) return failed();
  if (std::fclose(file.release()) != 0) return failed();
  return {};
}

using checkpoint_metadata = std::vector<std::pair<std::string, std::string>>;

namespace detail {

inline std::uint64_t fnv1a(std::span<const std::byte> bytes, std::uint64_t h) noexcept {
  for (const std::byte b : bytes) {
    h ^= static_cast<std::uint64_t>(b);
    h *= 0x100000001b3ULL;
  }
  return h;
}

// FNV-1a over the tensors' bytes in order, then the metadata but "checksum", sorted by key.
inline std::string checkpoint_checksum(const std::vector<std::span<const std::byte>>& tensors,
                                       checkpoint_metadata metadata) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const auto& t : tensors) h = fnv1a(t, h);
  std::sort(metadata.begin(), metadata.end());
  for (const auto& [key, value] : metadata) {
    if (key == "checksum") continue;
    h = fnv1a(std::as_bytes(std::span(key.data(), key.size() + 1)), h);
    h = fnv1a(std::as_bytes(std::span(value.data(), value.size() + 1)), h);
  }
  char buffer[20];
  std::snprintf(buffer, sizeof buffer, "%016" PRIx64, h);
  return buffer;
}

inline const std::string* find_metadata(const checkpoint_metadata& m, std::string_view key) {
  for (const auto& [k, v] : m) {
    if (k == key) return &v;
  }
  return nullptr;
}

}  // namespace detail

inline constexpr std::string_view checkpoint_format = "forma-train 1";

// Writes `bytes` to path through path.tmp: write, fsync, rename, then fsync of the directory.
using io::write_file_atomically;

// The whole training state of `trainer` (a LlamaTrainer) as a checksummed safetensors file.
// `metadata` may not use the keys format, step or checksum.
template <class Trainer>
Result<void> save_checkpoint(const Trainer& trainer, const std::string& path,
                             checkpoint_metadata metadata = {}) {
  for (const auto& [key, value] : metadata) {
    if (key == "format" || key == "step" || key == "checksum") {
      return make_error(errc::invalid_argument,
                        "save_checkpoint: the metadata key '" + key + "' is reserved");
    }
  }
  std::vector<io::NamedTensor> tensors;
  const auto add = [&](const char* part, std::span<const float> base) {
    for (const auto& slot : trainer.slots()) {
      tensors.push_back({part + std::string(slot.name), dtype::f32, {slot.size},
                         std::as_bytes(base.subspan(slot.offset, slot.size))});
    }
  };
  add("param.", trainer.parameters());
  add("adam_m.", trainer.first_moments());
  add("adam_v.", trainer.second_moments());
  metadata.emplace_back("format", std::string(checkpoint_format));
  metadata.emplace_back("step", std::to_string(trainer.steps_taken()));
  std::vector<std::span<const std::byte>> data;
  for (const auto& t : tensors) data.push_back(t.data);
  metadata.emplace_back("checksum", detail::checkpoint_checksum(data, metadata));
  auto bytes = io::encode_safetensors(tensors, metadata);
  if (!bytes) return bytes.error();
  return write_file_atomically(path, *bytes);
}

// Restores a save_checkpoint file into `trainer` (of the same shape); its metadata.
template <class Trainer>
Result<checkpoint_metadata> load_checkpoint(Trainer& trainer, const std::string& path) {
  auto file = io::Safetensors::open(path);
  if (!file) return file.error();
  auto bad = [&](const std::string& why) {
    return make_error(errc::bad_format, why).with_path(path);
  };
  const checkpoint_metadata& metadata = file->metadata();
  const std::string* format = detail::find_metadata(metadata, "format");
  if (format == nullptr || *format != checkpoint_format) {
    return bad("not a forma-train checkpoint (no \"format\": \"forma-train 1\")");
  }
  std::vector<std::span<const std::byte>> data;
  for (const auto& e : file->tensors()) data.push_back(file->bytes(e));
  const std::string* sum = detail::find_metadata(metadata, "checksum");
  if (sum == nullptr || *sum != detail::checkpoint_checksum(data, metadata)) {
    return bad("checksum mismatch (a damaged checkpoint)");
  }
  const std::string* step_text = detail::find_metadata(metadata, "step");
  char* end = nullptr;
  const long step = step_text != nullptr ? std::strtol(step_text->c_str(), &end, 10) : -1;
  if (step_text == nullptr || end == step_text->c_str() || *end != '\0' || step < 0) {
    return bad("no valid \"step\"");
  }
  const std::size_t expected = 3 * trainer.slots().size();
  if (file->tensors().size() != expected) {
    return bad(std::to_string(file->tensors().size()) + " tensors, a trainer of this shape has " +
               std::to_string(expected));
  }
  for (const auto& slot : trainer.slots()) {
    for (const char* part : {"param.", "adam_m.", "adam_v."}) {
      const std::string name = part + std::string(slot.name);
      const auto* e = file->find(name);
      if (e == nullptr) return bad("tensor '" + name + "' is missing");
      if (e->type != dtype::f32 || e->size() != slot.size) {
        return bad("tensor '" + name + "' holds " + std::to_string(e->size()) + " " +
                   std::string(name_of(e->type)) + " values, expected " +
                   std::to_string(slot.size) + " f32 (another model shape?)");
      }
    }
  }
  for (const auto& slot : trainer.slots()) {
    const auto copy = [&](const char* part, std::span<float> to) {
      const auto bytes = file->bytes(*file->find(part + std::string(slot.name)));
      std::memcpy(to.data() + slot.offset, bytes.data(), bytes.size());
    };
    copy("param.", trainer.parameters());
    copy("adam_m.", trainer.first_moments());
    copy("adam_v.", trainer.second_moments());
  }
  trainer.set_steps_taken(step);
  return metadata;
}

}  // namespace forma::train
