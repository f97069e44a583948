// forma/io/gguf_model.hpp — Llama and Qwen2 models from GGUF files (llama.cpp's format) into the
// decoder.
//
//   constexpr auto config = forma::presets::any_gguf_llama;  // any_qwen2, or a static config
//   auto model = forma::io::gguf::load<config>("model.gguf");  // checks everything first
//   forma::Decoder<config> decoder(model->weights());
//
// The shape comes from the metadata of general.architecture ("llama" or "qwen2"): {arch}.
// context_length (max_seq), .embedding_length, .block_count, .feed_forward_length,
// .attention.head_count, .attention.head_count_kv (default: head_count), .rope.freq_base (default
// 10000, as llama.cpp), .attention.layer_norm_rms_epsilon; the vocabulary is token_embd.weight's
// row count (else {arch}.vocab_size, else tokenizer.ggml.tokens' length; where several are there
// they must agree). Everything is checked against the typed config C and every mismatch reported
// at once, then every tensor by name — each missing one, each of the wrong type or shape and each
// unexpected one named in one error — before anything is allocated from the file's sizes.
//
// Tensors (llama.cpp's names; dims as GGUF lists them, ne fastest-first, so a torch (out, in)
// matrix is [in, out]): token_embd.weight [dim, vocab], output_norm.weight [dim], output.weight
// [dim, vocab] (absent: the classifier is the embedding), and per layer N blk.N.attn_norm.weight,
// blk.N.attn_q.weight [dim, dim], attn_k / attn_v [dim, kv_dim] (+ attn_q/k/v.bias for qwen2),
// attn_output [dim, dim], ffn_norm, ffn_gate / ffn_up [dim, hidden], ffn_down [hidden, dim].
//
// RoPE pairing, part of the config's type (DecoderConfig::position): llama.cpp's converter permutes
// the rows of a "llama" model's q and k (convert_hf_to_gguf.py, LlamaModel.permute) so that GGUF
// "llama" rotates adjacent pairs (2i, 2i + 1) — nn::position_kind::rope_interleaved, llama2.c's —
// while "qwen2" keeps Hugging Face's pairs (i, i + d/2) — rope_half. A file loads only into a
// config of its architecture's pairing (presets::any_gguf_llama, presets::any_qwen2); the other is
// an Error that says so.
//
// Weights of any type gguf::File dequantizes (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K ..
// Q6_K; mixed freely) are dequantized to f32 once, on load, into one aligned block the Model owns
// and its weights point into: the file is closed after load, and a quantized model takes 4 bytes
// per weight in memory.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
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
#include "forma/io/decoder_storage.hpp"
#include "forma/io/gguf.hpp"
#include "forma/models/decoder_config.hpp"
#include "forma/models/decoder_weights.hpp"

namespace forma::io::gguf {

// The RoPE pairing a GGUF architecture's q and k rows are laid out for.
constexpr nn::position_kind rope_layout(model_family family) noexcept {
  return family == model_family::llama ? nn::position_kind::rope_interleaved
                                       : nn::position_kind::rope_half;
}

// What a GGUF model's metadata says, in forma's terms.
struct ModelConfig {
  std::string path;          // the file (empty for bytes in memory)
  std::string architecture;  // general.architecture: "llama" or "qwen2"
  std::string name;          // general.name, if any
  model_family family = model_family::llama;
  nn::position_kind position = nn::position_kind::rope_interleaved;  // rope_layout(family)
  DecoderShape shape;        // max_seq = {arch}.context_length; shared_classifier: no output.weight
  std::string vocab_from;    // "token_embd.weight", "{arch}.vocab_size" or "tokenizer.ggml.tokens"
  bool default_rope_theta = false;  // no {arch}.rope.freq_base: llama.cpp's 10000
};

namespace detail {

inline std::string dims_text(std::span<const std::uint64_t> dims) {
  std::string text = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "]";
}

inline Error located(Error error, const std::string& path) {
  return path.empty() ? error : std::move(error).with_path(path);
}

// "3 problems: a; b; c" (or just "a").
inline std::string joined(const std::vector<std::string>& problems) {
  std::string message;
  for (const auto& p : problems) message += (message.empty() ? "" : "; ") + p;
  return problems.size() == 1 ? message : std::to_string(problems.size()) + " problems: " + message;
}

// Reads {arch}.* keys one by one, collecting every problem.
class ModelKeys {
 public:
  ModelKeys(const File& file, std::string arch) : file_(file), arch_(std::move(arch)) {}

  std::string key(std::string_view suffix) const { return arch_ + "." + std::string(suffix); }
  const Value* find(std::string_view suffix) const { return file_.find(key(suffix)); }

  // A positive integer; `fallback` when absent and not required.
  std::size_t count(std::string_view suffix, std::optional<std::size_t> fallback = std::nullopt) {
    const std::string k = key(suffix);
    const Value* v = file_.find(k);
    if (v == nullptr) {
      if (fallback) return *fallback;
      problems.push_back("metadata '" + k + "' is missing");
      return 1;
    }
    if (v->is_array()) {
      problems.push_back("metadata '" + k + "' is an array (a value per layer): not implemented");
      return 1;
    }
    const value_type t = v->type();
    const auto n = t == value_type::boolean ? std::nullopt : v->get_int<std::uint64_t>();
    if (!n || *n == 0 || *n > (std::uint64_t{1} << 40)) {
      problems.push_back("metadata '" + k + "' must be a positive integer, it is " +
                         std::string(name_of(t)) + " " + v->text());
      return 1;
    }
    return static_cast<std::size_t>(*n);
  }

  // A positive finite float32 or float64; nothing when absent.
  std::optional<float> positive(std::string_view suffix, bool required) {
    const std::string k = key(suffix);
    const Value* v = file_.find(k);
    if (v == nullptr) {
      if (required) problems.push_back("metadata '" + k + "' is missing");
      return std::nullopt;
    }
    double value = 0;
    if (const auto f = v->get<float>()) value = *f;
    else if (const auto d = v->get<double>()) value = *d;
    else {
      problems.push_back("metadata '" + k + "' must be a float32, it is " +
                         std::string(name_of(v->type())) + " " + v->text());
      return std::nullopt;
    }
    if (!(value > 0) || !std::isfinite(value) || value > 1e30) {
      problems.push_back("metadata '" + k + "' must be a positive number, it is " + v->text());
      return std::nullopt;
    }
    return static_cast<float>(value);
  }

  std::vector<std::string> problems;

 private:
  const File& file_;
  std::string arch_;
};

}  // namespace detail

// Reads the model metadata of a GGUF file (the tensors are checked by load).
inline Result<ModelConfig> read_model_config(const File& file) {
  using detail::located;
  ModelConfig c;
  c.path = file.path();
  const Value* arch = file.find("general.architecture");
  if (arch == nullptr) {
    return located(make_error(errc::bad_format, "no metadata 'general.architecture': not a model "
                                                "(a vocabulary-only file?)"),
                   c.path);
  }
  const auto arch_name = arch->get<std::string_view>();
  if (!arch_name) {
    return located(make_error(errc::bad_format, "metadata 'general.architecture' must be a string, "
                                                "it is " + std::string(name_of(arch->type()))),
                   c.path);
  }
  c.architecture = std::string(*arch_name);
  if (c.architecture == "llama") {
    c.family = model_family::llama;
  } else if (c.architecture == "qwen2") {
    c.family = model_family::qwen2;
  } else {
    return located(make_error(errc::unsupported, "architecture '" + printable(c.architecture) +
                                                     "' is not one forma runs (llama, qwen2)"),
                   c.path);
  }
  c.position = rope_layout(c.family);
  if (const Value* name = file.find("general.name")) {
    if (const auto text = name->get<std::string_view>()) c.name = std::string(*text);
  }

  detail::ModelKeys keys(file, c.architecture);
  DecoderShape& s = c.shape;
  s.max_seq = keys.count("context_length");
  s.dim = keys.count("embedding_length");
  s.layers = keys.count("block_count");
  s.hidden = keys.count("feed_forward_length");
  s.heads = keys.count("attention.head_count");
  s.kv_heads = keys.count("attention.head_count_kv", s.heads);
  s.positions = 0;
  s.norm_eps = keys.positive("attention.layer_norm_rms_epsilon", true).value_or(1e-5f);
  const auto theta = keys.positive("rope.freq_base", false);
  s.rope_theta = theta.value_or(10000.0f);
  c.default_rope_theta = !theta && keys.find("rope.freq_base") == nullptr;
  s.shared_classifier = file.find_tensor("output.weight") == nullptr;

  // What forma's decoder does not run (the head size is known once the counts above were read).
  const bool counts_read = keys.problems.empty();
  const std::size_t head_dim = counts_read && s.dim % s.heads == 0 ? s.dim / s.heads : 0;
  for (const char* suffix : {"rope.dimension_count", "attention.key_length", "attention.value_length"}) {
    if (keys.find(suffix) == nullptr) continue;
    const std::size_t n = keys.count(suffix);
    if (head_dim != 0 && n != head_dim) {
      keys.problems.push_back("metadata '" + keys.key(suffix) + "' is " + std::to_string(n) +
                              ", not the head size embedding_length / head_count = " +
                              std::to_string(head_dim) + ": not implemented");
    }
  }
  if (const Value* scaling = keys.find("rope.scaling.type")) {
    const auto type = scaling->get<std::string_view>();
    if (!type || *type != "none") {
      keys.problems.push_back("metadata '" + keys.key("rope.scaling.type") + "' is " +
                              scaling->text() + ": RoPE scaling is not implemented");
    }
  }
  if (const Value* experts = keys.find("expert_count")) {
    if (experts->get_int<std::uint64_t>().value_or(1) != 0) {
      keys.problems.push_back("metadata '" + keys.key("expert_count") + "' is " + experts->text() +
                              ": mixture-of-experts models are not implemented");
    }
  }

  // The vocabulary: the embedding's rows, else what the metadata says; all of them must agree.
  std::optional<std::size_t> vocab;
  const TensorInfo* embedding = file.find_tensor("token_embd.weight");
  if (embedding != nullptr && embedding->n_dims == 2) {
    vocab = static_cast<std::size_t>(embedding->ne[1]);
    c.vocab_from = "token_embd.weight";
  }
  if (keys.find("vocab_size") != nullptr) {
    const std::size_t n = keys.count("vocab_size");
    if (!vocab) {
      vocab = n;
      c.vocab_from = keys.key("vocab_size");
    } else if (n != *vocab) {
      keys.problems.push_back("metadata '" + keys.key("vocab_size") + "' is " + std::to_string(n) +
                              " but " + c.vocab_from + " has " + std::to_string(*vocab) + " rows");
    }
  }
  if (const Value* tokens = file.find("tokenizer.ggml.tokens"); tokens != nullptr && tokens->is_array()) {
    if (!vocab) {
      vocab = tokens->size();
      c.vocab_from = "tokenizer.ggml.tokens";
    } else if (tokens->size() != *vocab) {
      keys.problems.push_back("tokenizer.ggml.tokens has " + std::to_string(tokens->size()) +
                              " tokens but " + c.vocab_from + " says " + std::to_string(*vocab));
    }
  }
  if (!vocab || *vocab == 0) {
    keys.problems.push_back("cannot tell the vocabulary size: no 2-D token_embd.weight, '" +
                            keys.key("vocab_size") + "' or tokenizer.ggml.tokens");
  }
  s.vocab = vocab.value_or(1);
  if (!keys.problems.empty()) {
    return located(make_error(errc::bad_format, detail::joined(keys.problems)), c.path);
  }
  return c;
}

// Every field of the file's metadata against the typed config C, all mismatches in one error:
// "m.gguf: llama.embedding_length: type says 32, file says 64; rope layout: type says ...".
template <DecoderConfig C>
Result<void> check_config(const ModelConfig& c) {
  std::vector<std::string> problems;
  const auto add = [&](const std::string& what, const std::string& type, const std::string& file) {
    problems.push_back(what + ": type says " + type + ", file says " + file);
  };
  const auto extent = [&](std::string_view suffix, std::size_t field, std::size_t value) {
    if (field != dyn && field != value) {
      add(c.architecture + "." + std::string(suffix), std::to_string(field), std::to_string(value));
    }
  };
  const auto number = [&](std::string_view suffix, float field, float value) {
    if (field != from_checkpoint && field != value) {
      add(c.architecture + "." + std::string(suffix), std::to_string(field), std::to_string(value));
    }
  };
  const auto pairing = [](nn::position_kind p) -> std::string {
    switch (p) {
      case nn::position_kind::rope_interleaved: return "adjacent pairs (2i, 2i + 1), rope_interleaved";
      case nn::position_kind::rope_half: return "pairs (i, i + d/2), rope_half";
      case nn::position_kind::learned: break;
    }
    return "learned positions";
  };
  if (C.family != c.family) {
    add("general.architecture", std::string(family_name(C.family)), c.architecture);
    return detail::located(make_error(errc::shape_mismatch, problems.front()), c.path);
  }
  const DecoderShape& s = c.shape;
  extent("embedding_length", C.dim, s.dim);
  extent("feed_forward_length", C.hidden, s.hidden);
  extent("block_count", C.layers, s.layers);
  extent("attention.head_count", C.heads, s.heads);
  extent("attention.head_count_kv", C.kv_heads, s.kv_heads);
  if (C.vocab != dyn && C.vocab != s.vocab) {
    add("vocab (" + c.vocab_from + ")", std::to_string(C.vocab), std::to_string(s.vocab));
  }
  if (C.max_seq != dyn && C.max_seq > s.max_seq) {
    add("context (max_seq)", std::to_string(C.max_seq),
        c.architecture + ".context_length " + std::to_string(s.max_seq));
  }
  number("attention.layer_norm_rms_epsilon", C.norm_eps, s.norm_eps);
  number("rope.freq_base", C.rope_theta, s.rope_theta);
  if (C.position != c.position) {
    add("rope layout", pairing(C.position),
        pairing(c.position) + (c.family == model_family::llama
                                   ? " (GGUF 'llama': llama.cpp's converter permuted q and k for "
                                     "them; load it with presets::any_gguf_llama or a "
                                     "llama_decoder(..., rope_interleaved) config)"
                                   : " (GGUF '" + c.architecture + "')"));
  }
  if (C.classifier == classifier_kind::shared && !s.shared_classifier) {
    add("classifier", "shared with the embedding", "a separate output.weight");
  }
  if (C.classifier == classifier_kind::separate && s.shared_classifier) {
    add("classifier", "separate", "no output.weight (tied to token_embd.weight)");
  }
  if (!problems.empty()) {
    return detail::located(make_error(errc::shape_mismatch, detail::joined(problems)), c.path);
  }
  return {};
}

// A loaded model: the config, the f32 storage and the decoder weights that view it.
template <DecoderConfig C>
class Model {
 public:
  const ModelConfig& config() const noexcept { return config_; }
  const DecoderWeights<C>& weights() const noexcept { return weights_; }
  std::size_t parameter_count() const noexcept { return parameters_; }

 private:
  template <DecoderConfig D>
  friend Result<Model<D>> load(const File& file);

  ModelConfig config_;
  Tensor<float, extents<dyn>> storage_;
  DecoderWeights<C> weights_;
  std::size_t parameters_ = 0;
};

// Loads the model of an opened GGUF file into the typed config C (static fields checked against
// the metadata, dynamic ones taken from it). The result does not refer to the file.
template <DecoderConfig C>
Result<Model<C>> load(const File& file) {
  static_assert(C.family == model_family::llama || C.family == model_family::qwen2,
                "gguf::load: GGUF models load into Llama and Qwen2 configs (llama_decoder, "
                "qwen2_decoder)");
  using detail::dims_text;
  auto config = read_model_config(file);
  if (!config) return std::move(config).error();
  if (auto ok = check_config<C>(*config); !ok) return std::move(ok).error();
  DecoderShape& s = config->shape;
  if (C.max_seq != dyn) s.max_seq = C.max_seq;  // a static context may be shorter than the file's
  try {
    decoder_config_rules<C>(s);  // the family's rules on the metadata's values
  } catch (const shape_error& e) {
    return detail::located(make_error(errc::shape_mismatch, e.what()), config->path);
  }
  const std::string& path = config->path;
  // The metadata's sizes are bounded by nothing yet: a layer count past the file's tensor count
  // cannot be right, and nothing is allocated from the other sizes until every tensor has been
  // found with exactly its expected dims (so the offsets are bounded by the file's size).
  if (s.layers > file.tensors().size()) {
    return detail::located(
        make_error(errc::shape_mismatch,
                   "metadata '" + config->architecture + ".block_count' says " +
                       std::to_string(s.layers) + " layers; the file holds only " +
                       std::to_string(file.tensors().size()) + " tensors"),
        path);
  }
  const DecoderOffsets<C> at(s);
  const std::uint64_t D = s.dim, H = s.hidden, KV = s.kv_dim(), V = s.vocab;

  // The tensors the family needs, their dims (ne, fastest first) and where each goes.
  struct Want {
    std::string name;
    std::vector<std::uint64_t> dims;
    std::size_t offset = 0;
  };
  std::vector<Want> wants;
  wants.push_back({"token_embd.weight", {D, V}, at.embedding});
  for (std::size_t l = 0; l < s.layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    const auto& o = at.layers[l];
    wants.push_back({b + "attn_norm.weight", {D}, o.attn_norm});
    wants.push_back({b + "attn_q.weight", {D, D}, o.wq});
    wants.push_back({b + "attn_k.weight", {D, KV}, o.wk});
    wants.push_back({b + "attn_v.weight", {D, KV}, o.wv});
    if constexpr (C.qkv_bias()) {
      wants.push_back({b + "attn_q.bias", {D}, o.bq});
      wants.push_back({b + "attn_k.bias", {KV}, o.bk});
      wants.push_back({b + "attn_v.bias", {KV}, o.bv});
    }
    wants.push_back({b + "attn_output.weight", {D, D}, o.wo});
    wants.push_back({b + "ffn_norm.weight", {D}, o.ffn_norm});
    wants.push_back({b + "ffn_gate.weight", {D, H}, o.w1});
    wants.push_back({b + "ffn_up.weight", {D, H}, o.w3});
    wants.push_back({b + "ffn_down.weight", {H, D}, o.w2});
  }
  wants.push_back({"output_norm.weight", {D}, at.final_norm});
  if (!s.shared_classifier) wants.push_back({"output.weight", {D, V}, at.classifier});

  // Check everything, then say every problem at once.
  std::vector<std::string> problems;
  std::vector<const TensorInfo*> found(wants.size(), nullptr);
  std::vector<bool> used(file.tensors().size(), false);
  for (std::size_t i = 0; i < wants.size(); ++i) {
    const Want& w = wants[i];
    const TensorInfo* t = file.find_tensor(w.name);
    if (t == nullptr) {
      problems.push_back("missing tensor '" + w.name + "' " + dims_text(w.dims));
      continue;
    }
    used[static_cast<std::size_t>(t - file.tensors().data())] = true;
    const auto info = traits(static_cast<std::uint32_t>(t->type));
    bool ok = true;
    if (!info || !info->dequantizable) {
      problems.push_back("tensor '" + w.name + "': type " + std::string(name_of(t->type)) +
                         " cannot be dequantized yet (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, "
                         "Q8_0, Q2_K-Q6_K can)");
      ok = false;
    }
    if (!std::ranges::equal(t->dims(), w.dims)) {
      problems.push_back("tensor '" + w.name + "': expected ne " + dims_text(w.dims) +
                         ", file has " + dims_text(t->dims()));
      ok = false;
    }
    if (ok) found[i] = t;
  }
  for (std::size_t i = 0; i < file.tensors().size(); ++i) {
    if (used[i]) continue;
    const TensorInfo& t = file.tensors()[i];
    problems.push_back("unexpected tensor '" + printable(t.name) + "' " + dims_text(t.dims()) + " " +
                       std::string(name_of(t.type)) +
                       (t.name == "rope_freqs.weight" ? " (Llama 3 RoPE scaling: not implemented)"
                                                      : ""));
  }
  if (!problems.empty()) {
    return detail::located(make_error(errc::shape_mismatch, detail::joined(problems)), path);
  }

  // Dequantize and place.
  Model<C> model;
  model.config_ = std::move(*config);
  model.storage_ = Tensor<float, extents<dyn>>(at.size);
  float* base = model.storage_.data();
  for (std::size_t i = 0; i < wants.size(); ++i) {
    const TensorInfo& t = *found[i];
    if (auto ok = file.dequantize(t, std::span<float>(base + wants[i].offset, t.elements)); !ok) {
      return std::move(ok).error();
    }
    model.parameters_ += t.elements;
  }
  model.weights_ = at.views(base);
  return model;
}

// Opens a GGUF file and loads its model into the typed config C.
template <DecoderConfig C>
Result<Model<C>> load(const std::string& path) {
  auto file = File::open(path);
  if (!file) return std::move(file).error();
  return load<C>(*file);
}

}  // namespace forma::io::gguf
