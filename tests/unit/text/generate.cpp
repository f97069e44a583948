// Unit tests: generation and chat over a small deterministic fake model and the tok512 tokenizer.
#include <doctest/doctest.h>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include <forma/core/error.hpp>
#include <forma/core/tensor.hpp>
#include <forma/ops/copy.hpp>
#include <forma/text/generate.hpp>

using forma::text::Sampler;
using forma::text::Tokenizer;

namespace {

const Tokenizer& tok512() {
  static const Tokenizer t = Tokenizer::load(FORMA_SOURCE_DIR "/models/stories260K/tok512.bin").value();
  return t;
}

// A model whose next token is a fixed function of the position: script[pos] (greedy picks it).
struct ScriptedModel {
  explicit ScriptedModel(std::vector<std::int32_t> tokens) : script(std::move(tokens)) {}
  std::vector<std::int32_t> script;
  std::size_t max_seq = 64;
  forma::Vector<float, forma::dyn> logits{512};
  std::vector<std::pair<std::int32_t, std::size_t>> seen;  // (token, position) fed in

  forma::Result<forma::TensorView<const float, forma::extents<forma::dyn>>> forward(std::int32_t token,
                                                                                    std::size_t position) {
    seen.emplace_back(token, position);
    forma::fill(logits, 0.0f);
    logits(static_cast<std::size_t>(script[position % script.size()])) = 10.0f;
    return logits.view().as_const();
  }
  std::size_t vocab_size() const { return 512; }
  std::size_t max_sequence() const { return max_seq; }
};
static_assert(forma::text::causal_lm<ScriptedModel>);
static_assert(!forma::text::prefill_lm<ScriptedModel>);

std::string run(ScriptedModel& model, std::string_view prompt, forma::text::GenerateOptions options,
                forma::text::GenerationStats* stats_out = nullptr) {
  Sampler greedy(512, {.temperature = 0.0f});
  std::string text;
  auto stats = forma::text::generate(model, tok512(), greedy, prompt, options,
                                     [&](std::int32_t, std::string_view piece, bool) { text += piece; });
  REQUIRE(stats);
  if (stats_out) *stats_out = *stats;
  return text;
}

}  // namespace

TEST_CASE("generation streams every token after BOS, prompt included, up to the step limit") {
  const std::int32_t the = tok512().find(" the");
  const std::int32_t lily = tok512().find(" Lily");
  REQUIRE(the > 0);
  REQUIRE(lily > 0);
  ScriptedModel model({the, lily});
  forma::text::GenerationStats stats;
  // No prompt: BOS at position 0, then 4 sampled tokens; "the" right after BOS loses its space.
  CHECK(run(model, "", {.steps = 5}, &stats) == "the Lily the Lily the");
  CHECK(stats.prompt_tokens == 1);
  CHECK(stats.generated_tokens == 5);
  CHECK(stats.positions == 5);
  CHECK(model.seen.size() == 5);
  CHECK(model.seen.front() == std::pair<std::int32_t, std::size_t>{1, 0});

  // A prompt is fed first, its own tokens streamed as well (run.c prints them).
  model.seen.clear();
  const auto prompt = tok512().encode("Once upon", true, false).value();
  REQUIRE(prompt == std::vector<std::int32_t>{1, 403, 407});
  // Positions 0, 1 are forced (" Once", " upon"); sampling starts at position 2: script[2 % 2].
  CHECK(run(model, "Once upon", {.steps = 6}, &stats) == "Once upon the Lily the Lily");
  CHECK(stats.prompt_tokens == prompt.size());
  CHECK(model.seen[1].first == prompt[1]);
}

TEST_CASE("generation stops at BOS; at EOS too unless told to run on like run.c") {
  const std::int32_t the = tok512().find(" the");
  ScriptedModel to_bos({the, the, forma::text::bos_token});
  CHECK(run(to_bos, "", {.steps = 10}) == "the the");
  ScriptedModel to_eos({the, forma::text::eos_token, the});
  CHECK(run(to_eos, "", {.steps = 4}) == "the");
  ScriptedModel past_eos({the, forma::text::eos_token, the});
  CHECK(run(past_eos, "", {.steps = 4, .stop_at_eos = false}) == "the\n</s>\n the the");
}

TEST_CASE("a prompt longer than the steps is streamed up to the limit, nothing sampled") {
  ScriptedModel model({tok512().find(" the")});
  forma::text::GenerationStats stats;
  const auto prompt = tok512().encode("Once upon a time there was", true, false).value();
  REQUIRE(prompt.size() > 3);
  const std::string text = run(model, "Once upon a time there was", {.steps = 3}, &stats);
  CHECK(text == tok512().decode_all(std::span<const std::int32_t>(prompt).subspan(1, 3)).value());
  CHECK(stats.generated_tokens == 0);
  CHECK(stats.positions == 3);
}

TEST_CASE("bad requests are Errors naming the limit") {
  ScriptedModel model({5});
  model.max_seq = 4;
  Sampler greedy(512, {.temperature = 0.0f});
  const auto ignore = [](std::int32_t, std::string_view, bool) {};
  auto too_many = forma::text::generate(model, tok512(), greedy, "", {.steps = 5}, ignore);
  REQUIRE_FALSE(too_many);
  CHECK(too_many.error().message == "generate: 5 steps exceed the model's max_seq of 4");
  auto too_long = forma::text::generate(model, tok512(), greedy, "Once upon a time there was a girl", {.steps = 4}, ignore);
  REQUIRE_FALSE(too_long);
  CHECK(too_long.error().code == forma::errc::capacity);
  CHECK(too_long.error().message.starts_with("generate: the prompt has "));
  auto zero = forma::text::generate(model, tok512(), greedy, "", {.steps = 0}, ignore);  // 0 = max_seq
  REQUIRE(zero);
  CHECK(zero->positions == 4);
}

TEST_CASE("chat renders the Llama 2 template and takes turns like run.c") {
  // The model answers " the" twice then EOS, forever.
  const std::int32_t the = tok512().find(" the");
  ScriptedModel model({the, the, forma::text::eos_token});
  model.max_seq = 512;
  Sampler greedy(512, {.temperature = 0.0f});
  std::deque<std::string> input{"be brief", "hello", "again"};
  std::string output;
  auto done = forma::text::chat(
      model, tok512(), greedy, {.steps = 120},
      [&](std::string_view guide) -> std::optional<std::string> {
        output += guide;
        if (input.empty()) return std::nullopt;
        std::string line = input.front();
        input.pop_front();
        return line;
      },
      [&](std::string_view text) { output += text; });
  REQUIRE(done);
  // The first prompt fed to the model is the rendered system + user template.
  const auto rendered = tok512().encode("[INST] <<SYS>>\nbe brief\n<</SYS>>\n\nhello [/INST]", true, false).value();
  REQUIRE(model.seen.size() >= rendered.size());
  for (std::size_t i = 0; i < rendered.size(); ++i) CHECK(model.seen[i].first == rendered[i]);
  CHECK(output.starts_with("Enter system prompt (optional): User: Assistant: "));
  CHECK(output.find("User: Assistant: ") != std::string::npos);  // the second turn
  CHECK(output.ends_with("\n"));
}
