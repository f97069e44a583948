// forma/text/gguf_tokenizer.hpp — the tokenizer a GGUF file carries (tokenizer.ggml.*), as one of
// forma's two tokenizers.
//
//   tokenizer.ggml.model = "llama": SentencePiece → forma::text::Tokenizer in EncodeMode::sentencepiece
//     (SentencePiece's ids, as llama.cpp's SPM tokenizer gives them: the dummy-prefix space, byte
//     fallback, merges by score). tokens (U+2581 "▁" read as a space, as tokenizer.bin writes
//     pieces), scores (f32, one per token), token_type (i32, one per token, optional: without it
//     tokenizer.bin's layout is assumed), bos_token_id / eos_token_id (default 1 and 2).
//   tokenizer.ggml.model = "gpt2": byte-level BPE → forma::text::BpeTokenizer: tokens, merges
//     ("a b", rank = order), token_type (control tokens become special added tokens, user-defined
//     ones plain added tokens, both matched before the pre-tokenizer). The pre-tokenizer is
//     tokenizer.ggml.pre: "gpt-2" / "gpt2" GPT-2's pattern, "llama-bpe" (also "llama3",
//     "llama-v3") Llama 3's, with llama.cpp's ignore_merges (a piece that is a token is that
//     token), "qwen2" Qwen2's (BpePreTokenizer); any other, or none, is refused with an error
//     naming it, since a different split would give different ids. No BOS is ever added.
//
// Every failure is one line naming the file: a missing or mistyped key, a scores/token_type count
// that differs from the tokens', an unknown tokenizer.ggml.model, an unsupported pre-tokenizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "forma/core/error.hpp"
#include "forma/io/gguf.hpp"
#include "forma/text/bpe.hpp"
#include "forma/text/tokenizer.hpp"

namespace forma::text {

using GgufTokenizer = std::variant<Tokenizer, BpeTokenizer>;

namespace gguf_tokenizer_detail {

inline Error named(Error e, const io::gguf::File& file) {
  const std::string path = file.path();
  if (e.path.empty() && !path.empty()) return std::move(e).with_path(path);
  return e;
}

// tokenizer.ggml.token_type as a vector (empty when the key is absent), its count checked.
inline Result<std::vector<std::int32_t>> token_types(const io::gguf::File& file, std::size_t tokens) {
  if (file.find("tokenizer.ggml.token_type") == nullptr) return std::vector<std::int32_t>{};
  auto types = file.get_array<std::int32_t>("tokenizer.ggml.token_type");
  if (!types) return std::move(types).error();
  if (types->size() != tokens) {
    Error e = make_error(errc::shape_mismatch, "tokenizer.ggml.tokens has " + std::to_string(tokens) +
                                                   " tokens but tokenizer.ggml.token_type has " +
                                                   std::to_string(types->size()) + " entries");
    e.expected = std::to_string(tokens);
    e.found = std::to_string(types->size());
    return named(std::move(e), file);
  }
  return types;
}

// An optional integer key, or `fallback`.
inline Result<std::int32_t> optional_id(const io::gguf::File& file, std::string_view key, std::int32_t fallback) {
  if (file.find(key) == nullptr) return fallback;
  return file.get_int<std::int32_t>(key);
}

inline Result<GgufTokenizer> load_llama(const io::gguf::File& file, std::span<const std::string_view> tokens) {
  auto scores = file.get_array<float>("tokenizer.ggml.scores");
  if (!scores) return std::move(scores).error();
  if (scores->size() != tokens.size()) {
    Error e = make_error(errc::shape_mismatch, "tokenizer.ggml.tokens has " + std::to_string(tokens.size()) +
                                                   " tokens but tokenizer.ggml.scores has " +
                                                   std::to_string(scores->size()) + " entries");
    e.expected = std::to_string(tokens.size());
    e.found = std::to_string(scores->size());
    return named(std::move(e), file);
  }
  auto raw_types = token_types(file, tokens.size());
  if (!raw_types) return std::move(raw_types).error();
  std::vector<TokenType> types;
  types.reserve(raw_types->size());
  for (std::size_t i = 0; i < raw_types->size(); ++i) {
    const std::int32_t t = (*raw_types)[i];
    if (t < 0 || t > 6) {
      return named(make_error(errc::bad_format, "tokenizer.ggml.token_type[" + std::to_string(i) + "] is " +
                                                    std::to_string(t) + ", not a token type (0 to 6)"),
                   file);
    }
    types.push_back(static_cast<TokenType>(t));
  }
  auto bos = optional_id(file, "tokenizer.ggml.bos_token_id", bos_token);
  if (!bos) return std::move(bos).error();
  auto eos = optional_id(file, "tokenizer.ggml.eos_token_id", eos_token);
  if (!eos) return std::move(eos).error();
  // SentencePiece pieces write a space as U+2581; tokenizer.bin (and so Tokenizer) as ' '.
  std::vector<std::string> pieces;
  pieces.reserve(tokens.size());
  constexpr std::string_view lower_one_eighth = "\xE2\x96\x81";
  for (const std::string_view token : tokens) {
    std::string piece;
    piece.reserve(token.size());
    for (std::size_t i = 0; i < token.size();) {
      if (token.substr(i).starts_with(lower_one_eighth)) {
        piece += ' ';
        i += lower_one_eighth.size();
      } else {
        piece += token[i++];
      }
    }
    pieces.push_back(std::move(piece));
  }
  auto tokenizer = Tokenizer::from_pieces(std::move(pieces), std::move(*scores), std::move(types), *bos, *eos);
  if (!tokenizer) return named(std::move(tokenizer).error(), file);
  tokenizer->set_mode(EncodeMode::sentencepiece);
  return GgufTokenizer(std::in_place_type<Tokenizer>, std::move(*tokenizer));
}

inline Result<GgufTokenizer> load_gpt2(const io::gguf::File& file, std::span<const std::string_view> tokens) {
  std::string_view pre = "(none)";
  if (file.find("tokenizer.ggml.pre") != nullptr) {
    auto value = file.get<std::string_view>("tokenizer.ggml.pre");
    if (!value) return std::move(value).error();
    pre = *value;
  }
  BpePreTokenizer kind = BpePreTokenizer::gpt2;
  bool ignore_merges = false;
  if (pre == "gpt-2" || pre == "gpt2") {
    kind = BpePreTokenizer::gpt2;
  } else if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3") {
    kind = BpePreTokenizer::llama3;
    ignore_merges = true;  // as llama.cpp does for Llama 3
  } else if (pre == "qwen2") {
    kind = BpePreTokenizer::qwen2;
  } else {
    return named(make_error(errc::unsupported, "tokenizer.ggml.pre '" + io::gguf::printable(pre) +
                                                   "': forma implements the pre-tokenizers 'gpt-2', 'llama-bpe' and 'qwen2'"),
                 file);
  }
  auto merges = file.get_array<std::string_view>("tokenizer.ggml.merges");
  if (!merges) return std::move(merges).error();
  auto types = token_types(file, tokens.size());
  if (!types) return std::move(types).error();
  std::vector<BpeAddedToken> added;
  for (std::size_t i = 0; i < types->size(); ++i) {
    const auto t = static_cast<TokenType>((*types)[i]);
    if (t == TokenType::control || t == TokenType::user_defined) {
      added.push_back({std::string(tokens[i]), static_cast<std::int32_t>(i), t == TokenType::control, false, false});
    }
  }
  auto tokenizer = BpeTokenizer::from_vocab(tokens, *merges, std::move(added), "tokenizer.ggml.tokens",
                                            "tokenizer.ggml.merges", kind, ignore_merges);
  if (!tokenizer) return named(std::move(tokenizer).error(), file);
  return GgufTokenizer(std::in_place_type<BpeTokenizer>, std::move(*tokenizer));
}

}  // namespace gguf_tokenizer_detail

// The tokenizer of an open GGUF file (a model or a vocab-only file).
inline Result<GgufTokenizer> load_gguf_tokenizer(const io::gguf::File& file) {
  namespace d = gguf_tokenizer_detail;
  auto model = file.get<std::string_view>("tokenizer.ggml.model");
  if (!model) return std::move(model).error();
  auto tokens = file.get_array<std::string_view>("tokenizer.ggml.tokens");
  if (!tokens) return std::move(tokens).error();
  if (tokens->empty()) return d::named(make_error(errc::bad_format, "tokenizer.ggml.tokens is empty"), file);
  if (tokens->size() > static_cast<std::size_t>(INT32_MAX)) {
    return d::named(make_error(errc::bad_format, "tokenizer.ggml.tokens has more than 2^31 - 1 tokens"), file);
  }
  if (*model == "llama") return d::load_llama(file, *tokens);
  if (*model == "gpt2") return d::load_gpt2(file, *tokens);
  return d::named(make_error(errc::unsupported, "tokenizer.ggml.model '" + io::gguf::printable(*model) +
                                                    "' is not supported (forma reads 'llama' and 'gpt2')"),
                  file);
}

inline Result<GgufTokenizer> load_gguf_tokenizer(const std::string& path) {
  auto file = io::gguf::File::open(path);
  if (!file) return std::move(file).error();
  return load_gguf_tokenizer(*file);
}

}  // namespace forma::text
