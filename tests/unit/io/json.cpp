// Unit tests: the JSON pull reader (what the safetensors header reader is built on).
#include <doctest/doctest.h>

#include <string>

#include <forma/io/json.hpp>

namespace json = forma::io::json;

TEST_CASE("the reader walks objects, arrays, strings, numbers and literals in order") {
  json::Reader r(R"( {"a": [1, -2.5e3, 18446744073709551615, 18446744073709551616], "b\n\u00e9\ud83d\ude00": {"t": true, "f": false, "n": null}, "e": {}, "z": []} )");
  std::string key;
  REQUIRE(r.begin_object());
  REQUIRE(r.next_key(key).value());
  CHECK(key == "a");
  REQUIRE(r.value_kind().value() == json::Kind::array);
  REQUIRE(r.begin_array());
  std::string numbers;
  while (r.next_element().value()) {
    const auto n = r.number().value();
    numbers += n.text;  // appends only: GCC 12 warns falsely (-Wrestrict) on chains of operator+
    if (n.integer) {
      numbers += '=';
      numbers += std::to_string(*n.integer);
    } else {
      numbers += '~';
    }
    numbers += ' ';
  }
  CHECK(numbers == "1=1 -2.5e3~ 18446744073709551615=18446744073709551615 18446744073709551616~ ");
  REQUIRE(r.next_key(key).value());
  CHECK(key == "b\n\xC3\xA9\xF0\x9F\x98\x80");
  REQUIRE(r.begin_object());
  REQUIRE(r.next_key(key).value());
  CHECK(r.boolean().value());
  REQUIRE(r.next_key(key).value());
  CHECK_FALSE(r.boolean().value());
  REQUIRE(r.next_key(key).value());
  CHECK(r.peek() == json::Kind::null);
  CHECK(r.null());
  CHECK_FALSE(r.next_key(key).value());
  REQUIRE(r.next_key(key).value());
  REQUIRE(r.begin_object());
  CHECK_FALSE(r.next_key(key).value());
  REQUIRE(r.next_key(key).value());
  REQUIRE(r.begin_array());
  CHECK_FALSE(r.next_element().value());
  CHECK_FALSE(r.next_key(key).value());
  CHECK(r.finish());
}

TEST_CASE("nesting deeper than max_depth is an error, never a deep recursion") {
  const std::string deep(json::max_depth + 1, '[');
  json::Reader r(deep);
  for (std::size_t level = 0; level < json::max_depth; ++level) REQUIRE(r.begin_array());
  const auto too_deep = r.begin_array();
  REQUIRE_FALSE(too_deep);
  CHECK(too_deep.error().message == "invalid JSON at byte 64: nested deeper than 64 levels");
}

TEST_CASE("syntax errors say where and what") {
  const auto first_error = [](const std::string& text) {
    json::Reader r(text);
    std::string key;
    if (auto ok = r.begin_object(); !ok) return ok.error().message;
    while (true) {
      auto more = r.next_key(key);
      if (!more) return more.error().message;
      if (!*more) break;
      auto value = r.string();
      if (!value) return value.error().message;
    }
    auto done = r.finish();
    return done ? std::string("ok") : done.error().message;
  };
  CHECK(first_error(R"({"a": "b"})") == "ok");
  CHECK(first_error(R"([])") == "invalid JSON at byte 0: expected '{'");
  CHECK(first_error(R"({"a": "b",})") == "invalid JSON at byte 10: expected a string key");
  CHECK(first_error(R"({"a": "b" "c": "d"})") == "invalid JSON at byte 10: expected ',' or '}'");
  CHECK(first_error(R"({"a" "b"})") == "invalid JSON at byte 5: expected ':'");
  CHECK(first_error(R"({"a": "b"} {})") == "invalid JSON at byte 11: unexpected text after the JSON value");
  CHECK(first_error(R"({"a": "b)") == "invalid JSON at byte 8: unterminated string");
  CHECK(first_error(R"({"a": "\x"})") == "invalid JSON at byte 9: unknown escape");
  CHECK(first_error(R"({"a": "\u12G4"})") == "invalid JSON at byte 11: bad \\u escape");
  CHECK(first_error(R"({"a": "\udc00"})") == "invalid JSON at byte 13: unpaired surrogate in a \\u escape");
  CHECK(first_error(R"({"a": "\ud800\u0041"})") == "invalid JSON at byte 19: unpaired surrogate in a \\u escape");
  CHECK(first_error("{\"a\": \"\t\"}") == "invalid JSON at byte 7: control character in a string");
  CHECK(first_error("{\"a\": \"\xC1\xBF\"}") == "invalid JSON at byte 7: invalid UTF-8 in a string");       // overlong
  CHECK(first_error("{\"a\": \"\xE0\x80\xBF\"}") == "invalid JSON at byte 7: invalid UTF-8 in a string");   // overlong
  CHECK(first_error("{\"a\": \"\xED\xBF\xBF\"}") == "invalid JSON at byte 7: invalid UTF-8 in a string");   // surrogate
  CHECK(first_error("{\"a\": \"\xF4\x90\x80\x80\"}") == "invalid JSON at byte 7: invalid UTF-8 in a string");  // > U+10FFFF
  CHECK(first_error("{\"a\": \"\xE2\x82\"}") == "invalid JSON at byte 7: invalid UTF-8 in a string");       // cut short
  CHECK(first_error("{\"a\": \"\x80\"}") == "invalid JSON at byte 7: invalid UTF-8 in a string");           // lone continuation
  CHECK(first_error("{\"a\": \"\xE2\x82\xAC\xF0\x9F\x98\x80\"}") == "ok");
  CHECK(first_error(R"({"a": )") == "invalid JSON at byte 6: expected a string");
  CHECK(first_error(R"({)") == "invalid JSON at byte 1: unexpected end of input");
  CHECK(first_error(R"({"a": "b")") == "invalid JSON at byte 9: unexpected end of input");
  const auto number_error = [](const std::string& text) {
    json::Reader r(text);
    auto n = r.number();
    return n ? std::string(n->text) : n.error().message;
  };
  CHECK(number_error("-0.5e-7") == "-0.5e-7");
  CHECK(number_error("012") == "invalid JSON at byte 1: leading zeros are not allowed");
  CHECK(number_error("-") == "invalid JSON at byte 1: a number needs digits");
  CHECK(number_error("+1") == "invalid JSON at byte 0: expected a number");
  CHECK(number_error("1.") == "invalid JSON at byte 2: a fraction needs digits");
  CHECK(number_error("1e+") == "invalid JSON at byte 3: an exponent needs digits");
  json::Reader literal("nul");
  CHECK(literal.null().error().message == "invalid JSON at byte 0: expected null");
  json::Reader unbalanced("[1");
  REQUIRE(unbalanced.begin_array());
  REQUIRE(unbalanced.next_element().value());
  REQUIRE(unbalanced.number());
  CHECK(unbalanced.finish().error().message == "invalid JSON at byte 2: unexpected end of input");
}

TEST_CASE("quote escapes what JSON requires and nothing else") {
  CHECK(json::quote("a\"b\\c\n\x01\xC3\xA9/") == "\"a\\\"b\\\\c\\u000a\\u0001\xC3\xA9/\"");
}
