// libFuzzer harness: the JSON pull reader walking arbitrary bytes as a schema-free document (every
// kind of value, nested to the reader's depth limit), then the same bytes as a safetensors header.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <forma/io/json.hpp>
#include <forma/io/safetensors.hpp>

namespace {

namespace json = forma::io::json;

forma::Result<void> walk(json::Reader& r) {
  switch (r.peek()) {
    case json::Kind::object: {
      if (auto ok = r.begin_object(); !ok) return ok;
      std::string key;
      while (true) {
        auto more = r.next_key(key);
        if (!more) return std::move(more).error();
        if (!*more) return {};
        if (auto ok = walk(r); !ok) return ok;
      }
    }
    case json::Kind::array: {
      if (auto ok = r.begin_array(); !ok) return ok;
      while (true) {
        auto more = r.next_element();
        if (!more) return std::move(more).error();
        if (!*more) return {};
        if (auto ok = walk(r); !ok) return ok;
      }
    }
    case json::Kind::string: {
      auto text = r.string();
      if (!text) return std::move(text).error();
      return {};
    }
    case json::Kind::number: {
      auto number = r.number();
      if (!number) return std::move(number).error();
      if (number->integer && number->text.find_first_of(".eE-") != std::string_view::npos) std::abort();
      return {};
    }
    case json::Kind::boolean: {
      auto flag = r.boolean();
      if (!flag) return std::move(flag).error();
      return {};
    }
    case json::Kind::null: return r.null();
    case json::Kind::none: break;
  }
  return json::Reader::error_at(r.position(), "no value");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  json::Reader reader(text);
  if (walk(reader)) (void)reader.finish();
  // The same text as a safetensors header with no data section.
  std::string file(8, '\0');
  const std::uint64_t length = size;
  std::memcpy(file.data(), &length, 8);
  file.append(text);
  (void)forma::io::Safetensors::parse(std::span<const std::byte>(reinterpret_cast<const std::byte*>(file.data()), file.size()));
  return 0;
}
