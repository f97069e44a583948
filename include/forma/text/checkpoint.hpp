// forma/text/checkpoint.hpp — any checkpoint forma reads, opened as a model of the right type, and
// the tokenizer that goes with it. forma-run and forma-serve load models through this.
//
//   auto done = forma::text::with_checkpoint<int>({.path = "model.bin"},
//       [&](auto& model, forma::text::CheckpointContext& context) {
//         auto tokenizer = forma::text::load_tokenizer(context, {.path = "tok.bin"}, model.vocab_size());
//         ...
//         return 0;
//       });
//
// The format is detected: a directory is a Hugging Face model (config.json + safetensors: Llama,
// Qwen2 or GPT-2 from model_type), magic "GGUF" a GGUF file (llama or qwen2, dequantized to f32),
// magic 20240326 an llm.c GPT-2 checkpoint, anything else a llama2.c .bin (the fully static
// stories260K type when its header matches that preset, dynamic extents otherwise). The visitor
// is instantiated for every model type and called once, while the weights (often an mmapped
// file) are alive; it must return R for each of them.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

#include "forma/core/error.hpp"
#include "forma/core/summation.hpp"
#include "forma/io/gguf.hpp"
#include "forma/io/gguf_model.hpp"
#include "forma/io/hf.hpp"
#include "forma/io/llama2c.hpp"
#include "forma/io/llmc.hpp"
#include "forma/models/decoder.hpp"
#include "forma/models/llama.hpp"
#include "forma/models/presets.hpp"
#include "forma/text/bpe.hpp"
#include "forma/text/gguf_tokenizer.hpp"
#include "forma/text/tokenizer.hpp"

namespace forma::text {

enum class checkpoint_format : std::uint8_t { llama2c, llmc, hugging_face, gguf };

// Either tokenizer a checkpoint generates with: SentencePiece (llama2.c, GGUF 'llama') or
// byte-level BPE (GPT-2, Qwen2, GGUF 'gpt2').
using AnyTokenizer = std::variant<Tokenizer, BpeTokenizer>;

namespace detail {
inline bool is_directory(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec);
}

// The file's first four bytes as a little-endian u32 (0 when it cannot be read).
inline std::uint32_t file_magic(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return 0;
  std::uint32_t magic = 0;
  if (std::fread(&magic, sizeof magic, 1, f) != 1) magic = 0;
  std::fclose(f);
  return magic;
}
}  // namespace detail

inline checkpoint_format detect_checkpoint_format(const std::string& path) {
  if (detail::is_directory(path)) return checkpoint_format::hugging_face;
  const std::uint32_t magic = detail::file_magic(path);
  if (magic == io::gguf::magic) return checkpoint_format::gguf;
  if (magic == static_cast<std::uint32_t>(io::llmc::magic)) return checkpoint_format::llmc;
  return checkpoint_format::llama2c;
}

struct CheckpointOptions {
  std::string path;
  bool fast_arithmetic = false;  // SIMD partial sums instead of run.c's left-to-right dot products
  // GGUF: read the file's own tokenizer (before the weights, so a file without one fails fast).
  bool gguf_tokenizer = false;
  // Appended to the error of a GGUF file whose tokenizer cannot be read.
  std::string gguf_tokenizer_hint;
  // The positions the model will run (0 = the checkpoint's max_seq): the KV cache and the score
  // buffers are sized for these, so a long-context file (Qwen2.5's 32,768) need not allocate its
  // whole cache. More than max_seq is an error naming both.
  std::size_t context = 0;
};

// What the visitor gets besides the model.
struct CheckpointContext {
  std::string path;
  checkpoint_format format = checkpoint_format::llama2c;
  std::optional<AnyTokenizer> own_tokenizer;  // a GGUF file's, when asked for
  std::size_t context = 0;                     // CheckpointOptions::context
};

namespace detail {
template <class R, class Model, class Weights, class Visitor>
Result<R> visit_model(const Weights& weights, CheckpointContext& context, Visitor& visitor) {
  if (context.context > weights.shape.max_seq) {
    return make_error(errc::invalid_argument, context.path + ": a context of " + std::to_string(context.context) +
                                                  " positions exceeds the model's max_seq of " +
                                                  std::to_string(weights.shape.max_seq));
  }
  Model model(weights, context.context);
  return visitor(model, context);
}

template <class R, DecoderConfig C, class Visitor>
Result<R> visit_decoder(const DecoderWeights<C>& weights, bool fast, CheckpointContext& context, Visitor& visitor) {
  if (fast) return visit_model<R, Decoder<C, 32, fast_sum_t>>(weights, context, visitor);
  return visit_model<R, Decoder<C, 32, ordered_sum_t>>(weights, context, visitor);
}

template <class R, LlamaConfig C, class Visitor>
Result<R> visit_llama(const LlamaWeights<C>& weights, bool fast, CheckpointContext& context, Visitor& visitor) {
  if (fast) return visit_model<R, Llama<C, 32, fast_sum_t>>(weights, context, visitor);
  return visit_model<R, Llama<C, 32, ordered_sum_t>>(weights, context, visitor);
}

template <class R, DecoderConfig C, class Visitor>
Result<R> visit_hf(const CheckpointOptions& options, CheckpointContext& context, Visitor& visitor) {
  auto model = io::hf::load<C>(options.path);
  if (!model) return std::move(model).error();
  return visit_decoder<R, C>(model->weights(), options.fast_arithmetic, context, visitor);
}

template <class R, DecoderConfig C, class Visitor>
Result<R> visit_gguf(const io::gguf::File& file, const CheckpointOptions& options, CheckpointContext& context,
                     Visitor& visitor) {
  auto model = io::gguf::load<C>(file);
  if (!model) return std::move(model).error();
  return visit_decoder<R, C>(model->weights(), options.fast_arithmetic, context, visitor);
}
}  // namespace detail

// Opens the checkpoint, builds its model (Llama<C, 32, Sum> or Decoder<C, 32, Sum>) and returns
// visitor(model, context); a load error is returned as it is.
template <class R, class Visitor>
Result<R> with_checkpoint(const CheckpointOptions& options, Visitor&& visitor) {
  CheckpointContext context{.path = options.path, .format = detect_checkpoint_format(options.path),
                            .own_tokenizer = std::nullopt, .context = options.context};
  switch (context.format) {
    case checkpoint_format::hugging_face: {
      auto config = io::hf::read_config(options.path);
      if (!config) return std::move(config).error();
      switch (config->family) {
        case model_family::llama: return detail::visit_hf<R, presets::any_hf_llama>(options, context, visitor);
        case model_family::qwen2: return detail::visit_hf<R, presets::any_qwen2>(options, context, visitor);
        case model_family::gpt2:
          return config->ffn == nn::ffn_kind::gelu_erf
                     ? detail::visit_hf<R, presets::any_gpt2_erf>(options, context, visitor)
                     : detail::visit_hf<R, presets::any_gpt2>(options, context, visitor);
      }
      return make_error(errc::unsupported, options.path + ": an unknown model family");
    }
    case checkpoint_format::gguf: {
      // A llama file uses the interleaved RoPE that llama.cpp's converter lays q and k out for.
      auto file = io::gguf::File::open(options.path);
      if (!file) return std::move(file).error();
      auto config = io::gguf::read_model_config(*file);
      if (!config) return std::move(config).error();
      if (options.gguf_tokenizer) {
        auto tokenizer = load_gguf_tokenizer(*file);
        if (!tokenizer) {
          Error error = std::move(tokenizer).error();
          error.message += options.gguf_tokenizer_hint;
          return error;
        }
        context.own_tokenizer.emplace(std::move(*tokenizer));
      }
      if (config->family == model_family::qwen2) {
        return detail::visit_gguf<R, presets::any_qwen2>(*file, options, context, visitor);
      }
      return detail::visit_gguf<R, presets::any_gguf_llama>(*file, options, context, visitor);
    }
    case checkpoint_format::llmc: {
      auto checkpoint = io::llmc::load<presets::any_gpt2>(options.path);
      if (!checkpoint) return std::move(checkpoint).error();
      return detail::visit_decoder<R, presets::any_gpt2>(checkpoint->weights(), options.fast_arithmetic, context,
                                                         visitor);
    }
    case checkpoint_format::llama2c: break;
  }
  namespace llama2c = io::llama2c;
  auto header = llama2c::read_header(options.path);
  if (!header) return std::move(header).error();
  // A checkpoint that matches the preset runs on the fully static type. A version 2 (Q8_0) file is
  // dequantized to fp32 on load (llama2c::load_fp32); the others are mapped in place.
  if (llama2c::check_config<presets::stories260k>(*header)) {
    auto checkpoint = llama2c::load_fp32<presets::stories260k>(options.path);
    if (!checkpoint) return std::move(checkpoint).error();
    return detail::visit_llama<R>(checkpoint->weights(), options.fast_arithmetic, context, visitor);
  }
  auto checkpoint = llama2c::load_fp32<presets::any_llama>(options.path);
  if (!checkpoint) return std::move(checkpoint).error();
  return detail::visit_llama<R>(checkpoint->weights(), options.fast_arithmetic, context, visitor);
}

struct TokenizerOptions {
  // The tokenizer named on the command line (-z), if any: a llama2.c tokenizer.bin, or a
  // tokenizer.json or a directory (vocab.json + merges.txt, encoder.json + vocab.bpe) for BPE.
  std::optional<std::string> path;
  std::string default_path = "tokenizer.bin";  // the SentencePiece file used when none is named
};

// The tokenizer for the model of `context`: a GGUF file's own (taken from the context), the named
// one, the BPE files beside a Hugging Face checkpoint, or else a llama2.c tokenizer.bin. A
// SentencePiece vocabulary must be the model's size; a BPE one may be smaller (a padded vocabulary).
inline Result<AnyTokenizer> load_tokenizer(CheckpointContext& context, const TokenizerOptions& options,
                                           std::size_t model_vocab) {
  if (context.own_tokenizer && !options.path) {
    AnyTokenizer own = std::move(*context.own_tokenizer);
    context.own_tokenizer.reset();
    if (const auto* tokenizer = std::get_if<Tokenizer>(&own); tokenizer && tokenizer->vocab_size() != model_vocab) {
      return make_error(errc::shape_mismatch, context.path + ": the file's tokenizer has " +
                                                  std::to_string(tokenizer->vocab_size()) +
                                                  " tokens, its model's vocabulary " + std::to_string(model_vocab));
    }
    return own;
  }
  std::optional<std::string> bpe_path;
  if (options.path) {
    const std::string& path = *options.path;
    const bool json = path.size() >= 5 && path.substr(path.size() - 5) == ".json";
    if (detail::is_directory(path) || json) bpe_path = path;
  } else if (context.format == checkpoint_format::hugging_face) {
    bpe_path = context.path;
  } else if (context.format == checkpoint_format::llmc) {
    return make_error(errc::invalid_argument,
                      "an llm.c checkpoint has no tokenizer beside it: pass -z with GPT-2's tokenizer (a "
                      "directory with encoder.json + vocab.bpe or vocab.json + merges.txt, or a tokenizer.json)");
  }
  if (bpe_path) {
    auto tokenizer = BpeTokenizer::load(*bpe_path);
    if (!tokenizer) {
      if (options.path) return std::move(tokenizer).error();
      Error error = std::move(tokenizer).error();
      error.message += " (no tokenizer beside the weights? pass -z)";
      return error;
    }
    return AnyTokenizer(std::move(*tokenizer));
  }
  auto tokenizer = Tokenizer::load(options.path.value_or(options.default_path), model_vocab);
  if (!tokenizer) return std::move(tokenizer).error();
  return AnyTokenizer(std::move(*tokenizer));
}

}  // namespace forma::text
