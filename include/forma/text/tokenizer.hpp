// forma/text/tokenizer.hpp — the llama2.c tokenizer (SentencePiece BPE exported to tokenizer.bin).
//
// File: int32 max_token_length, then per token: float32 score, int32 byte length, the bytes.
// Parsing validates every length against the bytes that remain, so a hostile file is an Error,
// never a read out of bounds.
//
// encode() follows llama2.c's run.c (and so SentencePiece's BPE): optional BOS (1); a dummy-prefix
// " " token when the text is not empty; each UTF-8 code point (at most 4 bytes) looked up in the
// vocabulary, falling back to one <0xXX> token per byte (id byte + 3); then repeatedly merging
// the adjacent pair whose concatenation is the best-scoring token (leftmost on ties); optional
// EOS (2). decode() strips the leading space of a piece that follows BOS and turns <0xXX> pieces
// into the raw byte.
//
// SentencePiece models may also normalize text before encoding; tokenizer.bin does not record it
// and run.c does none. The one setting the llama2.c models differ in is remove_extra_whitespaces
// (on in tok512.model, off in Llama 2's): set_remove_extra_whitespaces(true) reproduces it —
// leading and trailing spaces dropped, runs of spaces collapsed to one — for SentencePiece
// parity; the default (off) is run.c's behaviour.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "forma/core/error.hpp"
#include "forma/io/mmap.hpp"

namespace forma::text {

inline constexpr std::int32_t bos_token = 1;
inline constexpr std::int32_t eos_token = 2;

class Tokenizer {
 public:
  // Parses a whole tokenizer.bin held in memory; every entry to the end of the buffer.
  static Result<Tokenizer> parse(std::span<const std::byte> bytes) {
    static_assert(std::endian::native == std::endian::little, "tokenizer.bin is little-endian");
    io::ByteReader reader(bytes);
    Tokenizer t;
    std::int32_t max_length = 0;
    if (!reader.read(max_length)) {
      return make_error(errc::truncated, "tokenizer: the file has " + std::to_string(bytes.size()) +
                                             " bytes, too few for its header");
    }
    if (max_length <= 0) {
      return make_error(errc::bad_format, "tokenizer: max_token_length is " +
                                              std::to_string(max_length) + ", must be positive");
    }
    t.max_token_length_ = static_cast<std::size_t>(max_length);
    while (reader.remaining() > 0) {
      const std::size_t index = t.pieces_.size();
      float score = 0;
      std::int32_t length = 0;
      std::span<const std::byte> piece;
      if (!reader.read(score) || !reader.read(length)) {
        return make_error(errc::truncated, "tokenizer: the file ends inside the header of token " +
                                               std::to_string(index));
      }
      if (length < 0) {
        return make_error(errc::bad_format, "tokenizer: token " + std::to_string(index) +
                                                " has length " + std::to_string(length));
      }
      if (!reader.read_bytes(static_cast<std::size_t>(length), piece)) {
        return make_error(errc::truncated, "tokenizer: token " + std::to_string(index) + " needs " +
                                               std::to_string(length) + " bytes, the file has " +
                                               std::to_string(reader.remaining()) + " left");
      }
      t.scores_.push_back(score);
      t.pieces_.emplace_back(reinterpret_cast<const char*>(piece.data()), piece.size());
    }
    if (t.pieces_.empty()) return make_error(errc::bad_format, "tokenizer: the file holds no tokens");
    t.build_index();
    return t;
  }

  static Result<Tokenizer> load(const std::string& path) {
    auto file = io::MappedFile::open(path);
    if (!file) return std::move(file).error();
    auto parsed = parse(file->bytes());
    if (!parsed) return std::move(parsed).error().with_path(path);
    return parsed;
  }

  // Loads and checks that the vocabulary has exactly `vocab_size` tokens (the model's).
  static Result<Tokenizer> load(const std::string& path, std::size_t vocab_size) {
    auto loaded = load(path);
    if (!loaded) return loaded;
    if (loaded->vocab_size() != vocab_size) {
      Error error = make_error(errc::shape_mismatch,
                               "tokenizer has " + std::to_string(loaded->vocab_size()) +
                                   " tokens, the model's vocabulary has " +
                                   std::to_string(vocab_size));
      error.expected = std::to_string(vocab_size);
      error.found = std::to_string(loaded->vocab_size());
      return std::move(error).with_path(path);
    }
    return loaded;
  }

  std::size_t vocab_size() const noexcept { return pieces_.size(); }
  std::size_t max_token_length() const noexcept { return max_token_length_; }
  bool contains(std::int32_t token) const noexcept {
    return token >= 0 && static_cast<std::size_t>(token) < pieces_.size();
  }
  // The stored piece (token must be valid).
  std::string_view piece(std::int32_t token) const noexcept { return pieces_[static_cast<std::size_t>(token)]; }
  float score(std::int32_t token) const noexcept { return scores_[static_cast<std::size_t>(token)]; }

  // The id whose piece is exactly `text`, or -1.
  std::int32_t find(std::string_view text) const noexcept {
    const auto it = std::lower_bound(sorted_.begin(), sorted_.end(), text,
                                     [this](std::int32_t id, std::string_view key) { return piece(id) < key; });
    return it != sorted_.end() && piece(*it) == text ? *it : -1;
  }

  // SentencePiece's remove_extra_whitespaces normalization (off by default, as in run.c).
  void set_remove_extra_whitespaces(bool on) noexcept { remove_extra_whitespaces_ = on; }
  bool removes_extra_whitespaces() const noexcept { return remove_extra_whitespaces_; }

  // Appends the tokens of `text` to `tokens` (which is cleared first).
  Result<void> encode(std::string_view text, bool bos, bool eos, std::vector<std::int32_t>& tokens) const {
    tokens.clear();
    std::string collapsed;
    if (remove_extra_whitespaces_) {
      collapsed = collapse_spaces(text);
      text = collapsed;
    }
    if (bos) tokens.push_back(bos_token);
    if (!text.empty()) {
      const std::int32_t space = find(" ");
      if (space < 0) {
        return make_error(errc::invalid_argument, "encode: the vocabulary has no \" \" token for the dummy prefix");
      }
      tokens.push_back(space);
    }
    for (std::size_t start = 0; start < text.size();) {
      // One code point: a byte that is not a continuation byte, then up to 3 continuation bytes.
      std::size_t end = start + 1;
      while (end < text.size() && end - start < 4 && (static_cast<unsigned char>(text[end]) & 0xC0u) == 0x80u) {
        ++end;
      }
      const std::string_view code_point = text.substr(start, end - start);
      if (const std::int32_t id = find(code_point); id >= 0) {
        tokens.push_back(id);
      } else {
        for (const char byte : code_point) {
          const std::int32_t fallback = static_cast<std::int32_t>(static_cast<unsigned char>(byte)) + 3;
          if (!contains(fallback)) {
            return make_error(errc::invalid_argument,
                              "encode: byte " + std::to_string(static_cast<unsigned char>(byte)) +
                                  " has no byte-fallback token in a vocabulary of " +
                                  std::to_string(vocab_size()));
          }
          tokens.push_back(fallback);
        }
      }
      start = end;
    }
    merge(tokens);
    if (eos) tokens.push_back(eos_token);
    return {};
  }

  Result<std::vector<std::int32_t>> encode(std::string_view text, bool bos = false, bool eos = false) const {
    std::vector<std::int32_t> tokens;
    if (auto done = encode(text, bos, eos, tokens); !done) return std::move(done).error();
    return tokens;
  }

  // The text of `token` when it follows `previous`, as run.c decodes it. Errors on invalid ids.
  Result<std::string_view> decode(std::int32_t previous, std::int32_t token) const {
    if (!contains(token)) {
      return make_error(errc::out_of_range, "decode: token id " + std::to_string(token) +
                                                " is out of range for a vocabulary of " +
                                                std::to_string(vocab_size()));
    }
    std::string_view text = piece(token);
    if (previous == bos_token && !text.empty() && text.front() == ' ') text.remove_prefix(1);
    if (const int byte = byte_value(text); byte >= 0) return std::string_view(&byte_chars_[static_cast<std::size_t>(byte)], 1);
    return text;
  }

  // The whole text of a token sequence (each piece decoded after its predecessor; the first
  // after BOS when `after_bos`).
  Result<std::string> decode_all(std::span<const std::int32_t> tokens, bool after_bos = true) const {
    std::string text;
    std::int32_t previous = after_bos ? bos_token : -1;
    for (const std::int32_t token : tokens) {
      auto piece_text = decode(previous, token);
      if (!piece_text) return std::move(piece_text).error();
      text += *piece_text;
      previous = token;
    }
    return text;
  }

  // run.c's safe_printf rule: a single byte that is neither printable nor whitespace is not
  // printed (raw control bytes); anything longer is.
  static bool printable(std::string_view text) noexcept {
    if (text.empty()) return false;
    if (text.size() > 1) return true;
    const auto byte = static_cast<unsigned char>(text.front());
    return (byte >= 0x20 && byte < 0x7F) || byte == ' ' || (byte >= '\t' && byte <= '\r');
  }

 private:
  Tokenizer() {
    for (std::size_t i = 0; i < byte_chars_.size(); ++i) byte_chars_[i] = static_cast<char>(i);
  }

  // "<0xXX>" (one or two hex digits after "<0x", as run.c's sscanf accepts) → the byte, else −1.
  static int byte_value(std::string_view text) noexcept {
    if (text.size() < 4 || text.substr(0, 3) != "<0x") return -1;
    int value = 0, digits = 0;
    for (std::size_t i = 3; i < text.size() && digits < 2; ++i, ++digits) {
      const char c = text[i];
      int digit = -1;
      if (c >= '0' && c <= '9') digit = c - '0';
      if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
      if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
      if (digit < 0) break;
      value = value * 16 + digit;
    }
    return digits == 0 ? -1 : value;
  }

  // Leading and trailing spaces dropped, each run of spaces inside made one space.
  static std::string collapse_spaces(std::string_view text) {
    std::string result;
    result.reserve(text.size());
    bool pending_space = false;
    for (const char c : text) {
      if (c == ' ') {
        pending_space = !result.empty();
        continue;
      }
      if (pending_space) result.push_back(' ');
      pending_space = false;
      result.push_back(c);
    }
    return result;
  }

  void build_index() {
    sorted_.resize(pieces_.size());
    for (std::size_t i = 0; i < sorted_.size(); ++i) sorted_[i] = static_cast<std::int32_t>(i);
    std::stable_sort(sorted_.begin(), sorted_.end(),
                     [this](std::int32_t a, std::int32_t b) { return piece(a) < piece(b); });
  }

  // Greedy BPE: merge the best-scoring adjacent pair until no pair is a token (BOS included, as
  // in run.c, though no vocabulary has a token that starts with BOS's piece).
  void merge(std::vector<std::int32_t>& tokens) const {
    std::string pair;
    while (true) {
      float best_score = -1e10f;
      std::int32_t best_id = -1;
      std::size_t best_index = 0;
      for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
        pair.assign(piece(tokens[i]));
        pair.append(piece(tokens[i + 1]));
        const std::int32_t id = find(pair);
        if (id >= 0 && score(id) > best_score) {
          best_score = score(id);
          best_id = id;
          best_index = i;
        }
      }
      if (best_id < 0) return;
      tokens[best_index] = best_id;
      tokens.erase(tokens.begin() + static_cast<std::ptrdiff_t>(best_index) + 1);
    }
  }

  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::vector<std::int32_t> sorted_;
  std::size_t max_token_length_ = 0;
  bool remove_extra_whitespaces_ = false;
  std::array<char, 256> byte_chars_{};
};

}  // namespace forma::text
