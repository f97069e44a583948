// libFuzzer harness: the JSON reader on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <forma/io/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto value = forma::io::json::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (value && value->is_object()) (void)value->find("dtype");
  return 0;
}
