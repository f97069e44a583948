// forma/text/generate.hpp — text generation and Llama 2 chat, as llama2.c's run.c runs them.
//
// generate(): encode the prompt with BOS, run it (as one batched prefill when the model has one —
// the logits are identical), then sample token after token until the step limit or BOS (and EOS,
// unless told to run on like run.c), streaming every token's text through a callback — the
// prompt's tokens too, as run.c prints them. Reports time to first token and tokens per second.
// chat(): run.c's chat loop and Llama 2 chat template, reading user turns through a callback.
#pragma once

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "forma/core/error.hpp"
#include "forma/text/sampler.hpp"
#include "forma/text/tokenizer.hpp"

namespace forma::text {

// A causal language model: logits for a token at a position (earlier positions already run).
template <class M>
concept causal_lm = requires(M& model, std::int32_t token, std::size_t position) {
  { model.forward(token, position).has_value() } -> std::convertible_to<bool>;
  { model.forward(token, position)->data() } -> std::convertible_to<const float*>;
  { model.vocab_size() } -> std::convertible_to<std::size_t>;
  { model.max_sequence() } -> std::convertible_to<std::size_t>;
};

// A model that can also run several prompt tokens in one batched step.
template <class M>
concept prefill_lm = causal_lm<M> && requires(M& model, std::span<const std::int32_t> tokens) {
  { model.prefill(tokens, std::size_t{0}).has_value() } -> std::convertible_to<bool>;
};

struct GenerateOptions {
  std::size_t steps = 256;   // positions to run, prompt included; 0 = the model's max_seq
  bool stop_at_eos = true;   // run.c stops at BOS only; set false for byte-identical output
};

struct GenerationStats {
  std::size_t prompt_tokens = 0;     // tokens of the encoded prompt, BOS included
  std::size_t generated_tokens = 0;  // tokens sampled
  std::size_t positions = 0;         // positions run (run.c's final pos)
  double time_to_first_token = 0;    // seconds from the start to the first sampled token
  double tokens_per_second = 0;      // run.c's figure: (positions − 1) / time after the first
};

namespace detail {
using clock = std::chrono::steady_clock;
inline double seconds_since(clock::time_point start) {
  return std::chrono::duration<double>(clock::now() - start).count();
}

template <class M>
Result<std::span<const float>> logits_of(M& model, std::int32_t token, std::size_t position) {
  auto logits = model.forward(token, position);
  if (!logits) return std::move(logits).error();
  return std::span<const float>(logits->data(), model.vocab_size());
}
}  // namespace detail

// on_token(std::int32_t token, std::string_view text, bool from_prompt) is called for every token
// after the first, with its decoded text (run.c prints it when Tokenizer::printable(text)).
template <causal_lm M, class OnToken>
Result<GenerationStats> generate(M& model, const Tokenizer& tokenizer, Sampler& sampler,
                                 std::string_view prompt, GenerateOptions options,
                                 OnToken&& on_token) {
  const std::size_t max_seq = model.max_sequence();
  const std::size_t steps = options.steps == 0 ? max_seq : options.steps;
  if (steps > max_seq) {
    return make_error(errc::invalid_argument, "generate: " + std::to_string(steps) +
                                                  " steps exceed the model's max_seq of " +
                                                  std::to_string(max_seq));
  }
  if (tokenizer.vocab_size() != model.vocab_size()) {
    return make_error(errc::shape_mismatch, "generate: the tokenizer has " +
                                                std::to_string(tokenizer.vocab_size()) +
                                                " tokens, the model's vocabulary has " +
                                                std::to_string(model.vocab_size()));
  }
  std::vector<std::int32_t> prompt_tokens;
  if (auto encoded = tokenizer.encode(prompt, true, false, prompt_tokens); !encoded) {
    return std::move(encoded).error();
  }
  if (prompt_tokens.size() > max_seq) {
    return make_error(errc::capacity, "generate: the prompt has " +
                                          std::to_string(prompt_tokens.size()) +
                                          " tokens, more than the model's max_seq of " +
                                          std::to_string(max_seq));
  }
  GenerationStats stats;
  stats.prompt_tokens = prompt_tokens.size();
  std::vector<float> work(model.vocab_size());
  const auto started = detail::clock::now();
  detail::clock::time_point after_first{};

  // The prompt: positions whose next token is forced (the prompt's own), streamed as run.c
  // prints them. The model runs the prompt's positions in one prefill when it can; the logits
  // of the last one start the sampling.
  const std::size_t forced = std::min(prompt_tokens.size() - 1, steps);
  const std::size_t prompt_positions = std::min(prompt_tokens.size(), steps);
  std::span<const float> logits;
  if constexpr (prefill_lm<M>) {
    auto last = model.prefill(std::span<const std::int32_t>(prompt_tokens).first(prompt_positions), 0);
    if (!last) return std::move(last).error();
    logits = std::span<const float>(last->data(), model.vocab_size());
  } else {
    for (std::size_t pos = 0; pos < prompt_positions; ++pos) {
      auto step = detail::logits_of(model, prompt_tokens[pos], pos);
      if (!step) return std::move(step).error();
      logits = *step;
    }
  }
  std::int32_t token = prompt_tokens[0];
  std::size_t pos = 0;
  for (; pos < forced; ++pos) {
    const std::int32_t next = prompt_tokens[pos + 1];
    if (next == bos_token) {
      stats.positions = pos + 1;
      return stats;
    }
    auto text = tokenizer.decode(token, next);
    if (!text) return std::move(text).error();
    on_token(next, *text, true);
    token = next;
    if (pos == 0) after_first = detail::clock::now();
  }
  // Sampling: the logits of position pos are in hand; choose, stream, run the next position.
  while (pos < steps) {
    std::copy(logits.begin(), logits.end(), work.begin());
    const std::int32_t next = sampler.sample(work);
    if (stats.generated_tokens == 0) stats.time_to_first_token = detail::seconds_since(started);
    ++stats.generated_tokens;
    ++pos;
    if (next == bos_token || (options.stop_at_eos && next == eos_token)) break;
    auto text = tokenizer.decode(token, next);
    if (!text) return std::move(text).error();
    on_token(next, *text, false);
    token = next;
    if (after_first == detail::clock::time_point{}) after_first = detail::clock::now();
    if (pos >= steps) break;
    auto step = detail::logits_of(model, token, pos);
    if (!step) return std::move(step).error();
    logits = *step;
  }
  stats.positions = pos;
  if (stats.positions > 1 && after_first != detail::clock::time_point{}) {
    const double elapsed = detail::seconds_since(after_first);
    stats.tokens_per_second = elapsed > 0 ? static_cast<double>(stats.positions - 1) / elapsed : 0;
  }
  return stats;
}

struct ChatOptions {
  std::size_t steps = 256;                  // positions to run over the whole conversation
  std::optional<std::string> user_prompt = std::nullopt;    // the first user turn (else read)
  std::optional<std::string> system_prompt = std::nullopt;  // else read once at the start
};

// run.c's chat loop. read_line(guide) → std::optional<std::string>: prints the guide and reads a
// line without its newline (nullopt at end of input, which ends the chat). write(text) receives
// everything run.c prints to stdout, in order.
template <causal_lm M, class ReadLine, class Write>
Result<void> chat(M& model, const Tokenizer& tokenizer, Sampler& sampler, ChatOptions options,
                  ReadLine&& read_line, Write&& write) {
  const std::size_t max_seq = model.max_sequence();
  const std::size_t steps = options.steps == 0 ? max_seq : options.steps;
  if (steps > max_seq) {
    return make_error(errc::invalid_argument, "chat: " + std::to_string(steps) +
                                                  " steps exceed the model's max_seq of " +
                                                  std::to_string(max_seq));
  }
  std::vector<float> work(model.vocab_size());
  std::vector<std::int32_t> prompt_tokens;
  std::string system_prompt, user_prompt;
  std::size_t user_index = 0;
  bool user_turn = true;
  std::int32_t next = 0;
  for (std::size_t pos = 0; pos < steps;) {
    if (user_turn) {
      if (pos == 0) {
        if (options.system_prompt) {
          system_prompt = *options.system_prompt;
        } else {
          auto line = read_line(std::string_view("Enter system prompt (optional): "));
          system_prompt = line ? *line : std::string();
        }
      }
      if (pos == 0 && options.user_prompt) {
        user_prompt = *options.user_prompt;
      } else {
        auto line = read_line(std::string_view("User: "));
        if (!line) break;
        user_prompt = *line;
      }
      const std::string rendered =
          pos == 0 && !system_prompt.empty()
              ? "[INST] <<SYS>>\n" + system_prompt + "\n<</SYS>>\n\n" + user_prompt + " [/INST]"
              : "[INST] " + user_prompt + " [/INST]";
      if (auto encoded = tokenizer.encode(rendered, true, false, prompt_tokens); !encoded) {
        return std::move(encoded).error();
      }
      user_index = 0;
      user_turn = false;
      write(std::string_view("Assistant: "));
    }
    const std::int32_t token = user_index < prompt_tokens.size() ? prompt_tokens[user_index++] : next;
    if (token == eos_token) user_turn = true;
    auto logits = detail::logits_of(model, token, pos);
    if (!logits) return std::move(logits).error();
    std::copy(logits->begin(), logits->end(), work.begin());
    next = sampler.sample(work);
    ++pos;
    if (user_index >= prompt_tokens.size() && next != eos_token) {
      auto text = tokenizer.decode(token, next);
      if (!text) return std::move(text).error();
      if (Tokenizer::printable(*text)) write(*text);
    }
    if (next == eos_token) write(std::string_view("\n"));
  }
  write(std::string_view("\n"));
  return {};
}

}  // namespace forma::text
