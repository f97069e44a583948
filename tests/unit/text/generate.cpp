// Unit tests: generation and chat over small deterministic models and the tok512 tokenizer,
// against a plain transcription of run.c's loops, with exact streamed text and stop behaviour.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <forma/core/error.hpp>
#include <forma/core/tensor.hpp>
#include <forma/ops/copy.hpp>
#include <forma/text.hpp>

#include "text_support.hpp"

using forma::text::Sampler;
using forma::text::Tokenizer;
using text_test::tok512;

namespace {

// A model whose next token is a fixed function of the position: script[pos] (greedy picks it).
// Returns a Result of a TensorView, as forma's Llama does.
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

// Pseudo-random logits that depend on the token and the position, returned as a plain span (no
// Result). BOS gets a large logit at `bos_at` so that sampling stops there.
struct NoisyModel {
  std::size_t max_seq = 256;
  std::size_t bos_at = 1000;
  std::vector<float> logits = std::vector<float>(512);
  std::vector<std::pair<std::int32_t, std::size_t>> seen;

  std::span<const float> forward(std::int32_t token, std::size_t position) {
    seen.emplace_back(token, position);
    for (std::size_t i = 0; i < logits.size(); ++i) {
      logits[i] = 4.0f * std::sin(static_cast<float>(token) * 0.37f + static_cast<float>(position) * 1.3f +
                                  static_cast<float>(i) * 0.71f);
    }
    if (position == bos_at) logits[1] = 100.0f;
    return logits;
  }
  std::size_t vocab_size() const { return 512; }
  std::size_t max_sequence() const { return max_seq; }
};
static_assert(forma::text::causal_lm<NoisyModel>);

// The same model with a batched prefill that runs the positions one by one.
struct PrefillNoisyModel : NoisyModel {
  std::size_t prefill_calls = 0;
  forma::Result<std::span<const float>> prefill(std::span<const std::int32_t> tokens, std::size_t position) {
    ++prefill_calls;
    std::span<const float> last;
    for (std::size_t i = 0; i < tokens.size(); ++i) last = forward(tokens[i], position + i);
    return last;
  }
};
static_assert(forma::text::prefill_lm<PrefillNoisyModel>);

// run.c's generate(), transcribed as plainly as possible: the reference for forma's.
template <class Model>
std::string run_c_generate(Model& model, const Tokenizer& tokenizer, Sampler& sampler, std::string_view prompt,
                           std::size_t steps) {
  const auto prompt_tokens = tokenizer.encode(prompt, true, false).value();
  std::string out;
  std::int32_t token = prompt_tokens[0];
  std::int32_t next = 0;
  std::size_t pos = 0;
  while (pos < steps) {
    auto logits = model.forward(token, pos);
    std::vector<float> work(logits.begin(), logits.end());
    if (pos < prompt_tokens.size() - 1) {
      next = prompt_tokens[pos + 1];
    } else {
      next = sampler.sample(work);
    }
    ++pos;
    if (next == 1) break;
    out += Tokenizer::safe_piece(tokenizer.decode(token, next).value());
    token = next;
  }
  return out + "\n";
}

template <class Model>
std::string forma_generate(Model& model, Sampler& sampler, std::string_view prompt, std::size_t steps,
                           forma::text::GenerationStats* stats_out = nullptr) {
  std::string out;
  auto stats = forma::text::generate(model, tok512(), sampler, prompt, {.steps = steps, .stop_at_eos = false},
                                     [&](std::int32_t, std::string_view piece, bool) {
                                       out += Tokenizer::safe_piece(piece);
                                     });
  REQUIRE(stats);
  if (stats_out) *stats_out = *stats;
  return out + "\n";
}

std::string run_scripted(ScriptedModel& model, std::string_view prompt, forma::text::GenerateOptions options,
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
  // No prompt: BOS at position 0, then 5 sampled tokens; "the" right after BOS loses its space.
  CHECK(run_scripted(model, "", {.steps = 5}, &stats) == "the Lily the Lily the");
  CHECK(stats.prompt_tokens == 1);
  CHECK(stats.generated_tokens == 5);
  CHECK(stats.positions == 5);
  CHECK(model.seen.size() == 5);  // positions 0..4; the token sampled at the last one is not run
  CHECK(model.seen.front() == std::pair<std::int32_t, std::size_t>{1, 0});
  CHECK(stats.time_to_first_token >= 0.0);

  // A prompt is fed first, its own tokens streamed as well (run.c prints them).
  model.seen.clear();
  const auto prompt = tok512().encode("Once upon", true, false).value();
  REQUIRE(prompt == std::vector<std::int32_t>{1, 403, 407});
  // Positions 0, 1 are forced (" Once", " upon"); sampling starts at position 2: script[2 % 2].
  CHECK(run_scripted(model, "Once upon", {.steps = 6}, &stats) == "Once upon the Lily the Lily");
  CHECK(stats.prompt_tokens == prompt.size());
  CHECK(stats.generated_tokens == 4);
  CHECK(model.seen[1] == std::pair<std::int32_t, std::size_t>{prompt[1], 1});
  CHECK(model.seen[2] == std::pair<std::int32_t, std::size_t>{prompt[2], 2});
}

TEST_CASE("generation stops at BOS, and at EOS unless told to run on like run.c") {
  const std::int32_t the = tok512().find(" the");
  ScriptedModel to_bos({the, the, forma::text::bos_token});
  forma::text::GenerationStats stats;
  CHECK(run_scripted(to_bos, "", {.steps = 10}, &stats) == "the the");
  CHECK(stats.positions == 3);  // run.c's pos after the BOS step
  ScriptedModel to_eos({the, forma::text::eos_token, the});
  CHECK(run_scripted(to_eos, "", {.steps = 4}) == "the");
  ScriptedModel past_eos({the, forma::text::eos_token, the});
  CHECK(run_scripted(past_eos, "", {.steps = 4, .stop_at_eos = false}) == "the\n</s>\n the the");
}

TEST_CASE("sampled generation equals run.c's loop, with and without a prompt, decode and prefill") {
  const std::vector<std::pair<std::string, std::size_t>> requests{
      {"", 40}, {"Once upon a time", 60}, {"Lily and Tim", 5}, {"Once upon a time there was", 3}, {"", 1}};
  for (const auto& request : requests) {
    const std::string& prompt = request.first;  // (clang 14 cannot capture structured bindings)
    const std::size_t steps = request.second;
    for (const std::uint64_t seed : {1u, 42u, 133742u}) {
      INFO("prompt '" << prompt << "', steps " << steps << ", seed " << seed);
      NoisyModel reference_model;
      Sampler reference_sampler(512, {.temperature = 1.0f, .top_p = 0.9f, .seed = seed});
      const std::string expected = run_c_generate(reference_model, tok512(), reference_sampler, prompt, steps);
      NoisyModel model;
      Sampler sampler(512, {.temperature = 1.0f, .top_p = 0.9f, .seed = seed});
      CHECK(forma_generate(model, sampler, prompt, steps) == expected);
      CHECK(model.seen == reference_model.seen);
      PrefillNoisyModel batched;
      Sampler batched_sampler(512, {.temperature = 1.0f, .top_p = 0.9f, .seed = seed});
      CHECK(forma_generate(batched, batched_sampler, prompt, steps) == expected);
      CHECK(batched.prefill_calls == 1);
      CHECK(batched.seen == reference_model.seen);
      CHECK(batched_sampler.rng().state() == reference_sampler.rng().state());
    }
  }
  // A sampled BOS ends it, as in run.c.
  NoisyModel reference_model;
  reference_model.bos_at = 7;
  Sampler reference_sampler(512, {.temperature = 0.0f});
  const std::string expected = run_c_generate(reference_model, tok512(), reference_sampler, "Once", 50);
  NoisyModel model;
  model.bos_at = 7;
  Sampler greedy(512, {.temperature = 0.0f});
  forma::text::GenerationStats stats;
  CHECK(forma_generate(model, greedy, "Once", 50, &stats) == expected);
  CHECK(stats.positions == 8);
}

TEST_CASE("a prompt longer than the steps is streamed up to the limit, nothing sampled") {
  ScriptedModel model({tok512().find(" the")});
  forma::text::GenerationStats stats;
  const auto prompt = tok512().encode("Once upon a time there was", true, false).value();
  REQUIRE(prompt.size() > 4);
  const std::string text = run_scripted(model, "Once upon a time there was", {.steps = 3}, &stats);
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
  CHECK(too_many.error().code == forma::errc::invalid_argument);
  CHECK(too_many.error().message == "generate: 5 steps exceed the model's max_seq of 4");
  auto too_long = forma::text::generate(model, tok512(), greedy, "Once upon a time there was a girl", {.steps = 4}, ignore);
  REQUIRE_FALSE(too_long);
  CHECK(too_long.error().code == forma::errc::capacity);
  CHECK(too_long.error().message == "generate: the prompt has " +
                                        std::to_string(tok512().encode("Once upon a time there was a girl", true).value().size()) +
                                        " tokens, more than the model's max_seq of 4");
  auto zero = forma::text::generate(model, tok512(), greedy, "", {.steps = 0}, ignore);  // 0 = max_seq
  REQUIRE(zero);
  CHECK(zero->positions == 4);
  Sampler wrong_sampler(32000, {.temperature = 0.0f});
  auto mismatch = forma::text::generate(model, tok512(), wrong_sampler, "", {.steps = 2}, ignore);
  REQUIRE_FALSE(mismatch);
  CHECK(mismatch.error().message == "generate: the sampler is for 32000 tokens, the model's vocabulary has 512");
  auto wrong_tokenizer = forma::text::generate(model, text_test::llama2(), greedy, "", {.steps = 2}, ignore);
  REQUIRE_FALSE(wrong_tokenizer);
  CHECK(wrong_tokenizer.error().message == "generate: the tokenizer has 32000 tokens, the model's vocabulary has 512");
}

TEST_CASE("a model's error stops generation and comes back") {
  struct FailingModel {
    forma::Vector<float, forma::dyn> logits{512};
    forma::Result<forma::TensorView<const float, forma::extents<forma::dyn>>> forward(std::int32_t, std::size_t position) {
      if (position == 3) return forma::make_error(forma::errc::capacity, "kv cache full at position 3");
      return logits.view().as_const();
    }
    std::size_t vocab_size() const { return 512; }
    std::size_t max_sequence() const { return 16; }
  } model;
  Sampler greedy(512, {.temperature = 0.0f});
  std::size_t streamed = 0;
  auto result = forma::text::generate(model, tok512(), greedy, "", {.steps = 10},
                                      [&](std::int32_t, std::string_view, bool) { ++streamed; });
  REQUIRE_FALSE(result);
  CHECK(result.error().message == "kv cache full at position 3");
  CHECK(streamed == 3);
}

TEST_CASE("the Llama 2 chat template, as run.c renders it") {
  using forma::text::llama2_chat_prompt;
  CHECK(llama2_chat_prompt("be brief", "hello", true) == "[INST] <<SYS>>\nbe brief\n<</SYS>>\n\nhello [/INST]");
  CHECK(llama2_chat_prompt("", "hello", true) == "[INST] hello [/INST]");
  CHECK(llama2_chat_prompt("be brief", "again", false) == "[INST] again [/INST]");
}

namespace {
// Answers " Hi there" then EOS after the end of a prompt ("]"), and " the" after EOS.
struct ChatModel {
  ChatModel(std::int32_t close_token, std::int32_t hi_token, std::int32_t there_token, std::int32_t the_token)
      : close(close_token), hi(hi_token), there(there_token), the(the_token) {}
  std::int32_t close, hi, there, the;
  std::size_t max_seq = 512;
  forma::Vector<float, forma::dyn> logits{512};
  std::vector<std::int32_t> fed;

  forma::Result<forma::TensorView<const float, forma::extents<forma::dyn>>> forward(std::int32_t token, std::size_t) {
    fed.push_back(token);
    std::int32_t next = the;
    if (token == close) next = hi;
    if (token == hi) next = there;
    if (token == there) next = forma::text::eos_token;
    forma::fill(logits, 0.0f);
    logits(static_cast<std::size_t>(next)) = 10.0f;
    return logits.view().as_const();
  }
  std::size_t vocab_size() const { return 512; }
  std::size_t max_sequence() const { return max_seq; }
};

struct ChatRun {
  std::string output;
  forma::Result<forma::text::GenerationStats> stats = forma::text::GenerationStats{};
};

ChatRun run_chat(ChatModel& model, std::deque<std::string> input, forma::text::ChatOptions options) {
  Sampler greedy(512, {.temperature = 0.0f});
  ChatRun run;
  run.stats = forma::text::chat(
      model, tok512(), greedy, std::move(options),
      [&](std::string_view guide) -> std::optional<std::string> {
        run.output += guide;
        if (input.empty()) return std::nullopt;
        std::string line = input.front();
        input.pop_front();
        return line;
      },
      [&](std::string_view text) { run.output += text; });
  return run;
}
}  // namespace

TEST_CASE("chat takes turns like run.c: the transcript, the fed tokens, the end of input") {
  const auto& t = tok512();
  const auto first = t.encode("[INST] <<SYS>>\nbe brief\n<</SYS>>\n\nhello [/INST]", true).value();
  const auto second = t.encode("[INST] again [/INST]", true).value();
  REQUIRE(first.back() == second.back());
  ChatModel model{first.back(), t.find(" H"), t.find(" day"), t.find(" the")};
  // " H" / " day" stand in for " Hi" / " there": any reply pieces do.
  REQUIRE(model.hi > 0);
  REQUIRE(model.there > 0);
  const auto run = run_chat(model, {"be brief", "hello", "again"}, {.steps = 200});
  REQUIRE(run.stats);
  // After EOS run.c feeds EOS and prints the piece sampled after it (" the") before the next turn.
  const std::string reply = "Assistant:  H day\n the";
  CHECK(run.output == "Enter system prompt (optional): User: " + reply + "User: " + reply + "User: \n");
  std::vector<std::int32_t> expected_fed = first;
  expected_fed.insert(expected_fed.end(), {model.hi, model.there, forma::text::eos_token});
  expected_fed.insert(expected_fed.end(), second.begin(), second.end());
  expected_fed.insert(expected_fed.end(), {model.hi, model.there, forma::text::eos_token});
  CHECK(model.fed == expected_fed);
  CHECK(run.stats->positions == expected_fed.size());
  CHECK(run.stats->prompt_tokens == first.size() + second.size());
}

TEST_CASE("chat with prompts from the command line, run.c's reuse of the last line, the step limit") {
  const auto& t = tok512();
  const auto only_user = t.encode("[INST] hi [/INST]", true).value();
  ChatModel model{only_user.back(), t.find(" H"), t.find(" day"), t.find(" the")};
  // -y "" -i hi: nothing is read for the first turn; an empty system prompt adds no <<SYS>>.
  // At the end of the input run.c reads its old buffer again: "hi" turn after turn until the
  // steps run out.
  const std::size_t steps = 3 * (only_user.size() + 3) + 5;
  const auto run = run_chat(model, {}, {.steps = steps, .user_prompt = "hi", .system_prompt = "",
                                        .at_end_of_input = forma::text::ChatEndOfInput::reuse_previous});
  REQUIRE(run.stats);
  const std::string reply = "Assistant:  H day\n the";
  CHECK(run.output == reply + "User: " + reply + "User: " + reply + "User: Assistant: \n");
  CHECK(run.stats->positions == steps);
  CHECK(model.fed.size() == steps);
  // Stopping at the end of input instead.
  ChatModel stopping{only_user.back(), t.find(" H"), t.find(" day"), t.find(" the")};
  const auto stopped = run_chat(stopping, {}, {.steps = steps, .user_prompt = "hi", .system_prompt = ""});
  REQUIRE(stopped.stats);
  CHECK(stopped.output == reply + "User: \n");
}

TEST_CASE("chat errors: too many steps, a vocabulary mismatch") {
  ChatModel model{5, 6, 7, 8};
  model.max_seq = 10;
  const auto run = run_chat(model, {"x"}, {.steps = 11});
  REQUIRE_FALSE(run.stats);
  CHECK(run.stats.error().message == "chat: 11 steps exceed the model's max_seq of 10");
  CHECK(run.output.empty());
}

TEST_CASE("run.c's stdin lines: fgets in 512-byte pieces, newline dropped, cut at NUL") {
  std::FILE* file = std::tmpfile();
  REQUIRE(file != nullptr);
  const std::string long_line(600, 'x');
  const std::string content = "short\n" + long_line + "\n" + std::string("a\0b\n", 4) + "last";
  std::fwrite(content.data(), 1, content.size(), file);
  std::rewind(file);
  using forma::text::read_line_like_run_c;
  CHECK(read_line_like_run_c(file) == std::optional<std::string>("short"));
  CHECK(read_line_like_run_c(file) == std::optional<std::string>(std::string(511, 'x')));
  CHECK(read_line_like_run_c(file) == std::optional<std::string>(std::string(89, 'x')));
  CHECK(read_line_like_run_c(file) == std::optional<std::string>("a"));
  CHECK(read_line_like_run_c(file) == std::optional<std::string>("last"));
  CHECK(read_line_like_run_c(file) == std::nullopt);
  std::fclose(file);
}

TEST_CASE("on_token returning false stops generation, and the stats say why generation stopped") {
  const std::int32_t the = tok512().find(" the");
  const std::int32_t lily = tok512().find(" Lily");
  Sampler greedy(512, {.temperature = 0.0f});
  forma::text::GenerationStats stats;
  ScriptedModel endless({the, lily});
  run_scripted(endless, "", {.steps = 5}, &stats);
  CHECK(stats.stopped == forma::text::stop_reason::steps);
  ScriptedModel to_bos({the, the, forma::text::bos_token});
  run_scripted(to_bos, "", {.steps = 10}, &stats);
  CHECK(stats.stopped == forma::text::stop_reason::end_token);
  ScriptedModel to_eos({the, forma::text::eos_token, the});
  run_scripted(to_eos, "", {.steps = 4}, &stats);
  CHECK(stats.stopped == forma::text::stop_reason::end_token);

  // A caller that leaves after two sampled tokens: nothing more is streamed or run.
  ScriptedModel model({the, lily});
  std::string text;
  int calls = 0;
  auto stopped = forma::text::generate(model, tok512(), greedy, "", {.steps = 20},
                                       [&](std::int32_t, std::string_view piece, bool) {
                                         text += piece;
                                         return ++calls < 2;
                                       });
  REQUIRE(stopped);
  CHECK(text == "the Lily");
  CHECK(stopped->stopped == forma::text::stop_reason::caller);
  CHECK(stopped->generated_tokens == 2);
  CHECK(model.seen.size() == 2);  // positions 0 and 1; the next position is never run

  // It may stop during the prompt's tokens too.
  ScriptedModel prompted({the});
  calls = 0;
  auto in_prompt = forma::text::generate(prompted, tok512(), greedy, "Once upon", {.steps = 20},
                                         [&](std::int32_t, std::string_view, bool from_prompt) {
                                           CHECK(from_prompt);
                                           return ++calls < 1;
                                         });
  REQUIRE(in_prompt);
  CHECK(calls == 1);
  CHECK(in_prompt->stopped == forma::text::stop_reason::caller);
  CHECK(in_prompt->generated_tokens == 0);
}
