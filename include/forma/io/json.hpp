// forma/io/json.hpp — a strict pull reader for JSON file headers (safetensors).
//
// The caller asks for the value its schema expects next (an object, a key, a string, a number...),
// so a header is validated while it is read: nothing builds a tree, nothing recurses on the input,
// and what is allocated is what the caller keeps. A schema-free walk (the fuzz harness) nests at
// most `max_depth` levels. RFC 8259, strictly: strings have their escapes and \u surrogate pairs
// decoded to UTF-8 and their raw bytes checked to be valid UTF-8 (no overlongs, no surrogates,
// ≤ U+10FFFF), no control characters; numbers as the grammar says (no leading zeros, no '+'), kept
// as text plus an exact unsigned integer when they are one; no trailing commas. Every syntax error
// says where: "invalid JSON at byte 9: unpaired surrogate in a \u escape".
//
//   json::Reader r(text);
//   r.begin_object();                                   // '{'
//   std::string key;
//   while (*r.next_key(key)) { ... read the value ... } // false once '}' is consumed
//   r.finish();                                         // only whitespace may follow
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "forma/core/error.hpp"

namespace forma::io::json {

inline constexpr std::size_t max_depth = 64;

enum class Kind : unsigned char { null, boolean, number, string, array, object, none };

struct Number {
  std::string_view text;                 // as written, e.g. "-1.5e3"
  std::optional<std::uint64_t> integer;  // a non-negative integer ≤ 2^64 − 1, exactly
};

// Appends code point `cp` (≤ U+10FFFF, not a surrogate) to `out` as UTF-8.
inline void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class Reader {
 public:
  explicit Reader(std::string_view text) noexcept : text_(text) {}

  std::size_t position() const noexcept { return pos_; }
  // Where the last key read by next_key() ended (just after its closing quote).
  std::size_t key_end() const noexcept { return key_end_; }
  // "invalid JSON at byte <at>: <what>"
  static Error error_at(std::size_t at, const std::string& what) {
    return make_error(errc::bad_format, "invalid JSON at byte " + std::to_string(at) + ": " + what);
  }

  // The kind of the next value, from its first character (none: end of input or no value there).
  Kind peek() noexcept {
    skip_space();
    if (pos_ >= text_.size()) return Kind::none;
    switch (text_[pos_]) {
      case '{': return Kind::object;
      case '[': return Kind::array;
      case '"': return Kind::string;
      case 't':
      case 'f': return Kind::boolean;
      case 'n': return Kind::null;
      default: break;
    }
    return text_[pos_] == '-' || (text_[pos_] >= '0' && text_[pos_] <= '9') ? Kind::number : Kind::none;
  }

  // The kind of the next value, or the syntax error of its absence: a reader of a schema checks
  // this before deciding the value is of the wrong kind.
  Result<Kind> value_kind() {
    const Kind kind = peek();
    if (kind != Kind::none) return kind;
    return fail(pos_ >= text_.size() ? "unexpected end of input" : "unexpected character");
  }

  Result<void> begin_object() { return open('{'); }
  Result<void> begin_array() { return open('['); }

  // Reads the next member's key and its ':' and returns true, or consumes the closing '}' and
  // returns false.
  Result<bool> next_key(std::string& key) {
    auto more = next('}', "'}'");
    if (!more || !*more) return more;
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] != '"') return fail("expected a string key");
    if (auto ok = read_string(key); !ok) return std::move(ok).error();
    key_end_ = pos_;
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] != ':') return fail("expected ':'");
    ++pos_;
    return true;
  }
  // True when another element follows (read it next), false once the closing ']' is consumed.
  Result<bool> next_element() { return next(']', "']'"); }

  Result<std::string> string() {
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] != '"') return fail("expected a string");
    std::string out;
    if (auto ok = read_string(out); !ok) return std::move(ok).error();
    return out;
  }
  Result<Number> number();
  Result<bool> boolean() {
    skip_space();
    if (literal("true")) return true;
    if (literal("false")) return false;
    return fail("expected true or false");
  }
  Result<void> null() {
    skip_space();
    if (literal("null")) return {};
    return fail("expected null");
  }
  // Reads and discards the next value, whatever it is (a member a schema does not use). Nests
  // at most max_depth levels, without recursion.
  Result<void> skip() {
    std::uint64_t objects = 0;  // one bit per container opened here: set for an object
    std::size_t depth = 0;
    std::string key;
    while (true) {
      auto kind = value_kind();
      if (!kind) return std::move(kind).error();
      if (*kind == Kind::object || *kind == Kind::array) {
        if (auto ok = open(*kind == Kind::object ? '{' : '['); !ok) return ok;
        const std::uint64_t bit = std::uint64_t{1} << depth;
        objects = *kind == Kind::object ? objects | bit : objects & ~bit;
        ++depth;
      } else if (*kind == Kind::string) {
        if (auto ok = read_string(key); !ok) return ok;
      } else if (*kind == Kind::number) {
        if (auto ok = number(); !ok) return std::move(ok).error();
      } else if (*kind == Kind::boolean) {
        if (auto ok = boolean(); !ok) return std::move(ok).error();
      } else {
        if (auto ok = null(); !ok) return ok;
      }
      // Close the containers that end here; stop at the next member or element.
      while (depth > 0) {
        const bool object = ((objects >> (depth - 1)) & 1) != 0;
        auto more = object ? next_key(key) : next_element();
        if (!more) return std::move(more).error();
        if (*more) break;
        --depth;
      }
      if (depth == 0) return {};
    }
  }

  // Only whitespace may remain, and every object and array must be closed.
  Result<void> finish() {
    skip_space();
    if (depth_ != 0) return fail("unexpected end of input");
    if (pos_ != text_.size()) return fail("unexpected text after the JSON value");
    return {};
  }

 private:
  Error fail(const std::string& what) const { return error_at(pos_, what); }
  void skip_space() noexcept {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool literal(std::string_view word) noexcept {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  // One bit per open container: set while it has had no member yet (so a ',' is not expected).
  Result<void> open(char bracket) {
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] != bracket) {
      return fail(bracket == '{' ? "expected '{'" : "expected '['");
    }
    if (depth_ == max_depth) return fail("nested deeper than " + std::to_string(max_depth) + " levels");
    ++pos_;
    empty_ |= std::uint64_t{1} << depth_;
    ++depth_;
    return {};
  }
  Result<bool> next(char closing, const char* closing_text) {
    skip_space();
    if (depth_ == 0) return fail("no object or array is open");
    const std::uint64_t bit = std::uint64_t{1} << (depth_ - 1);
    if (pos_ < text_.size() && text_[pos_] == closing) {
      ++pos_;
      --depth_;
      empty_ &= ~bit;
      return false;
    }
    if ((empty_ & bit) != 0) {
      empty_ &= ~bit;
      if (pos_ >= text_.size()) return fail("unexpected end of input");
      return true;
    }
    if (pos_ >= text_.size()) return fail("unexpected end of input");
    if (text_[pos_] == ',') {
      ++pos_;
      return true;
    }
    return fail(std::string("expected ',' or ") + closing_text);
  }

  bool hex4(std::uint32_t& out) noexcept {
    if (text_.size() - pos_ < 4) return false;
    out = 0;
    for (int i = 0; i < 4; ++i, ++pos_) {  // stops at the first byte that is not a hex digit
      const char c = text_[pos_];
      out <<= 4;
      if (c >= '0' && c <= '9') out |= static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') out |= static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') out |= static_cast<std::uint32_t>(c - 'A' + 10);
      else return false;
    }
    return true;
  }

  // One UTF-8 sequence starting at pos_ (validated: no overlongs, no surrogates, ≤ U+10FFFF).
  bool utf8_sequence(std::string& out) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text_[i]); };
    const unsigned char lead = byte(pos_);
    std::size_t length = 0;
    std::uint32_t cp = 0;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
      cp = lead & 0x1Fu;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      cp = lead & 0x0Fu;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      cp = lead & 0x07u;
    } else {
      return false;
    }
    if (text_.size() - pos_ < length) return false;
    for (std::size_t i = 1; i < length; ++i) {
      if ((byte(pos_ + i) & 0xC0u) != 0x80u) return false;
      cp = (cp << 6) | (byte(pos_ + i) & 0x3Fu);
    }
    if ((length == 3 && cp < 0x800) || (length == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    out.append(text_.substr(pos_, length));
    pos_ += length;
    return true;
  }

  // The string starting at pos_ (its opening quote), decoded into `out`.
  Result<void> read_string(std::string& out) {
    ++pos_;  // '"'
    out.clear();
    while (true) {
      if (pos_ >= text_.size()) return fail("unterminated string");
      const auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return {};
      }
      if (c < 0x20) return fail("control character in a string");
      if (c == '\\') {
        ++pos_;
        if (pos_ >= text_.size()) return fail("unterminated escape");
        const char e = text_[pos_++];
        switch (e) {
          case '"': out.push_back('"'); break;
          case '\\': out.push_back('\\'); break;
          case '/': out.push_back('/'); break;
          case 'b': out.push_back('\b'); break;
          case 'f': out.push_back('\f'); break;
          case 'n': out.push_back('\n'); break;
          case 'r': out.push_back('\r'); break;
          case 't': out.push_back('\t'); break;
          case 'u': {
            std::uint32_t cp = 0;
            if (!hex4(cp)) return fail("bad \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              std::uint32_t low = 0;
              if (!literal("\\u") || !hex4(low) || low < 0xDC00 || low > 0xDFFF) {
                return fail("unpaired surrogate in a \\u escape");
              }
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
              return fail("unpaired surrogate in a \\u escape");
            }
            append_utf8(out, cp);
            break;
          }
          default: return fail("unknown escape");
        }
        continue;
      }
      if (c < 0x80) {
        out.push_back(static_cast<char>(c));
        ++pos_;
      } else if (!utf8_sequence(out)) {
        return fail("invalid UTF-8 in a string");
      }
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t key_end_ = 0;
  std::size_t depth_ = 0;
  std::uint64_t empty_ = 0;
};

inline Result<Number> Reader::number() {
  skip_space();
  const std::size_t start = pos_;
  if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
  const auto digits = [&] {
    const std::size_t from = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    return pos_ - from;
  };
  const std::size_t int_start = pos_;
  if (digits() == 0) return fail(start == pos_ ? "expected a number" : "a number needs digits");
  if (text_[int_start] == '0' && pos_ - int_start > 1) return error_at(int_start + 1, "leading zeros are not allowed");
  bool integral = true;
  if (pos_ < text_.size() && text_[pos_] == '.') {
    ++pos_;
    integral = false;
    if (digits() == 0) return fail("a fraction needs digits");
  }
  if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
    ++pos_;
    integral = false;
    if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
    if (digits() == 0) return fail("an exponent needs digits");
  }
  Number number{text_.substr(start, pos_ - start), std::nullopt};
  if (integral && text_[start] != '-') {
    std::uint64_t value = 0;
    bool overflow = false;
    for (const char c : number.text) {
      const auto digit = static_cast<std::uint64_t>(c - '0');
      if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) overflow = true;
      value = value * 10 + digit;
    }
    if (!overflow) number.integer = value;
  }
  return number;
}

// A JSON string literal for `text` (quotes, escapes for '"', '\\' and control characters).
inline std::string quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\u00";
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 0xF]);
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

}  // namespace forma::io::json
