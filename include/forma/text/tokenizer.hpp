// forma/text/tokenizer.hpp — the llama2.c tokenizer: SentencePiece BPE exported to tokenizer.bin.
//
// File: int32 max_token_length, then per token: float32 score, int32 byte length, the bytes
// (little-endian). The vocabulary size is not stored: it is the number of entries up to the end
// of the file, and load(path, vocab_size) checks it against the model's. Parsing validates every
// length against the bytes that remain and the declared max_token_length, so a hostile file is an
// Error, never a read out of bounds.
//
// encode(text, bos, eos) is run.c's encode(): optional BOS (1); a dummy-prefix " " token when the
// text is not empty; each UTF-8 code point (a byte, then at most 3 continuation bytes) looked up
// in the vocabulary, else one byte-fallback token <0xXX> per byte (id byte + 3); then, again and
// again, the adjacent pair whose concatenated text is the best-scoring token is merged (the
// leftmost of equal scores); optional EOS (2).
// decode(previous, token) is run.c's decode(): the piece, its leading space dropped after BOS, and
// a <0xXX> piece read the way run.c's sscanf("<0x%02hhX>") reads it, turned into that raw byte.
// safe_piece()/printable() are run.c's safe_printf() rule for what reaches stdout.
//
// from_pieces() builds one from lists instead (GGUF's tokenizer.ggml.tokens / scores / token_type,
// see forma/text/gguf_tokenizer.hpp): token types then say which pieces are control, unknown,
// unused or byte pieces (SentencePiece never merges into those) and where the <0xXX> byte-fallback
// pieces are; BOS and EOS may be any ids (bos_id(), eos_id()).
//
// SentencePiece parity. For the models llama2.c ships (Llama 2's tokenizer.model and the
// tinyllamas ones) run.c's encode equals SentencePiece's, except on these classes of text, where
// EncodeMode::sentencepiece gives SentencePiece's ids instead (tests/unit/text/tokenizer.cpp checks
// both modes against SentencePiece on every fixture string):
//   1. U+2581 "▁" in the text: SentencePiece writes spaces as ▁, so a literal ▁ is a space to it;
//      run.c encodes its three bytes through byte fallback.
//   2. malformed UTF-8: SentencePiece replaces each byte of a malformed sequence (stray
//      continuation bytes, truncated, overlong, surrogate or > U+10FFFF sequences) with U+FFFD;
//      run.c keeps the bytes (byte fallback), so decode gives them back.
//   3. remove_extra_whitespaces, a normalizer option that tokenizer.bin does not record (on in
//      the tinyllamas tok512.model, off in Llama 2's): leading and trailing spaces dropped, runs of
//      spaces made one. run.c never does it; set_remove_extra_whitespaces(true) does, in either
//      mode.
//   4. (not reachable with those vocabularies, handled for others) SentencePiece never merges into
//      <unk>, BOS, EOS or a byte piece, and lets a character that has no token of its own merge
//      with its neighbours before falling back to bytes; run.c does neither.
// A NUL byte is encoded like any other byte in both modes (SentencePiece does the same); run.c,
// reading C strings, would stop there — see read_line_like_run_c() in generate.hpp for stdin.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "forma/core/contract.hpp"
#include "forma/core/error.hpp"
#include "forma/io/mmap.hpp"

namespace forma::text {

inline constexpr std::int32_t unk_token = 0;
inline constexpr std::int32_t bos_token = 1;
inline constexpr std::int32_t eos_token = 2;
// The 256 byte-fallback pieces <0x00> .. <0xFF> follow the three special tokens.
inline constexpr std::int32_t first_byte_token = 3;

// SentencePiece's piece types, numbered as GGUF's tokenizer.ggml.token_type (llama.cpp's
// LLAMA_TOKEN_TYPE_*).
enum class TokenType : std::int32_t { undefined = 0, normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6 };

enum class EncodeMode : std::uint8_t {
  run_c,          // run.c's encode, id for id (the default: forma-run prints what run.c prints)
  sentencepiece,  // SentencePiece's ids on the classes of text where run.c differs (see above)
};

class Tokenizer {
 public:
  // Parses a whole tokenizer.bin held in memory: every entry up to the end of the buffer.
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
      // run.c sizes its merge buffer from max_token_length: a longer piece breaks the header's
      // promise (and would overflow run.c), so the file is malformed.
      if (static_cast<std::size_t>(length) > t.max_token_length_) {
        return make_error(errc::bad_format, "tokenizer: token " + std::to_string(index) +
                                                " has length " + std::to_string(length) +
                                                ", more than the file's max_token_length " +
                                                std::to_string(max_length));
      }
      t.scores_.push_back(score);
      t.pieces_.emplace_back(reinterpret_cast<const char*>(piece.data()), piece.size());
    }
    if (t.pieces_.empty()) return make_error(errc::bad_format, "tokenizer: the file holds no tokens");
    t.build_index();
    return t;
  }

  // The same, checking that the vocabulary has exactly `vocab_size` tokens (the model's).
  static Result<Tokenizer> parse(std::span<const std::byte> bytes, std::size_t vocab_size) {
    auto parsed = parse(bytes);
    if (!parsed) return parsed;
    if (parsed->vocab_size() != vocab_size) {
      Error error = make_error(errc::shape_mismatch,
                               "tokenizer has " + std::to_string(parsed->vocab_size()) +
                                   " tokens, the model's vocabulary has " + std::to_string(vocab_size));
      error.expected = std::to_string(vocab_size);
      error.found = std::to_string(parsed->vocab_size());
      return error;
    }
    return parsed;
  }

  // Loads a file; errors name it ("tok.bin: tokenizer: token 7 needs 12 bytes, ...").
  static Result<Tokenizer> load(const std::string& path) {
    auto file = io::MappedFile::open(path);
    if (!file) return std::move(file).error();
    auto parsed = parse(file->bytes());
    if (!parsed) return std::move(parsed).error().with_path(path);
    return parsed;
  }

  static Result<Tokenizer> load(const std::string& path, std::size_t vocab_size) {
    auto file = io::MappedFile::open(path);
    if (!file) return std::move(file).error();
    auto parsed = parse(file->bytes(), vocab_size);
    if (!parsed) return std::move(parsed).error().with_path(path);
    return parsed;
  }

  // A vocabulary given as lists (GGUF's tokenizer.ggml.tokens/scores/token_type): `pieces`
  // written with spaces, as tokenizer.bin writes them (a GGUF loader turns U+2581 into ' '), id =
  // index; `types` empty (tokenizer.bin's layout: <unk>, BOS, EOS, then <0x00>..<0xFF>) or one
  // SentencePiece type per token (token_type), in which case the byte-fallback tokens are the
  // byte-typed pieces <0xXX> wherever they are and only normal and user-defined pieces are
  // produced by merging in SentencePiece mode; `bos`/`eos` the ids encode() adds and decode()
  // treats as BOS. Errors: empty vocabulary, a scores/types count that differs from the pieces',
  // a bos/eos id outside the vocabulary, a byte-typed piece that is not <0xXX> or repeats a byte.
  static Result<Tokenizer> from_pieces(std::vector<std::string> pieces, std::vector<float> scores,
                                       std::vector<TokenType> types = {}, std::int32_t bos = bos_token,
                                       std::int32_t eos = eos_token) {
    if (pieces.empty()) return make_error(errc::bad_format, "tokenizer: the vocabulary has no tokens");
    const auto count = [](std::size_t n) { return std::to_string(n); };
    if (scores.size() != pieces.size()) {
      Error e = make_error(errc::shape_mismatch, "tokenizer: " + count(pieces.size()) + " tokens but " +
                                                     count(scores.size()) + " scores");
      e.expected = count(pieces.size());
      e.found = count(scores.size());
      return e;
    }
    if (!types.empty() && types.size() != pieces.size()) {
      Error e = make_error(errc::shape_mismatch, "tokenizer: " + count(pieces.size()) + " tokens but " +
                                                     count(types.size()) + " token types");
      e.expected = count(pieces.size());
      e.found = count(types.size());
      return e;
    }
    for (const auto& [name, id] : {std::pair{"BOS", bos}, std::pair{"EOS", eos}}) {
      if (id < 0 || static_cast<std::size_t>(id) >= pieces.size()) {
        return make_error(errc::out_of_range, std::string("tokenizer: the ") + name + " id " + std::to_string(id) +
                                                  " is outside the vocabulary of " + count(pieces.size()));
      }
    }
    Tokenizer t;
    t.pieces_ = std::move(pieces);
    t.scores_ = std::move(scores);
    t.types_ = std::move(types);
    t.bos_id_ = bos;
    t.eos_id_ = eos;
    for (const std::string& p : t.pieces_) t.max_token_length_ = std::max(t.max_token_length_, std::max<std::size_t>(p.size(), 1));
    if (!t.types_.empty()) {
      t.byte_ids_.fill(-1);
      for (std::size_t id = 0; id < t.types_.size(); ++id) {
        if (t.types_[id] != TokenType::byte) continue;
        const std::string& p = t.pieces_[id];
        const int byte = p.size() == 6 ? scanned_byte(p) : -1;
        if (byte < 0 || p[5] != '>') {
          return make_error(errc::bad_format, "tokenizer: token " + std::to_string(id) +
                                                  " has the byte type but is not a <0xXX> piece");
        }
        if (t.byte_ids_[static_cast<std::size_t>(byte)] >= 0) {
          return make_error(errc::bad_format, "tokenizer: tokens " + std::to_string(t.byte_ids_[static_cast<std::size_t>(byte)]) +
                                                  " and " + std::to_string(id) + " are both the byte " + p);
        }
        t.byte_ids_[static_cast<std::size_t>(byte)] = static_cast<std::int32_t>(id);
      }
    }
    t.build_index();
    return t;
  }

  std::int32_t bos_id() const noexcept { return bos_id_; }
  std::int32_t eos_id() const noexcept { return eos_id_; }
  // The token's SentencePiece type (normal when the vocabulary came without types: tokenizer.bin).
  TokenType type(std::int32_t token) const {
    check_id(token);
    return types_.empty() ? TokenType::normal : types_[static_cast<std::size_t>(token)];
  }

  std::size_t vocab_size() const noexcept { return pieces_.size(); }
  std::size_t max_token_length() const noexcept { return max_token_length_; }
  bool contains(std::int32_t token) const noexcept {
    return token >= 0 && static_cast<std::size_t>(token) < pieces_.size();
  }
  // The stored piece and score of a token; an id outside the vocabulary throws forma::index_error.
  std::string_view piece(std::int32_t token) const {
    check_id(token);
    return stored_piece(token);
  }
  float score(std::int32_t token) const {
    check_id(token);
    return scores_[static_cast<std::size_t>(token)];
  }

  // The id whose piece is exactly `text` (the lowest id if several are), or -1.
  std::int32_t find(std::string_view text) const noexcept {
    const auto it = std::lower_bound(sorted_.begin(), sorted_.end(), text,
                                     [this](std::int32_t id, std::string_view key) { return stored_piece(id) < key; });
    return it != sorted_.end() && stored_piece(*it) == text ? *it : -1;
  }

  void set_mode(EncodeMode mode) noexcept { mode_ = mode; }
  EncodeMode mode() const noexcept { return mode_; }
  // SentencePiece's remove_extra_whitespaces normalization (off by default, as in run.c).
  void set_remove_extra_whitespaces(bool on) noexcept { remove_extra_whitespaces_ = on; }
  bool removes_extra_whitespaces() const noexcept { return remove_extra_whitespaces_; }

  // encode() takes texts shorter than this (4 GiB less 256 bytes); split longer ones.
  static constexpr std::size_t max_text_bytes = 0xFFFF'FF00u;

  // The tokens of `text` into `tokens` (cleared first; its capacity is reused).
  Result<void> encode(std::string_view text, bool bos, bool eos, std::vector<std::int32_t>& tokens) const {
    tokens.clear();
    if (text.size() >= max_text_bytes) {
      return make_error(errc::invalid_argument, "encode: a text of " + std::to_string(text.size()) +
                                                    " bytes is too long (the limit is " +
                                                    std::to_string(max_text_bytes - 1) + "); split it");
    }
    if ((bos && !contains(bos_id_)) || (eos && !contains(eos_id_))) {
      return make_error(errc::invalid_argument, "encode: a vocabulary of " + std::to_string(vocab_size()) +
                                                    " tokens has no " + (bos && !contains(bos_id_) ? "BOS (1)" : "EOS (2)"));
    }
    const bool sentencepiece = mode_ == EncodeMode::sentencepiece;
    std::string normalized;
    if (sentencepiece || remove_extra_whitespaces_) {
      normalized = normalize(text);
      text = normalized;
    }
    std::vector<symbol> symbols;
    symbols.reserve(text.size() + 2);
    // run.c merges with BOS in the sequence; SentencePiece adds it after encoding.
    if (bos && !sentencepiece) symbols.push_back({bos_id_, stored_piece(bos_id_)});
    if (!text.empty()) {
      const std::int32_t space = find(" ");
      if (space >= 0 && (!sentencepiece || is_normal(space))) {
        symbols.push_back({space, stored_piece(space)});
      } else if (sentencepiece) {
        symbols.push_back({-1, " "});
      } else {
        return make_error(errc::invalid_argument,
                          "encode: the vocabulary has no \" \" token for the dummy prefix");
      }
    }
    for (std::size_t start = 0; start < text.size();) {
      // One code point as run.c cuts it: a byte, then at most 3 continuation bytes. (In
      // SentencePiece mode the text is valid UTF-8 by now, so this is exactly one character.)
      std::size_t end = start + 1;
      while (end < text.size() && end - start < 4 && is_continuation(text[end])) ++end;
      const std::string_view code_point = text.substr(start, end - start);
      start = end;
      const std::int32_t id = find(code_point);
      if (id >= 0 && (!sentencepiece || is_normal(id))) {
        symbols.push_back({id, stored_piece(id)});
      } else if (sentencepiece) {
        symbols.push_back({-1, code_point});  // may still merge; falls back to bytes afterwards
      } else {
        for (const char byte : code_point) {
          auto fallback = byte_token(static_cast<unsigned char>(byte));
          if (!fallback) return std::move(fallback).error();
          symbols.push_back({*fallback, stored_piece(*fallback)});
        }
      }
    }
    merge(symbols, sentencepiece);
    if (bos && sentencepiece) tokens.push_back(bos_id_);
    for (const symbol& s : symbols) {
      if (s.id >= 0) {
        tokens.push_back(s.id);
        continue;
      }
      // SentencePiece escapes a space as U+2581 before encoding, so that is what falls back.
      const std::string_view bytes = s.text == " " ? std::string_view("\xE2\x96\x81") : s.text;
      for (const char byte : bytes) {
        auto fallback = byte_token(static_cast<unsigned char>(byte));
        if (!fallback) return std::move(fallback).error();
        tokens.push_back(*fallback);
      }
    }
    if (eos) tokens.push_back(eos_id_);
    return {};
  }

  Result<std::vector<std::int32_t>> encode(std::string_view text, bool bos = false, bool eos = false) const {
    std::vector<std::int32_t> tokens;
    if (auto done = encode(text, bos, eos, tokens); !done) return std::move(done).error();
    return tokens;
  }

  // The text of `token` when it follows `previous`, as run.c decodes it. Errors on invalid ids.
  // The view stays valid as long as the tokenizer.
  Result<std::string_view> decode(std::int32_t previous, std::int32_t token) const {
    if (!contains(token)) {
      return make_error(errc::out_of_range, "decode: token id " + std::to_string(token) +
                                                " is out of range for a vocabulary of " +
                                                std::to_string(vocab_size()));
    }
    std::string_view text = stored_piece(token);
    // SentencePiece's decoder drops the space that starts the first piece of a text.
    if (previous == bos_id_ && !text.empty() && text.front() == ' ') text.remove_prefix(1);
    if (const int byte = scanned_byte(text); byte >= 0) {
      return std::string_view(&byte_chars_[static_cast<std::size_t>(byte)], 1);
    }
    return text;
  }

  // The text of a token sequence, each piece decoded after its predecessor (the first after BOS
  // when `after_bos`, as generation does).
  Result<std::string> decode_all(std::span<const std::int32_t> tokens, bool after_bos = true) const {
    std::string text;
    std::int32_t previous = after_bos ? bos_id_ : -1;
    for (const std::int32_t token : tokens) {
      auto piece_text = decode(previous, token);
      if (!piece_text) return std::move(piece_text).error();
      text += *piece_text;
      previous = token;
    }
    return text;
  }

  // run.c's safe_printf() rule: an empty piece, or a single byte that is neither printable ASCII
  // nor whitespace (a raw control or non-ASCII byte), is not printed; anything longer is.
  static bool printable(std::string_view text) noexcept {
    if (text.empty()) return false;
    if (text.size() > 1) return true;
    const auto byte = static_cast<unsigned char>(text.front());
    return (byte >= 0x20 && byte < 0x7F) || (byte >= '\t' && byte <= '\r');
  }
  // What run.c's safe_printf(piece) writes: the piece, or nothing.
  static std::string_view safe_piece(std::string_view text) noexcept {
    return printable(text) ? text : std::string_view();
  }

 private:
  struct symbol {
    std::int32_t id;        // −1: a character without a token (SentencePiece mode only)
    std::string_view text;  // the piece (run.c concatenates pieces to find merges)
  };
  struct merge_candidate {
    float score;
    std::int32_t id;  // −1: the pair is not a token
  };

  Tokenizer() {
    for (std::size_t i = 0; i < byte_chars_.size(); ++i) byte_chars_[i] = static_cast<char>(i);
    for (std::size_t i = 0; i < byte_ids_.size(); ++i) byte_ids_[i] = first_byte_token + static_cast<std::int32_t>(i);
  }

  std::string_view stored_piece(std::int32_t token) const noexcept { return pieces_[static_cast<std::size_t>(token)]; }
  void check_id(std::int32_t token) const {
    if (!contains(token)) {
      contract::fail_index("Tokenizer: token id " + std::to_string(token) + " is out of range for a vocabulary of " +
                           std::to_string(vocab_size()));
    }
  }

  static bool is_continuation(char byte) noexcept {
    return (static_cast<unsigned char>(byte) & 0xC0u) == 0x80u;
  }

  Result<std::int32_t> byte_token(unsigned char byte) const {
    const std::int32_t id = byte_ids_[byte];
    if (!contains(id)) {
      return make_error(errc::invalid_argument, "encode: byte " + std::to_string(byte) +
                                                    " has no byte-fallback token in a vocabulary of " +
                                                    std::to_string(vocab_size()));
    }
    return id;
  }

  // What run.c's sscanf(piece, "<0x%02hhX>", &byte) == 1 accepts, as glibc reads it: "<0x", then
  // white space skipped, then a field of at most 2 characters: an optional sign, an optional 0x
  // prefix, hex digits (the byte is the value modulo 256). −1 when it matches nothing.
  static int scanned_byte(std::string_view text) noexcept {
    if (!text.starts_with("<0x")) return -1;
    std::size_t i = 3;
    const auto is_space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
    while (i < text.size() && is_space(text[i])) ++i;
    int width = 2;
    bool negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
      negative = text[i] == '-';
      ++i;
      --width;
    }
    unsigned value = 0;
    int digits = 0;
    if (width > 0 && i < text.size() && text[i] == '0') {
      ++i;
      --width;
      ++digits;
      if (width > 0 && i < text.size() && (text[i] == 'x' || text[i] == 'X')) {
        ++i;
        --width;
      }
    }
    for (; width > 0 && i < text.size(); ++i, --width, ++digits) {
      const char c = text[i];
      unsigned digit = 16;
      if (c >= '0' && c <= '9') digit = static_cast<unsigned>(c - '0');
      if (c >= 'a' && c <= 'f') digit = static_cast<unsigned>(c - 'a' + 10);
      if (c >= 'A' && c <= 'F') digit = static_cast<unsigned>(c - 'A' + 10);
      if (digit == 16) break;
      value = value * 16 + digit;
    }
    if (digits == 0) return -1;
    return static_cast<int>((negative ? 0u - value : value) & 0xFFu);
  }

  // The length of the well-formed UTF-8 character at the start of `text` as SentencePiece
  // decodes it (no overlong forms, no surrogates, nothing above U+10FFFF), or 0 if malformed.
  static std::size_t valid_utf8_length(std::string_view text) noexcept {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned lead = byte(0);
    if (lead < 0x80) return 1;
    std::size_t length = 0;
    char32_t code_point = 0, minimum = 0;
    if ((lead & 0xE0u) == 0xC0u) {
      length = 2, code_point = lead & 0x1Fu, minimum = 0x80;
    } else if ((lead & 0xF0u) == 0xE0u) {
      length = 3, code_point = lead & 0x0Fu, minimum = 0x800;
    } else if ((lead & 0xF8u) == 0xF0u) {
      length = 4, code_point = lead & 0x07u, minimum = 0x10000;
    } else {
      return 0;
    }
    if (text.size() < length) return 0;
    for (std::size_t i = 1; i < length; ++i) {
      if (!is_continuation(text[i])) return 0;
      code_point = (code_point << 6) | (byte(i) & 0x3Fu);
    }
    const bool surrogate = code_point >= 0xD800 && code_point < 0xE000;
    return code_point >= minimum && code_point <= 0x10FFFF && !surrogate ? length : 0;
  }

  // The text as SentencePiece's normalizer leaves it (written with spaces, as tokenizer.bin's
  // pieces are): in SentencePiece mode malformed bytes become U+FFFD and a literal ▁ a space;
  // with remove_extra_whitespaces, leading spaces and runs of spaces go (a literal ▁ is not a
  // space for this step: it ends a run) and then every trailing space, ▁ included.
  std::string normalize(std::string_view text) const {
    const bool sentencepiece = mode_ == EncodeMode::sentencepiece;
    std::string result;
    result.reserve(text.size());
    bool after_space = remove_extra_whitespaces_;  // drops the leading spaces
    for (std::size_t i = 0; i < text.size();) {
      std::size_t length = 1;
      if (sentencepiece) {
        length = valid_utf8_length(text.substr(i));
        if (length == 0) {
          result += "\xEF\xBF\xBD";  // U+FFFD for one malformed byte
          after_space = false;
          ++i;
          continue;
        }
      }
      const std::string_view character = text.substr(i, length);
      i += length;
      if (character == " ") {
        if (!(remove_extra_whitespaces_ && after_space)) result += ' ';
        after_space = true;
      } else {
        result += sentencepiece && character == "\xE2\x96\x81" ? std::string_view(" ") : character;
        after_space = false;
      }
    }
    if (remove_extra_whitespaces_) {
      while (!result.empty() && result.back() == ' ') result.pop_back();
    }
    return result;
  }

  void build_index() {
    sorted_.resize(pieces_.size());
    for (std::size_t i = 0; i < sorted_.size(); ++i) sorted_[i] = static_cast<std::int32_t>(i);
    std::stable_sort(sorted_.begin(), sorted_.end(),
                     [this](std::int32_t a, std::int32_t b) { return stored_piece(a) < stored_piece(b); });
    // SentencePiece's control and byte pieces, which it never produces by merging: <unk>, BOS,
    // EOS, and each <0xXX> at its place.
    // With token types: every piece that is not normal or user-defined.
    if (!types_.empty()) {
      special_.assign(types_.size(), false);
      for (std::size_t id = 0; id < types_.size(); ++id) {
        special_[id] = types_[id] != TokenType::normal && types_[id] != TokenType::user_defined;
      }
      return;
    }
    special_.assign(std::min<std::size_t>(3 + 256, pieces_.size()), false);
    constexpr char hex[] = "0123456789ABCDEF";
    for (std::size_t id = 0; id < special_.size() && id < pieces_.size(); ++id) {
      if (id < static_cast<std::size_t>(first_byte_token)) {
        special_[id] = true;
        continue;
      }
      const std::size_t byte = id - static_cast<std::size_t>(first_byte_token);
      const char name[] = {'<', '0', 'x', hex[byte >> 4], hex[byte & 15], '>'};
      special_[id] = pieces_[id] == std::string_view(name, sizeof name);
    }
  }

  bool is_normal(std::int32_t id) const noexcept {
    return static_cast<std::size_t>(id) >= special_.size() || !special_[static_cast<std::size_t>(id)];
  }

  merge_candidate candidate(const symbol& left, const symbol& right, bool sentencepiece,
                            std::string& buffer) const {
    buffer.assign(left.text);
    buffer.append(right.text);
    const std::int32_t id = find(buffer);
    if (id < 0 || (sentencepiece && !is_normal(id))) return {0.0f, -1};
    return {scores_[static_cast<std::size_t>(id)], id};
  }

  // Greedy BPE with run.c's result: merge the adjacent pair with the best score (the leftmost of
  // equal ones; nothing at or below −1e10, run.c's starting best, and no NaN) until no pair is a
  // token. run.c rescans every pair after each merge (O(n²) lookups); here the symbols form a
  // linked list and the candidate pairs a max-heap ordered by (score, then leftmost position), so
  // each merge costs O(log n) and looks up only the two pairs it creates: O(n log n) in all. A
  // merged symbol keeps its left neighbour's position, so "leftmost position" in the heap is
  // leftmost in the current sequence, which makes the choice identical to run.c's scan. A heap
  // entry whose pair has changed since it was pushed is stale and skipped.
  // (tests/unit/text/tokenizer.cpp checks it against a transcription of run.c's loop.)
  // Positions are 32-bit (encode refuses texts of max_text_bytes or more), which keeps a heap
  // entry at 24 bytes: the heap's cache misses dominate on long texts.
  void merge(std::vector<symbol>& symbols, bool sentencepiece) const {
    using Index = std::uint32_t;
    const std::size_t n = symbols.size();
    if (n < 2) return;
    struct pair_entry {
      float score;
      std::int32_t id;                  // the merged token
      std::int32_t left_id, right_id;   // the pair's tokens when it was pushed
      Index left, right;                // positions in `symbols`
    };
    const auto lower = [](const pair_entry& a, const pair_entry& b) {
      return a.score < b.score || (a.score == b.score && a.left > b.left);
    };
    constexpr Index none = static_cast<Index>(-1);      // no neighbour
    constexpr Index merged_away = static_cast<Index>(-2);  // next[] of a symbol merged into its left
    std::vector<Index> next(n), previous(n);
    for (std::size_t i = 0; i < n; ++i) {
      next[i] = i + 1 < n ? static_cast<Index>(i + 1) : none;
      previous[i] = i > 0 ? static_cast<Index>(i - 1) : none;
    }
    std::vector<pair_entry> heap;
    heap.reserve(n);
    std::string buffer;
    const auto push = [&](Index left, Index right) {
      const merge_candidate c = candidate(symbols[left], symbols[right], sentencepiece, buffer);
      if (c.id < 0 || !(c.score > -1e10f)) return;
      heap.push_back({c.score, c.id, symbols[left].id, symbols[right].id, left, right});
      std::push_heap(heap.begin(), heap.end(), lower);
    };
    for (std::size_t i = 0; i + 1 < n; ++i) push(static_cast<Index>(i), static_cast<Index>(i + 1));
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), lower);
      const pair_entry top = heap.back();
      heap.pop_back();
      // Stale unless the two are still neighbours (so both are alive) holding the same tokens: a
      // pair's candidate depends only on its two tokens, so then the entry is as good as new.
      if (next[top.left] != top.right || symbols[top.left].id != top.left_id ||
          symbols[top.right].id != top.right_id) {
        continue;
      }
      symbols[top.left] = {top.id, stored_piece(top.id)};
      const Index after = next[top.right];
      next[top.right] = merged_away;
      next[top.left] = after;
      if (after != none) previous[after] = top.left;
      if (previous[top.left] != none) push(previous[top.left], top.left);
      if (after != none) push(top.left, after);
    }
    std::size_t kept = 0;
    for (Index i = 0; i != none; i = next[i]) symbols[kept++] = symbols[i];
    symbols.resize(kept);
  }

  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::vector<std::int32_t> sorted_;
  std::vector<bool> special_;           // never produced by merging in SentencePiece mode
  std::vector<TokenType> types_;         // empty: tokenizer.bin's layout
  std::array<std::int32_t, 256> byte_ids_{};  // the byte-fallback token of each byte (−1: none)
  std::int32_t bos_id_ = bos_token, eos_id_ = eos_token;
  std::size_t max_token_length_ = 0;
  EncodeMode mode_ = EncodeMode::run_c;
  bool remove_extra_whitespaces_ = false;
  std::array<char, 256> byte_chars_{};
};

}  // namespace forma::text
