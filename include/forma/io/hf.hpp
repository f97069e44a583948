// forma/io/hf.hpp — Hugging Face model directories (config.json + safetensors) into the decoder.
//
//   constexpr auto config = forma::presets::any_hf_qwen2;   // or a static qwen2_decoder({...})
//   auto model = forma::io::hf::load<config>("Qwen2.5-0.5B/");  // checks everything first
//   forma::Decoder<config> decoder(model->weights());
//
// A directory holds config.json and either model.safetensors or model.safetensors.index.json with
// its shards (both at once, or an index naming a missing shard, is a one-line error). config.json
// is read for the shape (model_type llama, qwen2 or gpt2; transformers 4's top-level rope_theta
// and transformers 5's rope_parameters alike) and checked against the typed config: every
// mismatch is reported at once. Then every tensor the family needs is looked up by name — each
// missing, mis-shaped or wrongly typed tensor and each unexpected one is named, all in one error,
// before anything is computed. Buffers that are not parameters (GPT-2's attn.bias causal masks
// and attn.masked_bias, older Llama files' rotary_emb.inv_freq) are skipped; a tied lm_head.weight
// that duplicates the embedding is skipped too. Tensors may be f32, f16 or bf16, mixed; they are
// converted to f32 once, on load, into one aligned block the weights point into. GPT-2's Conv1D
// weights, stored [in, out], are transposed on load to the (out, in) layout every projection
// uses (c_attn's columns split into q, k and v).
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "forma/core/contract.hpp"
#include "forma/core/error.hpp"
#include "forma/core/extents.hpp"
#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/io/common.hpp"
#include "forma/io/decoder_storage.hpp"
#include "forma/io/json.hpp"
#include "forma/io/mmap.hpp"
#include "forma/io/safetensors.hpp"
#include "forma/models/decoder_config.hpp"
#include "forma/models/decoder_weights.hpp"

namespace forma::io::hf {

// What config.json says, in forma's terms.
struct Config {
  std::string path;        // the config.json read
  std::string model_type;  // "llama", "qwen2" or "gpt2"
  model_family family = model_family::llama;
  DecoderShape shape;      // max_seq = max_position_embeddings (n_positions for GPT-2)
  nn::ffn_kind ffn = nn::ffn_kind::swiglu;
  nn::position_kind position = nn::position_kind::rope_half;
  std::string dtype;       // torch_dtype / dtype: informational (each tensor's own dtype rules)
  std::string rope_from;   // "rope_parameters", "rope_theta" or "default"
  std::size_t bos = 0, eos = 0;  // bos_token_id / eos_token_id (0 when absent)
  bool has_bos = false, has_eos = false;
};

// How a tensor of a checkpoint is used.
enum class tensor_role : unsigned char { parameter, buffer, tied_duplicate };

namespace detail {

inline Error bad_config(const std::string& path, std::string message) {
  return make_error(errc::bad_format, std::move(message)).with_path(path);
}

inline Result<std::string> read_text(const std::string& path) {
  auto mapped = MappedFile::open(path);
  if (!mapped) return std::move(mapped).error();
  const auto bytes = mapped->bytes();
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// A scalar of config.json (objects and arrays are kept only where a key needs them).
struct Scalar {
  json::Kind kind = json::Kind::null;
  std::string text;                      // a string's value or a number as written
  std::optional<std::uint64_t> integer;  // a non-negative integer
  bool boolean = false;
};
using Members = std::map<std::string, Scalar, std::less<>>;

inline Result<Scalar> read_scalar(json::Reader& r, json::Kind kind) {
  Scalar s;
  s.kind = kind;
  switch (kind) {
    case json::Kind::string: {
      auto v = r.string();
      if (!v) return std::move(v).error();
      s.text = std::move(*v);
      break;
    }
    case json::Kind::number: {
      auto v = r.number();
      if (!v) return std::move(v).error();
      s.text = std::string(v->text);
      s.integer = v->integer;
      break;
    }
    case json::Kind::boolean: {
      auto v = r.boolean();
      if (!v) return std::move(v).error();
      s.boolean = *v;
      break;
    }
    default: {
      if (auto v = r.null(); !v) return std::move(v).error();
      break;
    }
  }
  return s;
}

// Reads an object's scalar members; nested values are skipped (and recorded as objects).
inline Result<Members> read_members(json::Reader& r, std::map<std::string, Members>* nested) {
  Members members;
  if (auto ok = r.begin_object(); !ok) return std::move(ok).error();
  std::string key;
  while (true) {
    auto more = r.next_key(key);
    if (!more) return std::move(more).error();
    if (!*more) break;
    auto kind = r.value_kind();
    if (!kind) return std::move(kind).error();
    if (*kind == json::Kind::object && nested != nullptr) {
      auto inner = read_members(r, nullptr);
      if (!inner) return std::move(inner).error();
      (*nested)[key] = std::move(*inner);
      members[key] = Scalar{json::Kind::object, {}, {}, false};
    } else if (*kind == json::Kind::object || *kind == json::Kind::array) {
      if (auto ok = r.skip(); !ok) return std::move(ok).error();
      members[key] = Scalar{*kind, {}, {}, false};
    } else {
      auto s = read_scalar(r, *kind);
      if (!s) return std::move(s).error();
      members[key] = std::move(*s);
    }
  }
  return members;
}

inline std::optional<double> to_double(const Scalar& s) {
  if (s.kind != json::Kind::number) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(s.text.data(), s.text.data() + s.text.size(), value);
  if (ec != std::errc() || end != s.text.data() + s.text.size()) return std::nullopt;
  return value;
}

// Reads config.json's fields one by one, remembering the first problem.
class Fields {
 public:
  Fields(const Members& members, std::string path) : m_(members), path_(std::move(path)) {}

  const Scalar* find(std::string_view key) const {
    const auto it = m_.find(key);
    return it == m_.end() ? nullptr : &it->second;
  }
  bool present(std::string_view key) const {
    const Scalar* s = find(key);
    return s != nullptr && s->kind != json::Kind::null;
  }
  // A positive integer that must be there.
  std::size_t count(std::string_view key) {
    const Scalar* s = find(key);
    if (s == nullptr || s->kind == json::Kind::null) {
      fail("'" + std::string(key) + "' is missing");
      return 1;
    }
    if (!s->integer || *s->integer == 0 || *s->integer > (std::uint64_t{1} << 40)) {
      fail("'" + std::string(key) + "' must be a positive integer, it is " + text(*s));
      return 1;
    }
    return static_cast<std::size_t>(*s->integer);
  }
  std::size_t count_or(std::string_view key, std::size_t fallback) {
    return present(key) ? count(key) : fallback;
  }
  float positive(std::string_view key, float fallback, bool required = false) {
    const Scalar* s = find(key);
    if (s == nullptr || s->kind == json::Kind::null) {
      if (required) fail("'" + std::string(key) + "' is missing");
      return fallback;
    }
    const auto v = to_double(*s);
    if (!v || !(*v > 0) || *v > 1e30) {
      fail("'" + std::string(key) + "' must be a positive number, it is " + text(*s));
      return fallback;
    }
    return static_cast<float>(*v);
  }
  bool flag(std::string_view key, bool fallback) {
    const Scalar* s = find(key);
    if (s == nullptr || s->kind == json::Kind::null) return fallback;
    if (s->kind != json::Kind::boolean) {
      fail("'" + std::string(key) + "' must be true or false, it is " + text(*s));
      return fallback;
    }
    return s->boolean;
  }
  std::string string(std::string_view key, std::string fallback = {}) {
    const Scalar* s = find(key);
    if (s == nullptr || s->kind == json::Kind::null) return fallback;
    if (s->kind != json::Kind::string) {
      fail("'" + std::string(key) + "' must be a string, it is " + text(*s));
      return fallback;
    }
    return s->text;
  }
  void fail(std::string message) {
    if (!error_) error_ = bad_config(path_, std::move(message));
  }
  std::optional<Error>& error() { return error_; }

  static std::string text(const Scalar& s) {
    switch (s.kind) {
      case json::Kind::string: return "\"" + s.text + "\"";
      case json::Kind::number: return s.text;
      case json::Kind::boolean: return s.boolean ? "true" : "false";
      case json::Kind::object: return "an object";
      case json::Kind::array: return "an array";
      default: return "null";
    }
  }

 private:
  const Members& m_;
  std::string path_;
  std::optional<Error> error_;
};

}  // namespace detail

// Parses config.json's text (path names it in errors).
inline Result<Config> parse_config(std::string_view text, const std::string& path) {
  json::Reader reader(text);
  std::map<std::string, detail::Members> nested;
  auto members = detail::read_members(reader, &nested);
  if (!members) return std::move(members).error().with_path(path);
  if (auto ok = reader.finish(); !ok) return std::move(ok).error().with_path(path);
  detail::Fields f(*members, path);
  Config c;
  c.path = path;
  c.model_type = f.string("model_type");
  if (f.error()) return *f.error();
  if (c.model_type == "llama") c.family = model_family::llama;
  else if (c.model_type == "qwen2") c.family = model_family::qwen2;
  else if (c.model_type == "gpt2") c.family = model_family::gpt2;
  else if (c.model_type.empty()) return detail::bad_config(path, "'model_type' is missing");
  else {
    return make_error(errc::unsupported, "model_type '" + c.model_type +
                                             "' is not one forma runs (llama, qwen2, gpt2)")
        .with_path(path);
  }
  c.dtype = f.string("torch_dtype", f.string("dtype"));
  if (const auto* bos = f.find("bos_token_id"); bos != nullptr && bos->integer) {
    c.bos = static_cast<std::size_t>(*bos->integer);
    c.has_bos = true;
  }
  if (const auto* eos = f.find("eos_token_id"); eos != nullptr && eos->integer) {
    c.eos = static_cast<std::size_t>(*eos->integer);
    c.has_eos = true;
  }
  DecoderShape& s = c.shape;
  if (c.family == model_family::gpt2) {
    s.dim = f.count("n_embd");
    s.heads = f.count("n_head");
    s.kv_heads = s.heads;
    s.layers = f.count("n_layer");
    s.positions = f.present("n_positions") ? f.count("n_positions") : f.count("n_ctx");
    s.max_seq = s.positions;
    s.hidden = f.count_or("n_inner", 4 * s.dim);
    s.vocab = f.count("vocab_size");
    s.norm_eps = f.positive("layer_norm_epsilon", 1e-5f);
    s.rope_theta = 0.0f;
    s.shared_classifier = true;
    c.position = nn::position_kind::learned;
    const std::string activation = f.string("activation_function", "gelu_new");
    if (activation == "gelu_new" || activation == "gelu_pytorch_tanh") {
      c.ffn = nn::ffn_kind::gelu_tanh;
    } else if (activation == "gelu") {
      c.ffn = nn::ffn_kind::gelu_erf;
    } else {
      f.fail("activation_function '" + activation +
             "' is not implemented (gelu_new, gelu_pytorch_tanh or gelu)");
    }
    if (f.flag("scale_attn_by_inverse_layer_idx", false) || f.flag("reorder_and_upcast_attn", false)) {
      f.fail("scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not implemented");
    }
    if (f.present("tie_word_embeddings") && !f.flag("tie_word_embeddings", true)) {
      f.fail("tie_word_embeddings false is not a GPT-2 forma runs (GPT-2's head is tied)");
    }
  } else {
    s.dim = f.count("hidden_size");
    s.hidden = f.count("intermediate_size");
    s.layers = f.count("num_hidden_layers");
    s.heads = f.count("num_attention_heads");
    s.kv_heads = f.count_or("num_key_value_heads", s.heads);
    s.vocab = f.count("vocab_size");
    s.max_seq = f.count("max_position_embeddings");
    s.positions = 0;
    s.norm_eps = f.positive("rms_norm_eps", 1e-6f, true);
    s.shared_classifier = f.flag("tie_word_embeddings", false);
    c.position = nn::position_kind::rope_half;
    c.ffn = nn::ffn_kind::swiglu;
    if (f.present("head_dim")) {
      const std::size_t head_dim = f.count("head_dim");
      if (!f.error() && s.heads != 0 && head_dim * s.heads != s.dim) {
        f.fail("head_dim " + std::to_string(head_dim) + " is not hidden_size / num_attention_heads (" +
               std::to_string(s.dim) + " / " + std::to_string(s.heads) +
               "): forma's attention needs head_dim · heads = hidden_size");
      }
    }
    const std::string act = f.string("hidden_act", "silu");
    if (act != "silu") f.fail("hidden_act '" + act + "' is not implemented (silu)");
    if (f.flag("attention_bias", false)) {
      f.fail("attention_bias true is not implemented for model_type " + c.model_type);
    }
    if (f.flag("mlp_bias", false)) f.fail("mlp_bias true is not implemented");
    if (f.flag("use_sliding_window", false)) f.fail("use_sliding_window true is not implemented");
    // RoPE: transformers 5's rope_parameters, or transformers 4's rope_theta + rope_scaling.
    const auto rope_type_of = [&](const detail::Members& m) -> std::string {
      for (const char* key : {"rope_type", "type"}) {
        const auto it = m.find(key);
        if (it != m.end() && it->second.kind == json::Kind::string) return it->second.text;
      }
      return "default";
    };
    if (const auto* params = f.find("rope_parameters");
        params != nullptr && params->kind != json::Kind::null) {
      if (params->kind != json::Kind::object) {
        f.fail("'rope_parameters' must be an object");
      } else {
        const detail::Members& m = nested["rope_parameters"];
        detail::Fields rf(m, path);
        const std::string type = rope_type_of(m);
        if (type != "default") {
          return make_error(errc::unsupported, "rope_parameters: rope_type '" + type +
                                                   "' is not implemented (forma runs 'default')")
              .with_path(path);
        }
        s.rope_theta = rf.positive("rope_theta", 10000.0f, true);
        if (rf.error()) return *rf.error();
        c.rope_from = "rope_parameters";
      }
    } else {
      s.rope_theta = f.positive("rope_theta", 10000.0f);
      c.rope_from = f.present("rope_theta") ? "rope_theta" : "default";
    }
    if (const auto* scaling = f.find("rope_scaling");
        scaling != nullptr && scaling->kind != json::Kind::null) {
      if (scaling->kind != json::Kind::object) {
        f.fail("'rope_scaling' must be an object or null");
      } else {
        const std::string type = rope_type_of(nested["rope_scaling"]);
        if (type != "default") {
          return make_error(errc::unsupported, "rope_scaling: rope_type '" + type +
                                                   "' is not implemented (forma runs 'default')")
              .with_path(path);
        }
      }
    }
  }
  if (f.error()) return *f.error();
  return c;
}

// config.json of a model directory (or the file itself).
inline Result<Config> read_config(const std::string& dir_or_file) {
  std::filesystem::path p(dir_or_file);
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) p /= "config.json";
  auto text = detail::read_text(p.string());
  if (!text) return std::move(text).error();
  return parse_config(*text, p.string());
}

// Every field of config.json against the typed config C, all mismatches in one error:
// "m/config.json: hidden_size: type says 64, file says 128; model_type: type says gpt2, ...".
template <DecoderConfig C>
Result<void> check_config(const Config& c) {
  std::string problems;
  const auto add = [&](std::string_view what, const std::string& type, const std::string& file) {
    if (!problems.empty()) problems += "; ";
    problems += std::string(what) + ": type says " + type + ", file says " + file;
  };
  const auto extent = [&](std::string_view what, std::size_t field, std::size_t value) {
    if (field != dyn && field != value) add(what, std::to_string(field), std::to_string(value));
  };
  const auto number = [&](std::string_view what, float field, float value) {
    if (field != from_checkpoint && field != value) {
      add(what, std::to_string(field), std::to_string(value));
    }
  };
  if (C.family != c.family) {
    add("model_type", std::string(family_name(C.family)), c.model_type);
    return make_error(errc::shape_mismatch, problems).with_path(c.path);
  }
  const bool gpt2 = C.family == model_family::gpt2;
  extent(gpt2 ? "n_embd" : "hidden_size", C.dim, c.shape.dim);
  extent(gpt2 ? "n_inner" : "intermediate_size", C.hidden, c.shape.hidden);
  extent(gpt2 ? "n_layer" : "num_hidden_layers", C.layers, c.shape.layers);
  extent(gpt2 ? "n_head" : "num_attention_heads", C.heads, c.shape.heads);
  if (!gpt2) extent("num_key_value_heads", C.kv_heads, c.shape.kv_heads);
  extent("vocab_size", C.vocab, c.shape.vocab);
  if (gpt2) {
    extent("n_positions", C.positions, c.shape.positions);
    if (C.max_seq != dyn && C.max_seq > c.shape.positions) {
      add("context (max_seq)", std::to_string(C.max_seq),
          "n_positions " + std::to_string(c.shape.positions));
    }
    number("layer_norm_epsilon", C.norm_eps, c.shape.norm_eps);
    if (C.ffn != c.ffn) {
      add("activation_function", C.ffn == nn::ffn_kind::gelu_tanh ? "gelu_new" : "gelu",
          c.ffn == nn::ffn_kind::gelu_tanh ? "gelu_new" : "gelu");
    }
  } else {
    if (C.max_seq != dyn && C.max_seq > c.shape.max_seq) {
      add("context (max_seq)", std::to_string(C.max_seq),
          "max_position_embeddings " + std::to_string(c.shape.max_seq));
    }
    number("rms_norm_eps", C.norm_eps, c.shape.norm_eps);
    number("rope_theta", C.rope_theta, c.shape.rope_theta);
    if (C.position != nn::position_kind::rope_half) {
      add("rope layout", "interleaved pairs (llama2.c)", "half (Hugging Face rotate_half)");
    }
    if (C.classifier == classifier_kind::shared && !c.shape.shared_classifier) {
      add("tie_word_embeddings", "true", "false");
    }
    if (C.classifier == classifier_kind::separate && c.shape.shared_classifier) {
      add("tie_word_embeddings", "false", "true");
    }
  }
  if (!problems.empty()) return make_error(errc::shape_mismatch, problems).with_path(c.path);
  return {};
}

// ---- tensors --------------------------------------------------------------------------------

namespace detail {

// A tensor the family needs: its name, its shape in the file, and where its values go.
struct Want {
  std::string name;
  std::vector<std::size_t> shape;
  // Writes the file's values (converted to f32, row-major in the file's shape) into the storage.
  std::function<void(const float*)> place;
};

inline bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}
inline bool starts_with(std::string_view s, std::string_view head) {
  return s.substr(0, head.size()) == head;
}

// "h.12.attn.bias" → true when the part between prefix and suffix is a layer number.
inline bool layer_name(std::string_view name, std::string_view prefix, std::string_view suffix) {
  if (!starts_with(name, prefix) || !ends_with(name, suffix)) return false;
  if (name.size() <= prefix.size() + suffix.size()) return false;
  const std::string_view digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  return std::all_of(digits.begin(), digits.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

}  // namespace detail

// Whether a tensor name is a buffer of the family (never used for compute).
inline bool is_buffer(model_family family, std::string_view name) {
  using detail::layer_name;
  if (family == model_family::gpt2) {
    for (std::string_view prefix : {"h.", "transformer.h."}) {
      if (layer_name(name, prefix, ".attn.bias") || layer_name(name, prefix, ".attn.masked_bias")) {
        return true;
      }
    }
    return false;
  }
  return layer_name(name, "model.layers.", ".self_attn.rotary_emb.inv_freq");
}

// The files of a model directory: model.safetensors, or the shards an index names.
class Files {
 public:
  static Result<Files> open(const std::string& dir) {
    namespace fs = std::filesystem;
    const fs::path root(dir);
    const fs::path single = root / "model.safetensors";
    const fs::path index = root / "model.safetensors.index.json";
    std::error_code ec;
    const bool has_single = fs::exists(single, ec);
    const bool has_index = fs::exists(index, ec);
    Files files;
    if (has_single && has_index) {
      return make_error(errc::bad_format,
                        "holds both model.safetensors and model.safetensors.index.json: which "
                        "weights are meant is ambiguous; remove one")
          .with_path(dir);
    }
    if (!has_single && !has_index) {
      return make_error(errc::not_found,
                        "no model.safetensors or model.safetensors.index.json in this directory")
          .with_path(dir);
    }
    if (has_single) {
      auto file = Safetensors::open(single.string());
      if (!file) return std::move(file).error();
      files.files_.push_back(std::make_unique<Safetensors>(std::move(*file)));
    } else {
      auto text = detail::read_text(index.string());
      if (!text) return std::move(text).error();
      auto map = parse_index(*text, index.string());
      if (!map) return std::move(map).error();
      std::map<std::string, std::size_t> shard_of_file;
      for (const auto& [tensor, shard] : *map) {
        if (shard.find('/') != std::string::npos || shard.find('\\') != std::string::npos ||
            shard == "." || shard == "..") {
          return make_error(errc::bad_format, "weight_map: tensor '" + tensor +
                                                  "' names the shard '" + shard +
                                                  "' outside the directory")
              .with_path(index.string());
        }
        if (!shard_of_file.contains(shard)) {
          const fs::path shard_path = root / shard;
          if (!fs::exists(shard_path, ec)) {
            return make_error(errc::not_found, "weight_map names the shard '" + shard +
                                                   "' (for tensor '" + tensor +
                                                   "'), which is missing")
                .with_path(index.string());
          }
          auto file = Safetensors::open(shard_path.string());
          if (!file) return std::move(file).error();
          shard_of_file[shard] = files.files_.size();
          files.files_.push_back(std::make_unique<Safetensors>(std::move(*file)));
        }
        files.mapped_[tensor] = shard_of_file[shard];
      }
      files.index_ = index.string();
    }
    // Every tensor once, across the shards; an index must name each where it lies.
    for (std::size_t i = 0; i < files.files_.size(); ++i) {
      for (const auto& entry : files.files_[i]->tensors()) {
        auto [it, fresh] = files.where_.emplace(entry.name, Location{i, &entry});
        if (!fresh) {
          return make_error(errc::bad_format,
                            "tensor '" + entry.name + "' is in two shards: " +
                                files.files_[it->second.file]->path() + " and " +
                                files.files_[i]->path())
              .with_path(dir);
        }
        if (!files.index_.empty()) {
          const auto named = files.mapped_.find(entry.name);
          if (named == files.mapped_.end() || named->second != i) {
            return make_error(errc::bad_format, "tensor '" + entry.name + "' lies in " +
                                                    files.files_[i]->path() +
                                                    " but the index does not map it there")
                .with_path(files.index_);
          }
        }
      }
    }
    for (const auto& [tensor, shard] : files.mapped_) {
      if (!files.where_.contains(tensor)) {
        return make_error(errc::not_found, "weight_map names tensor '" + tensor +
                                               "', which its shard " +
                                               files.files_[shard]->path() + " does not hold")
            .with_path(files.index_);
      }
    }
    return files;
  }

  struct Location {
    std::size_t file = 0;
    const SafetensorsEntry* entry = nullptr;
  };
  const std::map<std::string, Location, std::less<>>& tensors() const noexcept { return where_; }
  const Safetensors& file(std::size_t i) const noexcept { return *files_[i]; }
  std::size_t file_count() const noexcept { return files_.size(); }
  const std::string& index_path() const noexcept { return index_; }

  // model.safetensors.index.json's weight_map: tensor name → shard file name.
  static Result<std::map<std::string, std::string>> parse_index(std::string_view text,
                                                                 const std::string& path) {
    json::Reader r(text);
    std::map<std::string, std::string> map;
    const auto fail = [&](Error e) { return std::move(e).with_path(path); };
    if (auto ok = r.begin_object(); !ok) return fail(std::move(ok).error());
    std::string key;
    bool have_map = false;
    while (true) {
      auto more = r.next_key(key);
      if (!more) return fail(std::move(more).error());
      if (!*more) break;
      if (key != "weight_map") {
        if (auto ok = r.skip(); !ok) return fail(std::move(ok).error());
        continue;
      }
      if (have_map) return fail(make_error(errc::bad_format, "'weight_map' appears twice"));
      have_map = true;
      if (auto ok = r.begin_object(); !ok) return fail(std::move(ok).error());
      std::string tensor;
      while (true) {
        auto next = r.next_key(tensor);
        if (!next) return fail(std::move(next).error());
        if (!*next) break;
        auto shard = r.string();
        if (!shard) return fail(std::move(shard).error());
        if (!map.emplace(tensor, std::move(*shard)).second) {
          return fail(make_error(errc::bad_format, "weight_map names '" + tensor + "' twice"));
        }
      }
    }
    if (auto ok = r.finish(); !ok) return fail(std::move(ok).error());
    if (!have_map) return fail(make_error(errc::bad_format, "no 'weight_map'"));
    return map;
  }

 private:

  std::vector<std::unique_ptr<Safetensors>> files_;
  std::map<std::string, std::size_t, std::less<>> mapped_;  // the index's map, by shard number
  std::map<std::string, Location, std::less<>> where_;
  std::string index_;
};

// A loaded model: the config, the f32 storage and the decoder weights that view it.
template <DecoderConfig C>
class Model {
 public:
  const Config& config() const noexcept { return config_; }
  const DecoderWeights<C>& weights() const noexcept { return weights_; }
  // Tensors read from the files but not used: buffers and a tied head's duplicate.
  const std::vector<std::string>& skipped() const noexcept { return skipped_; }
  std::size_t parameter_count() const noexcept { return parameters_; }

 private:
  template <DecoderConfig D>
  friend Result<Model<D>> load(const std::string& dir);

  Config config_;
  Tensor<float, extents<dyn>> storage_;
  DecoderWeights<C> weights_;
  std::vector<std::string> skipped_;
  std::size_t parameters_ = 0;
};

// Loads the model of a directory into the typed config C (static fields checked against
// config.json, dynamic ones taken from it).
template <DecoderConfig C>
Result<Model<C>> load(const std::string& dir) {
  using detail::Want;
  auto config = read_config(dir);
  if (!config) return std::move(config).error();
  if (auto ok = check_config<C>(*config); !ok) return std::move(ok).error();
  try {
    decoder_config_rules<C>(config->shape);  // the family's rules on config.json's values
  } catch (const shape_error& e) {
    return make_error(errc::shape_mismatch, e.what()).with_path(config->path);
  }
  auto files = Files::open(dir);
  if (!files) return std::move(files).error();

  Model<C> model;
  model.config_ = *config;
  const DecoderShape& s = config->shape;
  const std::size_t D = s.dim, H = s.hidden, KV = s.kv_dim(), V = s.vocab, L = s.layers;
  std::vector<Want> wants;
  // Sizes come from config.json, bounded by nothing yet: a layer count past the files' tensor
  // count cannot be right, and nothing is allocated from the other sizes until every tensor has
  // been found with exactly its expected shape (so the offsets are bounded by the files).
  if (L > files->tensors().size()) {
    return make_error(errc::shape_mismatch, "config.json says " + std::to_string(L) +
                                                " layers; the files hold only " +
                                                std::to_string(files->tensors().size()) + " tensors")
        .with_path(dir);
  }
  const DecoderOffsets<C> offsets(s);  // the storage is allocated once every tensor is checked
  const auto& at = offsets.layers;
  const std::size_t embedding_at = offsets.embedding, positions_at = offsets.positions,
                    final_norm_at = offsets.final_norm, final_bias_at = offsets.final_norm_bias,
                    classifier_at = offsets.classifier;
  std::vector<std::string> tied_duplicates;
  // The tensors to read and where each goes: built once to check the files (base is null then,
  // nothing is placed), and again over the storage.
  const auto make_wants = [&](float* base) {
    std::vector<Want> list;
    tied_duplicates.clear();
    const auto copy_to = [base](std::size_t offset, std::size_t count) {
      return [base, offset, count](const float* from) {
        std::copy(from, from + count, base + offset);
      };
    };
    // [rows, cols] in the file → (cols, rows) in the storage, from column `first` on.
    const auto transpose_to = [base](std::size_t offset, std::size_t rows, std::size_t cols,
                                     std::size_t first, std::size_t count) {
      return [=](const float* from) {
        for (std::size_t r = 0; r < rows; ++r) {
          for (std::size_t c = 0; c < count; ++c) base[offset + c * rows + r] = from[r * cols + first + c];
        }
      };
    };
    if constexpr (C.family == model_family::gpt2) {
      const std::string p = files->tensors().contains("transformer.wte.weight") ? "transformer." : "";
      list.push_back({p + "wte.weight", {V, D}, copy_to(embedding_at, V * D)});
      list.push_back({p + "wpe.weight", {s.positions, D}, copy_to(positions_at, s.positions * D)});
      for (std::size_t l = 0; l < L; ++l) {
        const std::string h = p + "h." + std::to_string(l) + ".";
        const auto& o = at[l];
        list.push_back({h + "ln_1.weight", {D}, copy_to(o.attn_norm, D)});
        list.push_back({h + "ln_1.bias", {D}, copy_to(o.attn_norm_bias, D)});
        const std::size_t wq = o.wq, wk = o.wk, wv = o.wv;
        const auto q = transpose_to(wq, D, 3 * D, 0, D), k = transpose_to(wk, D, 3 * D, D, D),
                   v = transpose_to(wv, D, 3 * D, 2 * D, D);
        list.push_back({h + "attn.c_attn.weight", {D, 3 * D}, [q, k, v](const float* from) {
                           q(from);
                           k(from);
                           v(from);
                         }});
        const std::size_t bq = o.bq, bk = o.bk, bv = o.bv;
        list.push_back({h + "attn.c_attn.bias", {3 * D}, [base, bq, bk, bv, D](const float* from) {
                           std::copy(from, from + D, base + bq);
                           std::copy(from + D, from + 2 * D, base + bk);
                           std::copy(from + 2 * D, from + 3 * D, base + bv);
                         }});
        list.push_back({h + "attn.c_proj.weight", {D, D}, transpose_to(o.wo, D, D, 0, D)});
        list.push_back({h + "attn.c_proj.bias", {D}, copy_to(o.bo, D)});
        list.push_back({h + "ln_2.weight", {D}, copy_to(o.ffn_norm, D)});
        list.push_back({h + "ln_2.bias", {D}, copy_to(o.ffn_norm_bias, D)});
        list.push_back({h + "mlp.c_fc.weight", {D, H}, transpose_to(o.w1, D, H, 0, H)});
        list.push_back({h + "mlp.c_fc.bias", {H}, copy_to(o.b1, H)});
        list.push_back({h + "mlp.c_proj.weight", {H, D}, transpose_to(o.w2, H, D, 0, D)});
        list.push_back({h + "mlp.c_proj.bias", {D}, copy_to(o.b2, D)});
      }
      list.push_back({p + "ln_f.weight", {D}, copy_to(final_norm_at, D)});
      list.push_back({p + "ln_f.bias", {D}, copy_to(final_bias_at, D)});
      tied_duplicates.push_back("lm_head.weight");
    } else {
      list.push_back({"model.embed_tokens.weight", {V, D}, copy_to(embedding_at, V * D)});
      for (std::size_t l = 0; l < L; ++l) {
        const std::string m = "model.layers." + std::to_string(l) + ".";
        const auto& o = at[l];
        list.push_back({m + "input_layernorm.weight", {D}, copy_to(o.attn_norm, D)});
        list.push_back({m + "self_attn.q_proj.weight", {D, D}, copy_to(o.wq, D * D)});
        list.push_back({m + "self_attn.k_proj.weight", {KV, D}, copy_to(o.wk, KV * D)});
        list.push_back({m + "self_attn.v_proj.weight", {KV, D}, copy_to(o.wv, KV * D)});
        list.push_back({m + "self_attn.o_proj.weight", {D, D}, copy_to(o.wo, D * D)});
        if constexpr (C.family == model_family::qwen2) {
          list.push_back({m + "self_attn.q_proj.bias", {D}, copy_to(o.bq, D)});
          list.push_back({m + "self_attn.k_proj.bias", {KV}, copy_to(o.bk, KV)});
          list.push_back({m + "self_attn.v_proj.bias", {KV}, copy_to(o.bv, KV)});
        }
        list.push_back({m + "post_attention_layernorm.weight", {D}, copy_to(o.ffn_norm, D)});
        list.push_back({m + "mlp.gate_proj.weight", {H, D}, copy_to(o.w1, H * D)});
        list.push_back({m + "mlp.up_proj.weight", {H, D}, copy_to(o.w3, H * D)});
        list.push_back({m + "mlp.down_proj.weight", {D, H}, copy_to(o.w2, D * H)});
      }
      list.push_back({"model.norm.weight", {D}, copy_to(final_norm_at, D)});
      if (s.shared_classifier) {
        tied_duplicates.push_back("lm_head.weight");
      } else {
        list.push_back({"lm_head.weight", {V, D}, copy_to(classifier_at, V * D)});
      }
    }

    return list;
  };
  wants = make_wants(nullptr);

  // Check everything, then say every problem at once.
  std::vector<std::string> problems;
  std::map<std::string_view, bool, std::less<>> wanted;
  for (const Want& w : wants) {
    wanted[w.name] = true;
    const auto found = files->tensors().find(w.name);
    if (found == files->tensors().end()) {
      problems.push_back("missing tensor '" + w.name + "' " + shape_text(w.shape));
      continue;
    }
    const SafetensorsEntry& e = *found->second.entry;
    if (e.type != dtype::f32 && e.type != dtype::f16 && e.type != dtype::bf16) {
      problems.push_back("tensor '" + w.name + "': expected dtype F32, F16 or BF16, file has " +
                         std::string(name_of(e.type)));
    }
    if (e.shape != w.shape) {
      problems.push_back("tensor '" + w.name + "': expected shape " + shape_text(w.shape) +
                         ", file has " + shape_text(e.shape));
    }
  }
  for (const auto& [name, location] : files->tensors()) {
    if (wanted.contains(name)) continue;
    if (is_buffer(C.family, name) ||
        std::find(tied_duplicates.begin(), tied_duplicates.end(), name) != tied_duplicates.end()) {
      if (std::find(tied_duplicates.begin(), tied_duplicates.end(), name) != tied_duplicates.end() &&
          location.entry->shape != std::vector<std::size_t>{V, D}) {
        problems.push_back("tensor '" + name + "' (the tied head): expected shape " +
                           shape_text(std::vector<std::size_t>{V, D}) + ", file has " +
                           shape_text(location.entry->shape));
      }
      model.skipped_.push_back(name);
      continue;
    }
    problems.push_back("unexpected tensor '" + name + "' " +
                       shape_text(location.entry->shape));
  }
  if (!problems.empty()) {
    std::string message;
    for (const auto& p : problems) message += (message.empty() ? "" : "; ") + p;
    const std::size_t count = problems.size();
    Error error = make_error(errc::shape_mismatch,
                             (count == 1 ? std::string() : std::to_string(count) + " problems: ") +
                                 message);
    return std::move(error).with_path(dir);
  }

  // Convert and place.
  model.storage_ = Tensor<float, extents<dyn>>(offsets.size);
  float* base = model.storage_.data();
  wants = make_wants(base);
  std::vector<float> scratch;
  for (const Want& w : wants) {
    const auto& location = files->tensors().find(w.name)->second;
    const SafetensorsEntry& e = *location.entry;
    const auto bytes = files->file(location.file).bytes(e);
    scratch.resize(e.size());
    if (!convert_elements(e.type, bytes, scratch.data(), scratch.size())) {
      return make_error(errc::unsupported, "cannot convert " + std::string(name_of(e.type)) +
                                               " to F32")
          .with_tensor(w.name)
          .with_path(files->file(location.file).path());
    }
    w.place(scratch.data());
    model.parameters_ += e.size();
  }

  model.weights_ = offsets.views(base);
  return model;
}

// How a checkpoint's tensor is used by a family (for forma-inspect).
inline tensor_role classify(model_family family, std::string_view name, bool tied) {
  if (is_buffer(family, name)) return tensor_role::buffer;
  if (name == "lm_head.weight" && tied) return tensor_role::tied_duplicate;
  return tensor_role::parameter;
}

}  // namespace forma::io::hf
