// libFuzzer harness: the Hugging Face config.json reader, the shard index reader and the llm.c
// header reader on arbitrary bytes. A config that parses is also checked against the typed
// configs of every family (the checks must return an Error, never crash or throw).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <forma/io/hf.hpp>
#include <forma/io/llmc.hpp>
#include <forma/models/presets.hpp>

namespace {
namespace hf = forma::io::hf;

// A static GPT-2 and a static Qwen2 config, so check_config compares every field.
constexpr auto static_gpt2 = forma::gpt2_decoder({.dim = 32, .layers = 2, .heads = 2, .vocab = 50257, .max_seq = 64});
constexpr auto static_qwen2 = forma::qwen2_decoder(
    {.dim = 64, .hidden = 128, .layers = 2, .heads = 4, .kv_heads = 2, .vocab = 512, .max_seq = 256});
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto config = hf::parse_config(text, "config.json"); config) {
    (void)hf::check_config<forma::presets::any_hf_llama>(*config);
    (void)hf::check_config<forma::presets::any_qwen2>(*config);
    (void)hf::check_config<forma::presets::any_gpt2>(*config);
    (void)hf::check_config<static_gpt2>(*config);
    (void)hf::check_config<static_qwen2>(*config);
    const auto& s = config->shape;
    if (s.dim == 0 || s.heads == 0 || s.layers == 0 || s.vocab == 0 || s.max_seq == 0) __builtin_trap();
  }
  (void)hf::Files::parse_index(text, "model.safetensors.index.json");
  (void)forma::io::llmc::parse_header(std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size),
                                      "model.bin");
  return 0;
}
