// forma/io/json.hpp — a small strict JSON reader for file headers (safetensors).
//
// RFC 8259 values: objects, arrays, strings (escapes and \u surrogate pairs decoded to UTF-8, raw
// bytes checked to be valid UTF-8), numbers (kept as text plus an exact unsigned integer when
// they are one), true, false, null. Nesting deeper than `max_depth` is an error, so hostile input
// cannot exhaust the stack. Duplicate keys are an error (their meaning would be ambiguous).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "forma/core/error.hpp"

namespace forma::io::json {

struct Value;
using Object = std::vector<std::pair<std::string, Value>>;
using Array = std::vector<Value>;

struct Value {
  enum class Kind : unsigned char { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  bool boolean = false;
  std::string text;                      // the string, or the number as written
  std::optional<std::uint64_t> integer;  // a number that is a non-negative integer ≤ 2^64 − 1
  std::shared_ptr<Array> array;
  std::shared_ptr<Object> object;

  bool is_object() const noexcept { return kind == Kind::object; }
  bool is_array() const noexcept { return kind == Kind::array; }
  bool is_string() const noexcept { return kind == Kind::string; }
  // The member named `key` of an object, or nullptr.
  const Value* find(std::string_view key) const noexcept {
    if (!object) return nullptr;
    for (const auto& [name, value] : *object) {
      if (name == key) return &value;
    }
    return nullptr;
  }
};

inline constexpr std::size_t max_depth = 64;

namespace detail {

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<Value> document() {
    Value value;
    if (auto ok = parse_value(value, 0); !ok) return std::move(ok).error();
    skip_space();
    if (pos_ != text_.size()) return fail("unexpected text after the JSON value");
    return value;
  }

 private:
  Error fail(const std::string& what) const {
    return make_error(errc::bad_format, "invalid JSON at byte " + std::to_string(pos_) + ": " + what);
  }
  void skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Result<void> parse_value(Value& out, std::size_t depth) {
    if (depth > max_depth) return fail("nested deeper than " + std::to_string(max_depth) + " levels");
    skip_space();
    if (pos_ >= text_.size()) return fail("unexpected end of input");
    const char c = text_[pos_];
    if (c == '{') return parse_object(out, depth);
    if (c == '[') return parse_array(out, depth);
    if (c == '"') {
      out.kind = Value::Kind::string;
      return parse_string(out.text);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(out);
    if (literal("true")) {
      out.kind = Value::Kind::boolean;
      out.boolean = true;
      return {};
    }
    if (literal("false")) {
      out.kind = Value::Kind::boolean;
      return {};
    }
    if (literal("null")) {
      out.kind = Value::Kind::null;
      return {};
    }
    return fail("unexpected character");
  }

  Result<void> parse_object(Value& out, std::size_t depth) {
    ++pos_;  // '{'
    out.kind = Value::Kind::object;
    out.object = std::make_shared<Object>();
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      return {};
    }
    while (true) {
      skip_space();
      if (pos_ >= text_.size() || text_[pos_] != '"') return fail("expected a string key");
      std::string key;
      if (auto ok = parse_string(key); !ok) return ok;
      for (const auto& member : *out.object) {
        if (member.first == key) return fail("duplicate key \"" + key + "\"");
      }
      skip_space();
      if (pos_ >= text_.size() || text_[pos_] != ':') return fail("expected ':'");
      ++pos_;
      Value value;
      if (auto ok = parse_value(value, depth + 1); !ok) return ok;
      out.object->emplace_back(std::move(key), std::move(value));
      skip_space();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == '}') {
        ++pos_;
        return {};
      }
      return fail("expected ',' or '}'");
    }
  }

  Result<void> parse_array(Value& out, std::size_t depth) {
    ++pos_;  // '['
    out.kind = Value::Kind::array;
    out.array = std::make_shared<Array>();
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      return {};
    }
    while (true) {
      Value value;
      if (auto ok = parse_value(value, depth + 1); !ok) return ok;
      out.array->push_back(std::move(value));
      skip_space();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == ']') {
        ++pos_;
        return {};
      }
      return fail("expected ',' or ']'");
    }
  }

  Result<void> parse_number(Value& out) {
    const std::size_t start = pos_;
    if (text_[pos_] == '-') ++pos_;
    const auto digits = [&] {
      const std::size_t from = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      return pos_ - from;
    };
    const std::size_t int_start = pos_;
    if (digits() == 0) return fail("a number needs digits");
    if (text_[int_start] == '0' && pos_ - int_start > 1) return fail("leading zeros are not allowed");
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
    out.kind = Value::Kind::number;
    out.text.assign(text_.substr(start, pos_ - start));
    if (integral && text_[start] != '-') {
      std::uint64_t value = 0;
      bool overflow = false;
      for (const char c : out.text) {
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) overflow = true;
        value = value * 10 + digit;
      }
      if (!overflow) out.integer = value;
    }
    return {};
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
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

  bool hex4(std::uint32_t& out) {
    if (text_.size() - pos_ < 4) return false;
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
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

  Result<void> parse_string(std::string& out) {
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
};

}  // namespace detail

inline Result<Value> parse(std::string_view text) { return detail::Parser(text).document(); }

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
