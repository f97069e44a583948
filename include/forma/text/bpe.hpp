// forma/text/bpe.hpp — GPT-2's byte-level BPE tokenizer (OpenAI's encoder, Hugging Face's
// ByteLevel + BPE), read from encoder.json + vocab.bpe, vocab.json + merges.txt, or tokenizer.json.
//
// Encoding, as Hugging Face tokenizers encodes (tests/unit/text/bpe.cpp checks the ids on 1,058
// strings against tokenizers 0.23.3, and on OpenAI's and llama.cpp's GPT-2 test vectors):
//   1. Added tokens are cut out first, leftmost-longest: every added token not marked special
//      always, and the special ones (<|endoftext|>) unless EncodeOptions::allow_special is false.
//      Hugging Face's tokenizer.encode() matches special tokens by default, so forma does too;
//      {.allow_special = false} encodes them as plain text (HF's encode_special_tokens = true,
//      OpenAI's reference encoder, tiktoken's disallowed_special=()). An added token's lstrip /
//      rstrip take the white space beside it with it.
//   2. Each remaining stretch of text is split by GPT-2's pattern,
//        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//      implemented by hand: \p{L}, \p{N} and \s from forma/text/unicode_tables.hpp (Unicode 16.0,
//      the version of the Oniguruma inside HF tokenizers; \s is Unicode White_Space, as in
//      Oniguruma, Rust's regex and Python's regex module). The contractions are lower case only,
//      as in the pattern. Bytes that are not valid UTF-8 count as one "other" character each (so
//      they join a punctuation run), and are encoded as themselves: any byte string round-trips
//      through decode_bytes(). (HF takes only valid text.)
//      A tokenizer built by from_vocab() (a GGUF file's) may split by Llama 3's or Qwen2's pattern
//      instead (BpePreTokenizer, bpe_detail::next_piece_llama3; checked against Python's regex
//      module on 1,009 texts).
//   3. Each piece's bytes become the vocabulary's 256 byte tokens (GPT-2's bytes_to_unicode map:
//      the tokens are written with the printable characters standing for bytes, "Ġ" for a space),
//      then merges are applied by rank: the pair of adjacent symbols with the lowest-ranked merge,
//      the leftmost of equal ranks, again and again. Symbols form a linked list and candidate pairs
//      a min-heap, so a piece of n bytes costs O(n log n), not the reference loop's O(n²). No cache.
//   No BOS or EOS is ever added (tokenizer.json's post_processor is ignored).
//
// Decoding, as Hugging Face decodes (its ByteLevel decoder): the tokens' bytes concatenated (a
// token whose characters are not all byte characters, such as an added " word", stands for its
// own UTF-8 bytes), then malformed UTF-8 replaced by U+FFFD, one per maximal invalid subpart
// (Rust's String::from_utf8_lossy, Python's errors="replace"). decode_bytes() gives the raw bytes.
// The streaming Decoder emits text as soon as each character is complete, holding back at most 3
// bytes of one that a later token may complete; concatenating its output (finish() included) gives
// exactly decode(ids). An id outside the vocabulary is an Error, never a read out of bounds (HF
// silently drops it).
//
// Files. Every bad input is an Error naming the file, on one line: a missing file, invalid JSON
// (forma/io/json.hpp's strict pull reader), a duplicate token or id, ids that are not exactly
// 0..N-1, a merge line that is not two tokens, a merge naming a token (or producing one) not in the
// vocabulary, a duplicate merge, and tokenizer.json features forma does not implement (a
// normalizer, a pre_tokenizer other than ByteLevel, BPE dropout, byte_fallback, subword prefixes
// or suffixes, single_word added tokens): "unsupported", never silently different ids.
//   - encoder.json / vocab.json: {"token": id, ...}. vocab.bpe / merges.txt: an optional first line
//     "#version...", then one merge "a b" per line, rank = order.
//   - tokenizer.json: model (type BPE, vocab, merges as "a b" strings or [a, b] pairs, unk_token,
//     fuse_unk, ignore_merges), added_tokens (id, content, special, lstrip, rstrip),
//     pre_tokenizer ByteLevel (add_prefix_space, use_regex), decoder ByteLevel or null.
//   - a directory: tokenizer.json, else vocab.json + merges.txt, else encoder.json + vocab.bpe.
//   - lists in memory (from_vocab: GGUF's tokenizer.ggml.tokens and .merges, see
//     forma/text/gguf_tokenizer.hpp), checked the same way.
//   With encoder.json/vocab.json files, a "<|endoftext|>" token in the vocabulary is the special
//   token (as transformers' GPT2Tokenizer makes it). bos_id() and eos_id() are <|endoftext|>'s
//   id (50256 in GPT-2), or -1 when the vocabulary has none.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "forma/core/error.hpp"
#include "forma/io/json.hpp"
#include "forma/io/mmap.hpp"
#include "forma/text/unicode_tables.hpp"

namespace forma::text {

struct BpeEncodeOptions {
  // Match special added tokens (<|endoftext|>) as themselves; false: encode them as text.
  bool allow_special = true;
};

struct BpeDecodeOptions {
  // Leave special tokens out of the text (as if they were not in the sequence).
  bool skip_special = false;
};

// An entry of tokenizer.json's added_tokens (or <|endoftext|> from a vocab.json).
// The pattern that splits text before BPE: GPT-2's (every file form), Llama 3's ("llama-bpe" in
// GGUF: numbers in runs of at most 3 digits, case-insensitive contractions, a leading non-letter
// joining a word, newlines kept with what precedes them) or Qwen2's (the same with single digits).
enum class BpePreTokenizer : std::uint8_t { gpt2, llama3, qwen2 };

struct BpeAddedToken {
  std::string content;
  std::int32_t id = -1;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
};

namespace bpe_detail {

using unicode::cp_class;

// GPT-2's bytes_to_unicode(): bytes that are printable Latin-1 characters stand for themselves,
// the other 68 for U+0100, U+0101, ... in byte order.
struct ByteMap {
  std::array<char32_t, 256> to_char{};
  std::array<std::int16_t, 324> to_byte{};  // code point → byte, or −1
  constexpr ByteMap() {
    for (auto& b : to_byte) b = -1;
    char32_t next = 256;
    for (unsigned b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      to_char[b] = printable ? static_cast<char32_t>(b) : next++;
      to_byte[to_char[b]] = static_cast<std::int16_t>(b);
    }
  }
};
inline constexpr ByteMap byte_map{};

// One code point of `text` at `i`: its value and length, or (invalid, 1) for a byte that does not
// start a well-formed UTF-8 sequence (no overlongs, surrogates or values above U+10FFFF).
inline constexpr char32_t invalid_cp = 0xFFFFFFFFu;
struct Decoded {
  char32_t cp;
  std::size_t length;
};
inline Decoded decode_utf8(std::string_view text, std::size_t i) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned lead = byte(i);
  if (lead < 0x80) return {lead, 1};
  std::size_t length = 0;
  unsigned lo = 0x80, hi = 0xBF;
  char32_t cp = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, cp = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, cp = lead & 0x0Fu;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, cp = lead & 0x07u;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return {invalid_cp, 1};
  }
  if (text.size() - i < length) return {invalid_cp, 1};
  for (std::size_t k = 1; k < length; ++k) {
    const unsigned b = byte(i + k);
    if (b < (k == 1 ? lo : 0x80u) || b > (k == 1 ? hi : 0xBFu)) return {invalid_cp, 1};
    cp = (cp << 6) | (b & 0x3Fu);
  }
  return {cp, length};
}

inline constexpr std::array<cp_class, 128> ascii_classes = [] {
  std::array<cp_class, 128> table{};
  for (unsigned c = 0; c < 128; ++c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      table[c] = cp_class::letter;
    } else if (c >= '0' && c <= '9') {
      table[c] = cp_class::number;
    } else if (c == ' ' || (c >= '\t' && c <= '\r')) {
      table[c] = cp_class::space;
    } else {
      table[c] = cp_class::other;
    }
  }
  return table;
}();

inline cp_class classify(char32_t cp) noexcept {
  if (cp < 128) return ascii_classes[cp];
  if (cp == invalid_cp) return cp_class::other;
  const auto* end = unicode::ranges + unicode::range_count;
  const auto* it = std::upper_bound(unicode::ranges, end, cp,
                                    [](char32_t value, const unicode::cp_range& r) { return value < r.first; });
  if (it == unicode::ranges) return cp_class::other;
  --it;
  return cp <= it->last ? static_cast<cp_class>(it->kind) : cp_class::other;
}

// The end of the piece of GPT-2's pre-split pattern that starts at `start` (< text.size()):
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// The alternatives in order, as a backtracking engine tries them.
inline std::size_t next_piece(std::string_view text, std::size_t start) noexcept {
  const std::size_t n = text.size();
  if (text[start] == '\'' && start + 1 < n) {
    const char a = text[start + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return start + 2;
    if (start + 2 < n) {
      const char b = text[start + 2];
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return start + 3;
    }
  }
  // ` ?X+` for X = letters, numbers, or neither and not space: an optional ASCII space first.
  const std::size_t body = text[start] == ' ' ? start + 1 : start;
  if (body < n) {
    Decoded d = decode_utf8(text, body);
    const cp_class kind = classify(d.cp);
    if (kind != cp_class::space) {
      std::size_t end = body + d.length;
      while (end < n) {
        d = decode_utf8(text, end);
        if (classify(d.cp) != kind) break;
        end += d.length;
      }
      return end;
    }
  }
  // White space (the character at `start` is one): `\s+(?!\S)` takes the run but its last
  // character when a non-space follows (that character then starts the next piece, e.g. " word"),
  // and the whole run at the end of the text; a run of one followed by a non-space is `\s+`.
  std::size_t end = start, last = start, count = 0;
  while (end < n) {
    const Decoded d = decode_utf8(text, end);
    if (classify(d.cp) != cp_class::space) break;
    last = end;
    end += d.length;
    ++count;
  }
  if (end < n && count >= 2) return last;
  return end;
}

// The end of the piece of Llama 3's (max_digits 3: llama.cpp's "llama-bpe") or Qwen2's
// (max_digits 1: "qwen2") pre-split pattern that starts at `start` (< text.size()):
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}| ?[^\s\p{L}\p{N}]+[\r\n]*|
//   \s*[\r\n]+|\s+(?!\S)|\s+
// The alternatives in order, as a backtracking engine tries them (bytes that are not valid UTF-8
// are "other" characters, as in next_piece).
inline std::size_t next_piece_llama3(std::string_view text, std::size_t start, std::size_t max_digits) noexcept {
  const std::size_t n = text.size();
  const auto lower = [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); };
  if (text[start] == '\'' && start + 1 < n) {
    const char a = lower(text[start + 1]);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return start + 2;
    if (start + 2 < n) {
      const char b = lower(text[start + 2]);
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return start + 3;
    }
  }
  const auto newline = [](char32_t cp) { return cp == U'\r' || cp == U'\n'; };
  const auto run_of = [&](std::size_t from, cp_class kind) {
    std::size_t end = from;
    while (end < n) {
      const Decoded d = decode_utf8(text, end);
      if (classify(d.cp) != kind) break;
      end += d.length;
    }
    return end;
  };
  const Decoded first = decode_utf8(text, start);
  const cp_class first_kind = classify(first.cp);
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (first_kind == cp_class::letter) return run_of(start, cp_class::letter);
  if (first_kind != cp_class::number && !newline(first.cp) && start + first.length < n) {
    const std::size_t next = start + first.length;
    if (classify(decode_utf8(text, next).cp) == cp_class::letter) return run_of(next, cp_class::letter);
  }
  // \p{N}{1,max_digits}
  if (first_kind == cp_class::number) {
    std::size_t end = start, digits = 0;
    while (end < n && digits < max_digits) {
      const Decoded d = decode_utf8(text, end);
      if (classify(d.cp) != cp_class::number) break;
      end += d.length;
      ++digits;
    }
    return end;
  }
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  {
    const std::size_t body = text[start] == ' ' ? start + 1 : start;
    if (body < n && classify(decode_utf8(text, body).cp) == cp_class::other) {
      std::size_t end = run_of(body, cp_class::other);
      while (end < n && (text[end] == '\r' || text[end] == '\n')) ++end;
      return end;
    }
  }
  // White space from here (the character at `start` is one). \s*[\r\n]+: up to the run's last
  // CR or LF; else \s+(?!\S) and \s+ as in next_piece.
  std::size_t end = start, last = start, count = 0, after_newline = 0;
  while (end < n) {
    const Decoded d = decode_utf8(text, end);
    if (classify(d.cp) != cp_class::space) break;
    last = end;
    end += d.length;
    ++count;
    if (newline(d.cp)) after_newline = end;
  }
  if (after_newline != 0) return after_newline;
  if (end < n && count >= 2) return last;
  return end;
}

inline Error bad(std::string message) { return make_error(errc::bad_format, std::move(message)); }
inline Error unsupported(std::string message) { return make_error(errc::unsupported, std::move(message)); }

// A token for a message: JSON-quoted (control characters escaped, so the message is one line),
// cut to 40 bytes.
inline std::string quoted(std::string_view token) {
  if (token.size() > 40) {
    std::size_t cut = 40;
    while (cut > 0 && (static_cast<unsigned char>(token[cut]) & 0xC0u) == 0x80u) --cut;
    return io::json::quote(token.substr(0, cut)) + "...";
  }
  return io::json::quote(token);
}

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

}  // namespace bpe_detail

class BpeTokenizer {
 public:
  using EncodeOptions = BpeEncodeOptions;
  using DecodeOptions = BpeDecodeOptions;

  // ---- loading -----------------------------------------------------------------------------------

  // A tokenizer.json file, or a directory holding tokenizer.json, vocab.json + merges.txt, or
  // encoder.json + vocab.bpe (searched in that order).
  static Result<BpeTokenizer> load(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_directory(path, ec)) return load_tokenizer_json(path);
    const auto in_dir = [&](const char* name) { return (std::filesystem::path(path) / name).string(); };
    const auto exists = [&](const char* name) {
      std::error_code e;
      return std::filesystem::is_regular_file(in_dir(name), e);
    };
    if (exists("tokenizer.json")) return load_tokenizer_json(in_dir("tokenizer.json"));
    if (exists("vocab.json") && exists("merges.txt")) return load_files(in_dir("vocab.json"), in_dir("merges.txt"));
    if (exists("encoder.json") && exists("vocab.bpe")) return load_files(in_dir("encoder.json"), in_dir("vocab.bpe"));
    return make_error(errc::not_found,
                      "no tokenizer.json, vocab.json + merges.txt, or encoder.json + vocab.bpe in the directory")
        .with_path(path);
  }

  // OpenAI's encoder.json + vocab.bpe, or HF's vocab.json + merges.txt.
  static Result<BpeTokenizer> load_files(const std::string& vocab_path, const std::string& merges_path) {
    auto vocab = io::MappedFile::open(vocab_path);
    if (!vocab) return std::move(vocab).error();
    auto merges = io::MappedFile::open(merges_path);
    if (!merges) return std::move(merges).error();
    return parse_files(as_text(vocab->bytes()), as_text(merges->bytes()), vocab_path, merges_path);
  }

  static Result<BpeTokenizer> load_tokenizer_json(const std::string& path) {
    auto file = io::MappedFile::open(path);
    if (!file) return std::move(file).error();
    auto parsed = parse_tokenizer_json(as_text(file->bytes()));
    if (!parsed) return std::move(parsed).error().with_path(path);
    return parsed;
  }

  // The same from text in memory; errors name `vocab_name` or `merges_name`.
  static Result<BpeTokenizer> parse_files(std::string_view vocab_json, std::string_view merges_text,
                                          const std::string& vocab_name = "vocab.json",
                                          const std::string& merges_name = "merges.txt") {
    BpeTokenizer t;
    if (auto ok = t.read_vocab_object_top(vocab_json); !ok) return std::move(ok).error().with_path(vocab_name);
    if (auto ok = t.resolve_vocab(); !ok) return std::move(ok).error().with_path(vocab_name);
    if (auto ok = t.read_merges_text(merges_text); !ok) return std::move(ok).error().with_path(merges_name);
    if (auto ok = t.resolve_merges(); !ok) return std::move(ok).error().with_path(merges_name);
    // GPT2Tokenizer's special token.
    if (const std::int32_t eot = t.token_to_id(end_of_text); eot >= 0) {
      t.added_.push_back({std::string(end_of_text), eot, true, false, false});
    }
    if (auto ok = t.finish(); !ok) return std::move(ok).error().with_path(vocab_name);
    return t;
  }

  // A vocabulary given as lists (GGUF's tokenizer.ggml.tokens and .merges), split by `pre`
  // (ignore_merges: a piece that is itself a token is that token, as llama.cpp does for Llama 3): `tokens` written as
  // the vocabulary writes them ("Ġthe"), id = index; `merges` as "left right", rank = index;
  // `added` the special and user-defined tokens (already among `tokens`, same ids). Errors name the
  // offending entry ("tokenizer.ggml.merges[6]: ...") and are checked as for the files.
  static Result<BpeTokenizer> from_vocab(std::span<const std::string_view> tokens, std::span<const std::string_view> merges,
                                         std::vector<BpeAddedToken> added = {},
                                         std::string_view tokens_name = "tokens", std::string_view merges_name = "merges",
                                         BpePreTokenizer pre = BpePreTokenizer::gpt2, bool ignore_merges = false) {
    BpeTokenizer t;
    t.pre_ = pre;
    t.ignore_merges_ = ignore_merges;
    t.vocab_entries_.reserve(tokens.size());
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (i > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) return bpe_detail::bad("too many tokens");
      const auto id = static_cast<std::int32_t>(i);
      if (!t.ids_.emplace(std::string(tokens[i]), id).second) {
        return bpe_detail::bad(std::string(tokens_name) + ": duplicate token " + bpe_detail::quoted(tokens[i]) +
                               " (ids " + std::to_string(t.ids_.find(tokens[i])->second) + " and " + std::to_string(id) + ")");
      }
      t.vocab_entries_.emplace_back(id, std::string(tokens[i]));
    }
    if (auto ok = t.resolve_vocab(); !ok) return std::move(ok).error();
    t.merge_entries_.reserve(merges.size());
    for (std::size_t i = 0; i < merges.size(); ++i) {
      const std::string_view line = merges[i];
      const std::string where = std::string(merges_name) + "[" + std::to_string(i) + "]";
      const std::size_t space = line.find(' ');
      if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
          line.find(' ', space + 1) != std::string_view::npos) {
        return bpe_detail::bad(where + ": " + bpe_detail::quoted(line) + " is not two tokens separated by one space");
      }
      t.merge_entries_.push_back({std::string(line.substr(0, space)), std::string(line.substr(space + 1)), where});
    }
    if (auto ok = t.resolve_merges(); !ok) return std::move(ok).error();
    t.added_ = std::move(added);
    if (auto ok = t.finish(); !ok) return std::move(ok).error();
    return t;
  }

  static Result<BpeTokenizer> parse_tokenizer_json(std::string_view text) {
    BpeTokenizer t;
    if (auto ok = t.read_tokenizer_json(text); !ok) return std::move(ok).error();
    return t;
  }

  // ---- encoding ----------------------------------------------------------------------------------

  std::vector<std::int32_t> encode(std::string_view text, EncodeOptions options = {}) const {
    std::vector<std::int32_t> ids;
    encode(text, ids, options);
    return ids;
  }

  // Into `ids` (cleared first; its capacity is reused).
  void encode(std::string_view text, std::vector<std::int32_t>& ids, EncodeOptions options = {}) const {
    ids.clear();
    Scratch scratch;
    std::size_t plain = 0;  // start of the text not yet encoded
    for (std::size_t i = 0; i < text.size();) {
      const AddedMatch m = match_added(text, i, options.allow_special);
      if (m.token == nullptr) {
        ++i;
        continue;
      }
      std::size_t begin = i, end = i + m.token->content.size();
      if (m.token->lstrip) begin = strip_left(text, plain, begin);
      if (m.token->rstrip) end = strip_right(text, end);
      encode_segment(text.substr(plain, begin - plain), ids, scratch);
      ids.push_back(m.token->id);
      plain = i = end;
    }
    encode_segment(text.substr(plain), ids, scratch);
  }

  // ---- decoding ----------------------------------------------------------------------------------

  // Text as Hugging Face decodes it: malformed UTF-8 becomes U+FFFD.
  Result<std::string> decode(std::span<const std::int32_t> ids, DecodeOptions options = {}) const {
    Decoder d = decoder(options);
    std::string text;
    for (const std::int32_t id : ids) {
      if (auto ok = d.next(id, text); !ok) return std::move(ok).error();
    }
    d.finish(text);
    return text;
  }

  // The tokens' bytes, unchanged (decode_bytes(encode(s)) == s for any bytes s).
  Result<std::string> decode_bytes(std::span<const std::int32_t> ids, DecodeOptions options = {}) const {
    std::string bytes;
    for (const std::int32_t id : ids) {
      if (!contains(id)) return out_of_range(id);
      if (options.skip_special && is_special(id)) continue;
      bytes += bytes_[static_cast<std::size_t>(id)];
    }
    return bytes;
  }

  // Streaming decode: feed ids one at a time; each call appends the characters completed so far.
  // Holds a pointer to the tokenizer, which must outlive it.
  class Decoder {
   public:
    // Appends to `out` the text up to the last complete character; bytes of a character that a
    // later token may complete are held back. An id out of range is an Error (nothing changes).
    Result<void> next(std::int32_t id, std::string& out) {
      if (!tokenizer_->contains(id)) return tokenizer_->out_of_range(id);
      if (options_.skip_special && tokenizer_->is_special(id)) return {};
      for (const char c : tokenizer_->bytes_[static_cast<std::size_t>(id)]) feed(static_cast<unsigned char>(c), out);
      return {};
    }
    Result<std::string> next(std::int32_t id) {
      std::string out;
      if (auto ok = next(id, out); !ok) return std::move(ok).error();
      return out;
    }
    // The end of the stream: held-back bytes of an unfinished character become one U+FFFD.
    void finish(std::string& out) {
      if (held_ > 0) out += replacement;
      held_ = 0;
    }
    std::string finish() {
      std::string out;
      finish(out);
      return out;
    }
    // Bytes held back (0-3).
    std::size_t pending() const noexcept { return held_; }

   private:
    friend class BpeTokenizer;
    Decoder(const BpeTokenizer& tokenizer, DecodeOptions options) : tokenizer_(&tokenizer), options_(options) {}

    // UTF-8 validation as Unicode's "maximal subpart" practice (from_utf8_lossy) does it: a byte
    // that cannot continue the held sequence ends it with one U+FFFD and is read again afresh.
    void feed(unsigned b, std::string& out) {
      if (held_ > 0) {
        if (b >= lo_ && b <= hi_) {
          bytes_[held_++] = static_cast<char>(b);
          lo_ = 0x80, hi_ = 0xBF;
          if (held_ == length_) {
            out.append(bytes_.data(), held_);
            held_ = 0;
          }
          return;
        }
        out += replacement;
        held_ = 0;
      }
      if (b < 0x80) {
        out.push_back(static_cast<char>(b));
        return;
      }
      lo_ = 0x80, hi_ = 0xBF;
      if (b >= 0xC2 && b <= 0xDF) {
        length_ = 2;
      } else if (b >= 0xE0 && b <= 0xEF) {
        length_ = 3;
        if (b == 0xE0) lo_ = 0xA0;
        if (b == 0xED) hi_ = 0x9F;
      } else if (b >= 0xF0 && b <= 0xF4) {
        length_ = 4;
        if (b == 0xF0) lo_ = 0x90;
        if (b == 0xF4) hi_ = 0x8F;
      } else {
        out += replacement;
        return;
      }
      bytes_[0] = static_cast<char>(b);
      held_ = 1;
    }

    static constexpr std::string_view replacement = "\xEF\xBF\xBD";
    const BpeTokenizer* tokenizer_;
    DecodeOptions options_;
    std::array<char, 4> bytes_{};
    std::size_t held_ = 0, length_ = 0;
    unsigned lo_ = 0x80, hi_ = 0xBF;
  };

  Decoder decoder(DecodeOptions options = {}) const { return Decoder(*this, options); }

  // ---- the vocabulary ----------------------------------------------------------------------------

  // Every id is below vocab_size(): the model's tokens and the added ones.
  std::size_t vocab_size() const noexcept { return tokens_.size(); }
  bool contains(std::int32_t id) const noexcept { return id >= 0 && static_cast<std::size_t>(id) < tokens_.size(); }

  // The id of a token as the vocabulary writes it ("Ġthe", "<|endoftext|>"), or −1.
  std::int32_t token_to_id(std::string_view token) const {
    const auto it = ids_.find(token);
    return it == ids_.end() ? -1 : it->second;
  }
  // The token as the vocabulary writes it.
  Result<std::string_view> id_to_token(std::int32_t id) const {
    if (!contains(id)) return out_of_range(id);
    return std::string_view(tokens_[static_cast<std::size_t>(id)]);
  }
  // The bytes a token stands for (" the" for "Ġthe").
  Result<std::string_view> token_bytes(std::int32_t id) const {
    if (!contains(id)) return out_of_range(id);
    return std::string_view(bytes_[static_cast<std::size_t>(id)]);
  }
  bool is_special(std::int32_t id) const noexcept {
    return contains(id) && special_[static_cast<std::size_t>(id)];
  }
  std::span<const BpeAddedToken> added_tokens() const noexcept { return added_; }
  std::size_t merge_count() const noexcept { return merges_.size(); }

  // <|endoftext|> (GPT-2: 50256), or −1.
  std::int32_t eos_id() const { return token_to_id(end_of_text); }
  std::int32_t bos_id() const { return token_to_id(end_of_text); }

  static constexpr std::string_view end_of_text = "<|endoftext|>";

 private:
  struct MergeValue {
    std::uint32_t rank;
    std::int32_t id;
  };
  struct AddedMatch {
    const BpeAddedToken* token;
  };
  // Buffers reused across the pieces of one encode() call.
  struct Scratch {
    std::vector<std::int32_t> symbols;
    std::vector<std::uint32_t> next, previous;
    struct Entry {
      std::uint32_t rank;
      std::int32_t id;                 // the merged token
      std::int32_t left_id, right_id;  // the pair when it was pushed
      std::uint32_t left, right;       // positions
    };
    std::vector<Entry> heap;
    std::string prefixed;
  };

  BpeTokenizer() = default;

  static std::string_view as_text(std::span<const std::byte> bytes) noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }

  Error out_of_range(std::int32_t id) const {
    return make_error(errc::out_of_range, "decode: token id " + std::to_string(id) +
                                              " is out of range for a vocabulary of " + std::to_string(vocab_size()));
  }

  // ---- encoding internals ------------------------------------------------------------------------

  // The longest enabled added token at `i`, or none.
  AddedMatch match_added(std::string_view text, std::size_t i, bool allow_special) const noexcept {
    const auto first = static_cast<unsigned char>(text[i]);
    if (!added_first_[first]) return {nullptr};
    const std::string_view rest = text.substr(i);
    for (const std::size_t k : added_by_length_) {  // longest first
      const BpeAddedToken& a = added_[k];
      if (a.special && !allow_special) continue;
      if (rest.starts_with(a.content)) return {&a};
    }
    return {nullptr};
  }

  static bool is_space_at(std::string_view text, std::size_t i, std::size_t& length) noexcept {
    const bpe_detail::Decoded d = bpe_detail::decode_utf8(text, i);
    length = d.length;
    return bpe_detail::classify(d.cp) == unicode::cp_class::space;
  }
  // lstrip: white space before `begin`, back to `floor`, goes with the token.
  static std::size_t strip_left(std::string_view text, std::size_t floor, std::size_t begin) noexcept {
    while (begin > floor) {
      std::size_t start = begin - 1;  // the start of the previous character
      while (start > floor && begin - start < 4 && (static_cast<unsigned char>(text[start]) & 0xC0u) == 0x80u) --start;
      std::size_t length = 0;
      if (!is_space_at(text, start, length) || start + length != begin) break;
      begin = start;
    }
    return begin;
  }
  static std::size_t strip_right(std::string_view text, std::size_t end) noexcept {
    std::size_t length = 0;
    while (end < text.size() && is_space_at(text, end, length)) end += length;
    return end;
  }

  void encode_segment(std::string_view text, std::vector<std::int32_t>& ids, Scratch& scratch) const {
    if (text.empty()) return;
    if (add_prefix_space_ && text.front() != ' ') {
      scratch.prefixed.assign(" ");
      scratch.prefixed.append(text);
      text = scratch.prefixed;
    }
    if (!use_regex_) {
      encode_piece(text, ids, scratch);
      return;
    }
    for (std::size_t start = 0; start < text.size();) {
      const std::size_t end = pre_ == BpePreTokenizer::gpt2 ? bpe_detail::next_piece(text, start)
                              : bpe_detail::next_piece_llama3(text, start, pre_ == BpePreTokenizer::llama3 ? 3 : 1);
      encode_piece(text.substr(start, end - start), ids, scratch);
      start = end;
    }
  }

  void encode_piece(std::string_view piece, std::vector<std::int32_t>& ids, Scratch& scratch) const {
    if (ignore_merges_) {
      if (const auto it = ids_by_bytes_.find(piece); it != ids_by_bytes_.end()) {
        ids.push_back(it->second);
        return;
      }
    }
    auto& symbols = scratch.symbols;
    symbols.clear();
    bool previous_unk = false;
    for (const char c : piece) {
      const std::int32_t id = byte_ids_[static_cast<unsigned char>(c)];
      if (id >= 0) {
        symbols.push_back(id);
        previous_unk = false;
      } else if (unk_id_ >= 0) {  // as HF: an unknown byte is unk (fused with a previous one)
        if (!(fuse_unk_ && previous_unk)) symbols.push_back(unk_id_);
        previous_unk = true;
      }  // without an unk token HF drops the byte
    }
    if (symbols.size() > std::numeric_limits<std::uint32_t>::max() - 2) {
      // A piece of 4 GiB: merged in 4 GiB slices (the ids may differ at the slice boundaries).
      const std::size_t slice = std::size_t{1} << 31;
      std::vector<std::int32_t> all(std::move(symbols));
      for (std::size_t start = 0; start < all.size(); start += slice) {
        symbols.assign(all.begin() + static_cast<std::ptrdiff_t>(start),
                       all.begin() + static_cast<std::ptrdiff_t>(std::min(all.size(), start + slice)));
        merge(scratch);
        ids.insert(ids.end(), symbols.begin(), symbols.end());
      }
      return;
    }
    merge(scratch);
    ids.insert(ids.end(), symbols.begin(), symbols.end());
  }

  // BPE by rank: merge the adjacent pair with the lowest rank (the leftmost of equal ranks) until
  // no adjacent pair has a merge. Symbols form a linked list; candidate pairs a min-heap ordered by
  // (rank, position). A merged symbol keeps its left position, so the smallest position is the
  // leftmost in the current sequence. An entry whose two symbols are no longer neighbours holding
  // the same tokens is stale and skipped. O(n log n) for n symbols. (HF's Word::merge_all.)
  void merge(Scratch& scratch) const {
    using Index = std::uint32_t;
    auto& symbols = scratch.symbols;
    const std::size_t n = symbols.size();
    if (n < 2) return;
    constexpr Index none = std::numeric_limits<Index>::max();
    auto& next = scratch.next;
    auto& previous = scratch.previous;
    next.resize(n);
    previous.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      next[i] = i + 1 < n ? static_cast<Index>(i + 1) : none;
      previous[i] = i > 0 ? static_cast<Index>(i - 1) : none;
    }
    auto& heap = scratch.heap;
    heap.clear();
    const auto later = [](const Scratch::Entry& a, const Scratch::Entry& b) {
      return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    };
    const auto candidate = [&](Index left, Index right) {
      const auto it = merges_.find(pair_key(symbols[left], symbols[right]));
      if (it == merges_.end()) return false;
      heap.push_back({it->second.rank, it->second.id, symbols[left], symbols[right], left, right});
      return true;
    };
    const auto push = [&](Index left, Index right) {
      if (candidate(left, right)) std::push_heap(heap.begin(), heap.end(), later);
    };
    for (std::size_t i = 0; i + 1 < n; ++i) candidate(static_cast<Index>(i), static_cast<Index>(i + 1));
    std::make_heap(heap.begin(), heap.end(), later);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), later);
      const Scratch::Entry top = heap.back();
      heap.pop_back();
      if (next[top.left] != top.right || symbols[top.left] != top.left_id || symbols[top.right] != top.right_id) {
        continue;
      }
      symbols[top.left] = top.id;
      const Index after = next[top.right];
      next[top.right] = none - 1;  // merged away
      next[top.left] = after;
      if (after != none) previous[after] = top.left;
      if (previous[top.left] != none) push(previous[top.left], top.left);
      if (after != none) push(top.left, after);
    }
    std::size_t kept = 0;
    for (Index i = 0; i != none; i = next[i]) symbols[kept++] = symbols[i];
    symbols.resize(kept);
  }

  static std::uint64_t pair_key(std::int32_t left, std::int32_t right) noexcept {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) | static_cast<std::uint32_t>(right);
  }

  // ---- reading -----------------------------------------------------------------------------------

  using Reader = io::json::Reader;

  // A whole file that is one {"token": id} object.
  Result<void> read_vocab_object_top(std::string_view text) {
    Reader r(text);
    if (auto ok = read_vocab_object(r, ""); !ok) return ok;
    return r.finish();
  }

  // {"token": id, ...} into vocab_entries_; `where` prefixes messages ("model.vocab: ").
  Result<void> read_vocab_object(Reader& r, const std::string& where) {
    auto kind = r.value_kind();
    if (!kind) return std::move(kind).error();
    if (*kind != io::json::Kind::object) return bpe_detail::bad(where + "the vocabulary is not a JSON object");
    if (auto ok = r.begin_object(); !ok) return ok;
    std::string key;
    while (true) {
      auto more = r.next_key(key);
      if (!more) return std::move(more).error();
      if (!*more) break;
      auto number = r.number();
      if (!number) {
        return bpe_detail::bad(where + "token " + bpe_detail::quoted(key) + ": the id is not a number (" +
                               number.error().message + ")");
      }
      if (!number->integer || *number->integer > static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max())) {
        return bpe_detail::bad(where + "token " + bpe_detail::quoted(key) + " has id " + std::string(number->text) +
                               ", not an integer from 0 to 2147483647");
      }
      const auto id = static_cast<std::int32_t>(*number->integer);
      if (!ids_.emplace(key, id).second) {
        return bpe_detail::bad(where + "duplicate token " + bpe_detail::quoted(key) + " (ids " +
                               std::to_string(ids_.find(key)->second) + " and " + std::to_string(id) + ")");
      }
      vocab_entries_.emplace_back(id, std::move(key));
      key = std::string();
    }
    return {};
  }

  // vocab.bpe / merges.txt.
  Result<void> read_merges_text(std::string_view text) {
    std::size_t line_number = 0;
    for (std::size_t start = 0; start < text.size();) {
      std::size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(start, end - start);
      start = end + 1;
      ++line_number;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line_number == 1 && line.starts_with("#version")) continue;
      const std::size_t space = line.find(' ');
      if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
          line.find(' ', space + 1) != std::string_view::npos) {
        return bpe_detail::bad("line " + std::to_string(line_number) + ": " + bpe_detail::quoted(line) +
                               " is not two tokens separated by one space");
      }
      merge_entries_.push_back({std::string(line.substr(0, space)), std::string(line.substr(space + 1)),
                                "line " + std::to_string(line_number)});
    }
    return {};
  }

  struct MergeEntry {
    std::string left, right;
    std::string where;  // "line 7", "model.merges[6]"
  };

  // The vocabulary read so far becomes tokens_ (ids dense: exactly 0..N-1).
  Result<void> resolve_vocab() {
    const std::size_t count = vocab_entries_.size();
    if (count == 0) return bpe_detail::bad("the vocabulary is empty");
    tokens_.assign(count, std::string());
    std::vector<bool> seen(count, false);
    for (auto& [id, token] : vocab_entries_) {
      const auto index = static_cast<std::size_t>(id);
      if (index >= count) {
        return bpe_detail::bad("token " + bpe_detail::quoted(token) + " has id " + std::to_string(id) + ", but the " +
                               std::to_string(count) + " tokens must have the ids 0 to " + std::to_string(count - 1));
      }
      if (seen[index]) {
        return bpe_detail::bad("tokens " + bpe_detail::quoted(tokens_[index]) + " and " + bpe_detail::quoted(token) +
                               " have the same id " + std::to_string(id));
      }
      seen[index] = true;
      tokens_[index] = std::move(token);
    }
    vocab_entries_.clear();
    vocab_entries_.shrink_to_fit();
    model_size_ = count;
    return {};
  }

  // The merges read so far, each known to the vocabulary and made once.
  Result<void> resolve_merges() {
    merges_.reserve(merge_entries_.size());
    std::string joined;
    for (std::size_t rank = 0; rank < merge_entries_.size(); ++rank) {
      const MergeEntry& m = merge_entries_[rank];
      const std::int32_t left = token_to_id(m.left), right = token_to_id(m.right);
      if (left < 0 || right < 0) {
        return bpe_detail::bad(m.where + ": the merge " + bpe_detail::quoted(m.left + " " + m.right) + " names " +
                               bpe_detail::quoted(left < 0 ? m.left : m.right) + ", which is not in the vocabulary");
      }
      joined = m.left + m.right;
      const std::int32_t merged = token_to_id(joined);
      if (merged < 0) {
        return bpe_detail::bad(m.where + ": the merge " + bpe_detail::quoted(m.left + " " + m.right) + " makes " +
                               bpe_detail::quoted(joined) + ", which is not in the vocabulary");
      }
      if (rank > std::numeric_limits<std::uint32_t>::max() - 1) return bpe_detail::bad("too many merges");
      const auto [it, inserted] =
          merges_.emplace(pair_key(left, right), MergeValue{static_cast<std::uint32_t>(rank), merged});
      if (!inserted) {
        return bpe_detail::bad(m.where + ": duplicate merge " + bpe_detail::quoted(m.left + " " + m.right) + " (also " +
                               merge_entries_[it->second.rank].where + ")");
      }
    }
    merge_entries_.clear();
    merge_entries_.shrink_to_fit();
    return {};
  }

  // Adds the added tokens, then builds what encoding and decoding use.
  Result<void> finish() {
    for (const BpeAddedToken& a : added_) {
      if (a.content.empty()) return bpe_detail::bad("added token " + std::to_string(a.id) + " has empty content");
      const std::int32_t existing = token_to_id(a.content);
      if (existing >= 0 && existing != a.id) {
        return bpe_detail::bad("added token " + bpe_detail::quoted(a.content) + " has id " + std::to_string(a.id) +
                               ", the vocabulary gives it " + std::to_string(existing));
      }
      if (existing >= 0) continue;
      if (a.id < 0) return bpe_detail::bad("added token " + bpe_detail::quoted(a.content) + " has a negative id");
      const auto index = static_cast<std::size_t>(a.id);
      if (index < tokens_.size()) {
        return bpe_detail::bad("added token " + bpe_detail::quoted(a.content) + " has id " + std::to_string(a.id) +
                               ", which is the vocabulary's " + bpe_detail::quoted(tokens_[index]));
      }
    }
    // New added tokens take the ids after the model's, in order, with no gap.
    std::vector<const BpeAddedToken*> extra;
    for (const BpeAddedToken& a : added_) {
      if (static_cast<std::size_t>(a.id) >= model_size_) extra.push_back(&a);
    }
    std::sort(extra.begin(), extra.end(), [](const auto* a, const auto* b) { return a->id < b->id; });
    for (const BpeAddedToken* a : extra) {
      if (static_cast<std::size_t>(a->id) != tokens_.size()) {
        return bpe_detail::bad("added token " + bpe_detail::quoted(a->content) + " has id " + std::to_string(a->id) +
                               (static_cast<std::size_t>(a->id) < tokens_.size()
                                    ? ", as another added token does"
                                    : ", leaving a gap: the next id is " + std::to_string(tokens_.size())));
      }
      tokens_.push_back(a->content);
      if (!ids_.emplace(a->content, a->id).second) {
        return bpe_detail::bad("duplicate added token " + bpe_detail::quoted(a->content));
      }
    }
    special_.assign(tokens_.size(), false);
    for (const BpeAddedToken& a : added_) {
      special_[static_cast<std::size_t>(a.id)] = a.special;
      added_first_[static_cast<unsigned char>(a.content.front())] = true;
    }
    added_by_length_.resize(added_.size());
    for (std::size_t i = 0; i < added_.size(); ++i) added_by_length_[i] = i;
    std::stable_sort(added_by_length_.begin(), added_by_length_.end(),
                     [this](std::size_t a, std::size_t b) { return added_[a].content.size() > added_[b].content.size(); });
    // The bytes each token stands for.
    bytes_.resize(tokens_.size());
    for (std::size_t id = 0; id < tokens_.size(); ++id) bytes_[id] = token_to_bytes(tokens_[id]);
    if (ignore_merges_) {
      for (std::size_t id = 0; id < model_size_; ++id) ids_by_bytes_.emplace(bytes_[id], static_cast<std::int32_t>(id));
    }
    std::string character;
    for (unsigned b = 0; b < 256; ++b) {
      character.clear();
      io::json::append_utf8(character, bpe_detail::byte_map.to_char[b]);
      const std::int32_t id = token_to_id(character);
      byte_ids_[b] = id >= 0 && static_cast<std::size_t>(id) < model_size_ ? id : -1;
    }
    return {};
  }

  // HF's ByteLevel decoder: every character a byte character → those bytes; else the token's own
  // UTF-8 bytes.
  static std::string token_to_bytes(std::string_view token) {
    std::string bytes;
    for (std::size_t i = 0; i < token.size();) {
      const bpe_detail::Decoded d = bpe_detail::decode_utf8(token, i);
      if (d.cp >= bpe_detail::byte_map.to_byte.size() || bpe_detail::byte_map.to_byte[d.cp] < 0) {
        return std::string(token);
      }
      bytes.push_back(static_cast<char>(bpe_detail::byte_map.to_byte[d.cp]));
      i += d.length;
    }
    return bytes;
  }

  // ---- tokenizer.json ----------------------------------------------------------------------------

  Result<void> read_tokenizer_json(std::string_view text) {
    using io::json::Kind;
    Reader r(text);
    auto kind = r.value_kind();
    if (!kind) return std::move(kind).error();
    if (*kind != Kind::object) return bpe_detail::bad("not a tokenizer.json: the file is not a JSON object");
    if (auto ok = r.begin_object(); !ok) return ok;
    std::string key;
    std::vector<std::string> seen;
    bool have_model = false, have_pre_tokenizer = false;
    while (true) {
      auto more = r.next_key(key);
      if (!more) return std::move(more).error();
      if (!*more) break;
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
        return Reader::error_at(r.key_end(), "duplicate key " + bpe_detail::quoted(key));
      }
      seen.push_back(key);
      Result<void> ok;
      if (key == "model") {
        ok = read_model(r);
        have_model = true;
      } else if (key == "added_tokens") {
        ok = read_added_tokens(r);
      } else if (key == "normalizer") {
        ok = expect_null(r, "normalizer", "a normalizer");
      } else if (key == "pre_tokenizer") {
        ok = read_byte_level(r, "pre_tokenizer", true);
        have_pre_tokenizer = true;
      } else if (key == "decoder") {
        ok = read_byte_level(r, "decoder", false);
      } else {  // version, truncation, padding, post_processor (forma adds no tokens), others
        ok = r.skip();
      }
      if (!ok) return ok;
    }
    if (auto ok = r.finish(); !ok) return ok;
    if (!have_model) return bpe_detail::bad("not a tokenizer.json: no \"model\"");
    if (!have_pre_tokenizer) {
      return bpe_detail::unsupported("no pre_tokenizer: forma reads byte-level BPE (pre_tokenizer ByteLevel)");
    }
    if (!unk_token_.empty()) {
      unk_id_ = token_to_id(unk_token_);
      if (unk_id_ < 0) return bpe_detail::bad("model.unk_token " + bpe_detail::quoted(unk_token_) + " is not in the vocabulary");
    }
    return finish();
  }

  static Result<void> expect_null(Reader& r, const char* field, const char* what) {
    auto kind = r.value_kind();
    if (!kind) return std::move(kind).error();
    if (*kind == io::json::Kind::null) return r.null();
    return bpe_detail::unsupported(std::string(field) + ": " + what + " is not supported (only null)");
  }

  struct Flag {
    const char* name;
    bool* value;
  };

  // An object's members: strings and booleans named in `strings`/`flags` are read, the rest skipped.
  static Result<void> read_members(Reader& r, const std::string& where,
                                   std::initializer_list<std::pair<const char*, std::string*>> strings,
                                   std::initializer_list<Flag> flags,
                                   const std::function<Result<bool>(const std::string&)>& other = {}) {
    using io::json::Kind;
    if (auto ok = r.begin_object(); !ok) return ok;
    std::string key;
    while (true) {
      auto more = r.next_key(key);
      if (!more) return std::move(more).error();
      if (!*more) return {};
      bool handled = false;
      for (const auto& [name, target] : strings) {
        if (key != name) continue;
        handled = true;
        auto kind = r.value_kind();
        if (!kind) return std::move(kind).error();
        if (*kind == Kind::null) {
          if (auto ok = r.null(); !ok) return ok;
          target->clear();
        } else if (*kind == Kind::string) {
          auto s = r.string();
          if (!s) return std::move(s).error();
          *target = std::move(*s);
        } else {
          return bpe_detail::bad(where + "." + key + " is not a string");
        }
      }
      for (const Flag& f : flags) {
        if (key != f.name) continue;
        handled = true;
        auto kind = r.value_kind();
        if (!kind) return std::move(kind).error();
        if (*kind != Kind::boolean) return bpe_detail::bad(where + "." + key + " is not true or false");
        auto b = r.boolean();
        if (!b) return std::move(b).error();
        *f.value = *b;
      }
      if (!handled && other) {
        auto done = other(key);
        if (!done) return std::move(done).error();
        handled = *done;
      }
      if (!handled) {
        if (auto ok = r.skip(); !ok) return ok;
      }
    }
  }

  // pre_tokenizer or decoder: ByteLevel (or, for the decoder, null).
  Result<void> read_byte_level(Reader& r, const char* field, bool pre_tokenizer) {
    auto kind = r.value_kind();
    if (!kind) return std::move(kind).error();
    if (*kind == io::json::Kind::null) {
      if (pre_tokenizer) return bpe_detail::unsupported("pre_tokenizer is null: forma reads byte-level BPE (ByteLevel)");
      return r.null();
    }
    if (*kind != io::json::Kind::object) return bpe_detail::bad(std::string(field) + " is not an object");
    std::string type;
    bool add_prefix_space = false, use_regex = true, trim_offsets = true;
    if (auto ok = read_members(r, field, {{"type", &type}},
                               {{"add_prefix_space", &add_prefix_space}, {"use_regex", &use_regex},
                                {"trim_offsets", &trim_offsets}});
        !ok) {
      return ok;
    }
    if (type != "ByteLevel") {
      return bpe_detail::unsupported(std::string(field) + " of type " + bpe_detail::quoted(type) +
                                     " is not supported (only ByteLevel)");
    }
    if (pre_tokenizer) {
      add_prefix_space_ = add_prefix_space;
      use_regex_ = use_regex;
    }
    return {};
  }

  Result<void> read_added_tokens(Reader& r) {
    using io::json::Kind;
    auto kind = r.value_kind();
    if (!kind) return std::move(kind).error();
    if (*kind != Kind::array) return bpe_detail::bad("added_tokens is not an array");
    if (auto ok = r.begin_array(); !ok) return ok;
    for (std::size_t index = 0;; ++index) {
      auto more = r.next_element();
      if (!more) return std::move(more).error();
      if (!*more) return {};
      const std::string where = "added_tokens[" + std::to_string(index) + "]";
      auto element = r.value_kind();
      if (!element) return std::move(element).error();
      if (*element != Kind::object) return bpe_detail::bad(where + " is not an object");
      BpeAddedToken a;
      bool single_word = false, normalized = false, have_id = false, have_content = false;
      std::string content;
      auto ok = read_members(
          r, where, {}, {{"special", &a.special}, {"lstrip", &a.lstrip}, {"rstrip", &a.rstrip},
                         {"single_word", &single_word}, {"normalized", &normalized}},
          [&](const std::string& key) -> Result<bool> {
            if (key == "content") {
              auto s = r.string();
              if (!s) return bpe_detail::bad(where + ".content is not a string");
              a.content = std::move(*s);
              have_content = true;
              return true;
            }
            if (key == "id") {
              auto number = r.number();
              if (!number || !number->integer ||
                  *number->integer > static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max())) {
                return bpe_detail::bad(where + ".id is not an integer from 0 to 2147483647");
              }
              a.id = static_cast<std::int32_t>(*number->integer);
              have_id = true;
              return true;
            }
            return false;
          });
      if (!ok) return ok;
      if (!have_id || !have_content) return bpe_detail::bad(where + " has no " + (have_id ? "content" : "id"));
      if (single_word) {
        return bpe_detail::unsupported(where + " " + bpe_detail::quoted(a.content) + ": single_word is not supported");
      }
      for (const BpeAddedToken& other : added_) {
        if (other.id == a.id || other.content == a.content) {
          return bpe_detail::bad(where + " " + bpe_detail::quoted(a.content) + " repeats the id or content of " +
                                 bpe_detail::quoted(other.content));
        }
      }
      if (added_.size() >= 1'000'000) return bpe_detail::bad("more than 1000000 added tokens");
      added_.push_back(std::move(a));
    }
  }

  Result<void> read_model(Reader& r) {
    using io::json::Kind;
    auto kind = r.value_kind();
    if (!kind) return std::move(kind).error();
    if (*kind != Kind::object) return bpe_detail::bad("model is not an object");
    std::string type, prefix, suffix;
    bool byte_fallback = false, have_vocab = false, have_merges = false, dropout = false;
    auto ok = read_members(
        r, "model", {{"type", &type}, {"unk_token", &unk_token_}, {"continuing_subword_prefix", &prefix},
                     {"end_of_word_suffix", &suffix}},
        {{"fuse_unk", &fuse_unk_}, {"byte_fallback", &byte_fallback}, {"ignore_merges", &ignore_merges_}},
        [&](const std::string& key) -> Result<bool> {
          if (key == "vocab") {
            if (have_vocab) return bpe_detail::bad("model: duplicate key \"vocab\"");
            have_vocab = true;
            if (auto done = read_vocab_object(r, "model.vocab: "); !done) return std::move(done).error();
            return true;
          }
          if (key == "merges") {
            if (have_merges) return bpe_detail::bad("model: duplicate key \"merges\"");
            have_merges = true;
            if (auto done = read_merges_array(r); !done) return std::move(done).error();
            return true;
          }
          if (key == "dropout") {
            auto value = r.value_kind();
            if (!value) return std::move(value).error();
            if (*value == Kind::null) {
              if (auto done = r.null(); !done) return std::move(done).error();
              return true;
            }
            auto number = r.number();
            if (!number) return bpe_detail::bad("model.dropout is not a number or null");
            dropout = !(number->integer && *number->integer == 0);
            return true;
          }
          return false;
        });
    if (!ok) return ok;
    if (!type.empty() && type != "BPE") {
      return bpe_detail::unsupported("model of type " + bpe_detail::quoted(type) + " is not supported (only BPE)");
    }
    if (!have_vocab) return bpe_detail::bad("model has no vocab");
    if (dropout) return bpe_detail::unsupported("model.dropout is not supported (only null)");
    if (byte_fallback) return bpe_detail::unsupported("model.byte_fallback is not supported");
    if (!prefix.empty() || !suffix.empty()) {
      return bpe_detail::unsupported("model: continuing_subword_prefix and end_of_word_suffix are not supported");
    }
    if (auto done = resolve_vocab(); !done) {
      Error e = std::move(done).error();
      e.message = "model.vocab: " + e.message;
      return e;
    }
    return resolve_merges();  // its messages name model.merges[i]
  }

  // model.merges: ["a b", ...] or [["a", "b"], ...].
  Result<void> read_merges_array(Reader& r) {
    using io::json::Kind;
    auto kind = r.value_kind();
    if (!kind) return std::move(kind).error();
    if (*kind != Kind::array) return bpe_detail::bad("model.merges is not an array");
    if (auto ok = r.begin_array(); !ok) return ok;
    for (std::size_t index = 0;; ++index) {
      auto more = r.next_element();
      if (!more) return std::move(more).error();
      if (!*more) return {};
      std::string where = "model.merges[" + std::to_string(index) + "]";
      auto element = r.value_kind();
      if (!element) return std::move(element).error();
      if (*element == Kind::string) {
        auto s = r.string();
        if (!s) return std::move(s).error();
        const std::size_t space = s->find(' ');
        if (space == std::string::npos || space == 0 || space + 1 == s->size() ||
            s->find(' ', space + 1) != std::string::npos) {
          return bpe_detail::bad(where + ": " + bpe_detail::quoted(*s) + " is not two tokens separated by one space");
        }
        merge_entries_.push_back({s->substr(0, space), s->substr(space + 1), std::move(where)});
        continue;
      }
      if (*element != Kind::array) return bpe_detail::bad(where + " is not a string or an array");
      if (auto ok = r.begin_array(); !ok) return ok;
      std::string parts[2];
      std::size_t count = 0;
      while (true) {
        auto next = r.next_element();
        if (!next) return std::move(next).error();
        if (!*next) break;
        auto s = r.string();
        if (!s || count == 2) return bpe_detail::bad(where + " is not a pair of strings");
        parts[count++] = std::move(*s);
      }
      if (count != 2 || parts[0].empty() || parts[1].empty()) {
        return bpe_detail::bad(where + " is not a pair of non-empty strings");
      }
      merge_entries_.push_back({std::move(parts[0]), std::move(parts[1]), std::move(where)});
    }
  }

  // ---- state -------------------------------------------------------------------------------------

  std::vector<std::string> tokens_;  // id → the token as the vocabulary writes it
  std::vector<std::string> bytes_;   // id → the bytes it stands for
  std::vector<bool> special_;
  std::unordered_map<std::string, std::int32_t, bpe_detail::StringHash, std::equal_to<>> ids_;
  std::unordered_map<std::string, std::int32_t, bpe_detail::StringHash, std::equal_to<>> ids_by_bytes_;
  std::unordered_map<std::uint64_t, MergeValue> merges_;  // (left id, right id) → rank, merged id
  std::array<std::int32_t, 256> byte_ids_{};               // byte → its token, or −1
  std::vector<BpeAddedToken> added_;
  std::vector<std::size_t> added_by_length_;  // indices into added_, longest content first
  std::array<bool, 256> added_first_{};        // first bytes of added tokens
  std::size_t model_size_ = 0;                 // ids below it are the model's vocabulary
  std::string unk_token_;
  std::int32_t unk_id_ = -1;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  BpePreTokenizer pre_ = BpePreTokenizer::gpt2;
  bool add_prefix_space_ = false;
  bool use_regex_ = true;
  // While reading.
  std::vector<std::pair<std::int32_t, std::string>> vocab_entries_;
  std::vector<MergeEntry> merge_entries_;
};

}  // namespace forma::text
