// examples/basic — the main demo: the shipped stories260K model tells a story.
//
// The model's shape is part of its type (forma::presets::stories260k), so every weight is a typed
// view and every op in the forward pass is shape-checked by the compiler. Loading checks the file
// against the type before anything runs.
//
//   basic [checkpoint.bin tokenizer.bin [prompt]]     (defaults: models/stories260K/)
#include <cstdio>
#include <string>

#include <forma/io/llama2c.hpp>
#include <forma/models/llama.hpp>
#include <forma/models/presets.hpp>
#include <forma/text/generate.hpp>

int main(int argc, char** argv) {
  // No arguments, or a checkpoint and a tokenizer (and a prompt): anything else would be ignored.
  if (argc == 2 || argc > 4) {
    std::fprintf(stderr, "usage: basic [checkpoint.bin tokenizer.bin [prompt]]\n");
    return 1;
  }
  const std::string checkpoint_path = argc > 2 ? argv[1] : FORMA_MODEL_DIR "/stories260K.bin";
  const std::string tokenizer_path = argc > 2 ? argv[2] : FORMA_MODEL_DIR "/tok512.bin";
  const std::string prompt = argc > 3 ? argv[3] : "";

  constexpr forma::LlamaConfig config = forma::presets::stories260k;
  auto checkpoint = forma::io::llama2c::load<config>(checkpoint_path);
  if (!checkpoint) {
    std::fprintf(stderr, "basic: %s\n", checkpoint.error().to_string().c_str());
    return 1;
  }
  auto tokenizer = forma::text::Tokenizer::load(tokenizer_path, config.vocab);
  if (!tokenizer) {
    std::fprintf(stderr, "basic: %s\n", tokenizer.error().to_string().c_str());
    return 1;
  }

  // The weights are typed views into the mapped file: wk is (layers, kv_dim, dim) = (5, 32, 64).
  const auto& weights = checkpoint->weights();
  static_assert(decltype(weights.wk)::static_extent(1) == config.kv_dim());
  // A shape error is a compile error. Uncomment to see it:
  //   forma::Vector<float, 72> wrong_width;
  //   auto k = forma::matvec(weights.wk[0], wrong_width);
  // error: static assertion failed: matvec: the vector's length differs from the matrix's
  //        columns (A is (M, K), x is (K)) — note: the comparison reduces to '(64 == 72)'

  forma::Llama<config> model(weights);
  forma::text::Sampler greedy(config.vocab, {.temperature = 0.0f});
  auto stats = forma::text::generate(model, *tokenizer, greedy, prompt, {.steps = 256},
                                     [](std::int32_t, std::string_view text, bool) {
                                       if (forma::text::Tokenizer::printable(text)) {
                                         std::fwrite(text.data(), 1, text.size(), stdout);
                                       }
                                     });
  if (!stats) {
    std::fprintf(stderr, "basic: %s\n", stats.error().to_string().c_str());
    return 1;
  }
  std::printf("\n");
  std::fprintf(stderr, "stories260K (dim %zu, %zu layers, %zu/%zu heads): %zu tokens, %.0f tok/s\n",
               config.dim, config.layers, config.heads, config.kv_heads, stats->positions,
               stats->tokens_per_second);
  return 0;
}
