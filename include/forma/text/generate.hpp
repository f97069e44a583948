// forma/text/generate.hpp — text generation and Llama 2 chat, as llama2.c's run.c runs them.
//
// generate(): encode the prompt with BOS; feed its tokens (as one batched prefill when the model
// has one — its logits are the same); then sample token after token until the step limit, BOS
// (run.c's stop) or EOS (the issue's; off for run.c's output byte for byte), streaming every
// token's text through a callback — the prompt's tokens too, as run.c prints them. Reports the
// time to the first sampled token and run.c's tokens per second.
// chat(): run.c's chat loop and Llama 2 chat template, reading user turns through a callback.
//
// Where run.c clamps silently, these return an Error: more steps than the model's max_seq, a
// prompt longer than max_seq, a tokenizer or sampler whose vocabulary differs from the model's.
#pragma once

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "forma/core/error.hpp"
#include "forma/text/bpe.hpp"
#include "forma/text/sampler.hpp"
#include "forma/text/tokenizer.hpp"

namespace forma::text {

namespace detail {
// Logits in memory the model owns: a span, a TensorView, a vector held by reference...
template <class L>
concept float_storage = requires(const L& logits) {
  { logits.data() } -> std::convertible_to<const float*>;
};
// ...or a Result of one.
template <class R>
concept result_of_float_storage = requires(R& result) {
  { result.has_value() } -> std::convertible_to<bool>;
  requires float_storage<std::remove_cvref_t<decltype(*result)>>;
  { std::move(result).error() } -> std::convertible_to<Error>;
};
template <class R>
concept logits_return = float_storage<std::remove_cvref_t<R>> || result_of_float_storage<std::remove_cvref_t<R>>;
}  // namespace detail

// A causal language model: forward(token, position) → the vocab_size() logits for the next token
// (positions before `position` already run), as a view/reference to storage the model owns that
// stays valid until the next call, or a Result of one; max_sequence() positions at most.
template <class M>
concept causal_lm = requires(M& model, std::int32_t token, std::size_t position) {
  requires detail::logits_return<decltype(model.forward(token, position))>;
  { model.vocab_size() } -> std::convertible_to<std::size_t>;
  { model.max_sequence() } -> std::convertible_to<std::size_t>;
};

// A model that can also run several prompt tokens in one batched step (the last one's logits).
template <class M>
concept prefill_lm = causal_lm<M> && requires(M& model, std::span<const std::int32_t> tokens) {
  requires detail::logits_return<decltype(model.prefill(tokens, std::size_t{0}))>;
};

struct GenerateOptions {
  std::size_t steps = 256;   // positions to run, prompt included (run.c's -n); 0 = max_seq
  bool stop_at_eos = true;   // run.c stops at BOS only: set false for its output byte for byte
};

// Why generate() stopped: the step limit (or max_seq), an end token (BOS as run.c, or EOS), or
// on_token returning false.
enum class stop_reason : std::uint8_t { steps, end_token, caller };

struct GenerationStats {
  stop_reason stopped = stop_reason::steps;
  std::size_t prompt_tokens = 0;     // tokens of the encoded prompt(s), BOS included
  std::size_t generated_tokens = 0;  // tokens sampled
  std::size_t positions = 0;         // positions run (run.c's final pos)
  double time_to_first_token = 0;    // seconds from the first forward to the first sampled token
  double tokens_per_second = 0;      // run.c's figure: (positions − 1) / the time after the first
};

namespace detail {
using clock = std::chrono::steady_clock;
inline double seconds_since(clock::time_point start) {
  return std::chrono::duration<double>(clock::now() - start).count();
}

template <class R>
Result<std::span<const float>> as_logits(R&& returned, std::size_t vocab_size) {
  if constexpr (float_storage<std::remove_cvref_t<R>>) {
    return std::span<const float>(returned.data(), vocab_size);
  } else {
    if (!returned.has_value()) return std::move(returned).error();
    return std::span<const float>((*returned).data(), vocab_size);
  }
}

// on_token may return void, or bool: false asks generate() to stop (a client that left).
template <class OnToken>
bool emit(OnToken& on_token, std::int32_t token, std::string_view text, bool from_prompt) {
  if constexpr (std::is_same_v<std::invoke_result_t<OnToken&, std::int32_t, std::string_view, bool>, bool>) {
    return on_token(token, text, from_prompt);
  } else {
    on_token(token, text, from_prompt);
    return true;
  }
}

template <class M>
Result<std::span<const float>> forward(M& model, std::int32_t token, std::size_t position) {
  return as_logits(model.forward(token, position), model.vocab_size());
}

template <class M>
Result<std::size_t> check_request(std::string_view what, const M& model, const Tokenizer& tokenizer,
                                  const Sampler& sampler, std::size_t requested_steps) {
  const std::size_t max_seq = model.max_sequence();
  const std::size_t steps = requested_steps == 0 ? max_seq : requested_steps;
  if (steps > max_seq) {
    return make_error(errc::invalid_argument, std::string(what) + ": " + std::to_string(steps) +
                                                  " steps exceed the model's max_seq of " +
                                                  std::to_string(max_seq));
  }
  if (tokenizer.vocab_size() != model.vocab_size()) {
    return make_error(errc::shape_mismatch, std::string(what) + ": the tokenizer has " +
                                                std::to_string(tokenizer.vocab_size()) +
                                                " tokens, the model's vocabulary has " +
                                                std::to_string(model.vocab_size()));
  }
  if (sampler.vocab_size() != model.vocab_size()) {
    return make_error(errc::shape_mismatch, std::string(what) + ": the sampler is for " +
                                                std::to_string(sampler.vocab_size()) +
                                                " tokens, the model's vocabulary has " +
                                                std::to_string(model.vocab_size()));
  }
  return steps;
}
}  // namespace detail

// on_token(std::int32_t token, std::string_view text, bool from_prompt) is called for every token
// after BOS with its decoded text; run.c prints Tokenizer::safe_piece(text). If it returns bool,
// false stops the generation there (stats.stopped == stop_reason::caller).
template <causal_lm M, class OnToken>
  requires std::invocable<OnToken&, std::int32_t, std::string_view, bool>
Result<GenerationStats> generate(M& model, const Tokenizer& tokenizer, Sampler& sampler,
                                 std::string_view prompt, GenerateOptions options,
                                 OnToken&& on_token) {
  auto checked = detail::check_request("generate", model, tokenizer, sampler, options.steps);
  if (!checked) return std::move(checked).error();
  const std::size_t steps = *checked;
  const std::size_t max_seq = model.max_sequence();
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
  std::vector<float> work(model.vocab_size());  // the sampler overwrites its logits
  const auto started = detail::clock::now();
  std::optional<detail::clock::time_point> after_first;  // run.c's timer starts after one step

  // The prompt's positions: run.c runs position pos and forces prompt token pos + 1 as the next
  // one, so the positions up to the prompt's last token run before anything is sampled.
  const std::size_t prompt_positions = std::min(prompt_tokens.size(), steps);
  std::span<const float> logits;
  if constexpr (prefill_lm<M>) {
    auto last = detail::as_logits(
        model.prefill(std::span<const std::int32_t>(prompt_tokens).first(prompt_positions), std::size_t{0}),
        model.vocab_size());
    if (!last) return std::move(last).error();
    logits = *last;
  } else {
    for (std::size_t pos = 0; pos < prompt_positions; ++pos) {
      auto step = detail::forward(model, prompt_tokens[pos], pos);
      if (!step) return std::move(step).error();
      logits = *step;
    }
  }
  std::int32_t token = prompt_tokens[0];
  std::size_t pos = 0;
  for (const std::size_t forced = std::min(prompt_tokens.size() - 1, steps); pos < forced; ++pos) {
    const std::int32_t next = prompt_tokens[pos + 1];
    if (next == bos_token) {
      stats.stopped = stop_reason::end_token;
      stats.positions = pos + 1;
      return stats;
    }
    auto text = tokenizer.decode(token, next);
    if (!text) return std::move(text).error();
    if (!detail::emit(on_token, next, *text, true)) {
      stats.stopped = stop_reason::caller;
      stats.positions = pos + 1;
      return stats;
    }
    token = next;
    if (!after_first) after_first = detail::clock::now();
  }
  // Sampling: the logits of position pos are in hand; choose, stream, run the next position.
  while (pos < steps) {
    std::copy(logits.begin(), logits.end(), work.begin());
    const std::int32_t next = sampler.sample(work);
    if (stats.generated_tokens == 0) stats.time_to_first_token = detail::seconds_since(started);
    ++stats.generated_tokens;
    ++pos;
    if (next == bos_token || (options.stop_at_eos && next == eos_token)) {
      stats.stopped = stop_reason::end_token;
      break;
    }
    auto text = tokenizer.decode(token, next);
    if (!text) return std::move(text).error();
    if (!detail::emit(on_token, next, *text, false)) {
      stats.stopped = stop_reason::caller;
      break;
    }
    token = next;
    if (!after_first) after_first = detail::clock::now();
    if (pos >= steps) break;
    auto step = detail::forward(model, token, pos);
    if (!step) return std::move(step).error();
    logits = *step;
  }
  stats.positions = pos;
  if (stats.positions > 1 && after_first) {
    const double elapsed = detail::seconds_since(*after_first);
    stats.tokens_per_second = elapsed > 0 ? static_cast<double>(stats.positions - 1) / elapsed : 0;
  }
  return stats;
}

// generate() with a byte-level BPE tokenizer (GPT-2, Qwen2): the prompt is encoded without BOS
// (an empty prompt starts from <|endoftext|>, as GPT-2 samples unconditionally), its tokens are
// fed as one prefill, then tokens are sampled until `steps` positions or, with stop_at_eos,
// <|endoftext|>. on_token(token, text, from_prompt) gets each token's text as it becomes valid
// UTF-8 (a character split across tokens is held back and given with the token that completes
// it; a sequence that never completes ends as U+FFFD, as Hugging Face decodes it). The tokenizer
// may have fewer tokens than the model's (padded) vocabulary; a sampled id past it is an Error.
template <causal_lm M, class OnToken>
  requires std::invocable<OnToken&, std::int32_t, std::string_view, bool>
Result<GenerationStats> generate(M& model, const BpeTokenizer& tokenizer, Sampler& sampler,
                                 std::string_view prompt, GenerateOptions options,
                                 OnToken&& on_token) {
  const std::size_t max_seq = model.max_sequence();
  const std::size_t steps = options.steps == 0 ? max_seq : options.steps;
  if (steps > max_seq) {
    return make_error(errc::invalid_argument, "generate: " + std::to_string(steps) +
                                                  " steps exceed the model's max_seq of " +
                                                  std::to_string(max_seq));
  }
  if (tokenizer.vocab_size() > model.vocab_size()) {
    return make_error(errc::shape_mismatch, "generate: the tokenizer has " +
                                                std::to_string(tokenizer.vocab_size()) +
                                                " tokens, more than the model's vocabulary of " +
                                                std::to_string(model.vocab_size()));
  }
  if (sampler.vocab_size() != model.vocab_size()) {
    return make_error(errc::shape_mismatch, "generate: the sampler is for " +
                                                std::to_string(sampler.vocab_size()) +
                                                " tokens, the model's vocabulary has " +
                                                std::to_string(model.vocab_size()));
  }
  std::vector<std::int32_t> prompt_tokens = tokenizer.encode(prompt);
  if (prompt_tokens.empty()) prompt_tokens.push_back(tokenizer.eos_id());
  if (prompt_tokens.size() > steps) {
    return make_error(errc::capacity, "generate: the prompt has " +
                                          std::to_string(prompt_tokens.size()) +
                                          " tokens, more than the " + std::to_string(steps) +
                                          " steps asked for (max_seq " + std::to_string(max_seq) +
                                          ")");
  }
  GenerationStats stats;
  stats.prompt_tokens = prompt_tokens.size();
  std::vector<float> work(model.vocab_size());
  const auto started = detail::clock::now();
  std::span<const float> logits;
  if constexpr (prefill_lm<M>) {
    auto last = detail::as_logits(model.prefill(std::span<const std::int32_t>(prompt_tokens), std::size_t{0}),
                                  model.vocab_size());
    if (!last) return std::move(last).error();
    logits = *last;
  } else {
    for (std::size_t pos = 0; pos < prompt_tokens.size(); ++pos) {
      auto step = detail::forward(model, prompt_tokens[pos], pos);
      if (!step) return std::move(step).error();
      logits = *step;
    }
  }
  auto decoder = tokenizer.decoder();
  std::string text;
  for (const std::int32_t id : prompt_tokens) {
    text.clear();
    if (auto ok = decoder.next(id, text); !ok) return std::move(ok).error();
    if (!detail::emit(on_token, id, text, true)) {
      stats.stopped = stop_reason::caller;
      stats.positions = prompt_tokens.size();
      return stats;
    }
  }
  const auto after_prompt = detail::clock::now();
  std::size_t pos = prompt_tokens.size();
  while (pos < steps) {
    std::copy(logits.begin(), logits.end(), work.begin());
    const std::int32_t next = sampler.sample(work);
    if (stats.generated_tokens == 0) stats.time_to_first_token = detail::seconds_since(started);
    ++stats.generated_tokens;
    if (options.stop_at_eos && next == tokenizer.eos_id()) {
      stats.stopped = stop_reason::end_token;
      break;
    }
    text.clear();
    if (auto ok = decoder.next(next, text); !ok) return std::move(ok).error();
    ++pos;
    if (!detail::emit(on_token, next, text, false)) {
      stats.stopped = stop_reason::caller;
      break;
    }
    if (pos >= steps) break;
    auto step = detail::forward(model, next, pos - 1);
    if (!step) return std::move(step).error();
    logits = *step;
  }
  text.clear();
  decoder.finish(text);
  if (!text.empty() && stats.stopped != stop_reason::caller) detail::emit(on_token, -1, text, false);
  stats.positions = pos;
  const double elapsed = detail::seconds_since(after_prompt);
  stats.tokens_per_second =
      elapsed > 0 && stats.generated_tokens > 0 ? static_cast<double>(stats.generated_tokens) / elapsed : 0;
  return stats;
}

// The Llama 2 chat template run.c renders: the system prompt only in the first turn, and only
// when it is not empty.
inline std::string llama2_chat_prompt(std::string_view system_prompt, std::string_view user_prompt,
                                      bool first_turn) {
  std::string rendered;
  if (first_turn && !system_prompt.empty()) {
    rendered.append("[INST] <<SYS>>\n").append(system_prompt).append("\n<</SYS>>\n\n");
    rendered.append(user_prompt).append(" [/INST]");
  } else {
    rendered.append("[INST] ").append(user_prompt).append(" [/INST]");
  }
  return rendered;
}

// What chat() does when read_line reports the end of the input.
enum class ChatEndOfInput : std::uint8_t {
  stop,           // end the conversation (print run.c's final newline)
  reuse_previous, // run.c: fgets leaves its buffer as it was, so the last line is read again
                  // (an empty one if none was read) until the steps run out
};

struct ChatOptions {
  std::size_t steps = 256;                                  // positions over the conversation; 0 = max_seq
  std::optional<std::string> user_prompt = std::nullopt;    // the first user turn (else read)
  std::optional<std::string> system_prompt = std::nullopt;  // else read once at the start
  ChatEndOfInput at_end_of_input = ChatEndOfInput::stop;
};

// run.c's chat loop. read_line(guide) → std::optional<std::string>: shows the guide ("Enter system
// prompt (optional): ", "User: "), reads a line without its newline, nullopt at the end of the
// input. write(text) receives everything run.c prints to stdout after that, in order: "Assistant: ",
// the reply's printable pieces, "\n" after each EOS and at the end. Every position samples (and
// draws a coin), the prompt's too, as run.c does.
template <causal_lm M, class ReadLine, class Write>
  requires std::invocable<Write&, std::string_view> &&
           requires(ReadLine& read, std::string_view guide) {
             { read(guide) } -> std::convertible_to<std::optional<std::string>>;
           }
Result<GenerationStats> chat(M& model, const Tokenizer& tokenizer, Sampler& sampler,
                             ChatOptions options, ReadLine&& read_line, Write&& write) {
  auto checked = detail::check_request("chat", model, tokenizer, sampler, options.steps);
  if (!checked) return std::move(checked).error();
  const std::size_t steps = *checked;
  const bool reuse = options.at_end_of_input == ChatEndOfInput::reuse_previous;
  GenerationStats stats;
  std::vector<float> work(model.vocab_size());
  std::vector<std::int32_t> prompt_tokens;
  std::string system_prompt, user_prompt;
  std::size_t user_index = 0;
  bool user_turn = true;
  std::int32_t next = 0;
  const auto started = detail::clock::now();
  std::size_t pos = 0;
  while (pos < steps) {
    if (user_turn) {
      if (pos == 0) {
        if (options.system_prompt) {
          system_prompt = *options.system_prompt;
        } else if (std::optional<std::string> line = read_line(std::string_view("Enter system prompt (optional): "))) {
          system_prompt = std::move(*line);
        }
      }
      if (pos == 0 && options.user_prompt) {
        user_prompt = *options.user_prompt;
      } else if (std::optional<std::string> line = read_line(std::string_view("User: "))) {
        user_prompt = std::move(*line);
      } else if (!reuse) {
        break;
      }
      const std::string rendered = llama2_chat_prompt(system_prompt, user_prompt, pos == 0);
      if (auto encoded = tokenizer.encode(rendered, true, false, prompt_tokens); !encoded) {
        return std::move(encoded).error();
      }
      stats.prompt_tokens += prompt_tokens.size();
      user_index = 0;
      user_turn = false;
      write(std::string_view("Assistant: "));
    }
    // The prompt's tokens are fed first; then each sampled token; EOS hands the turn back (after
    // the model has run it, as run.c does).
    const bool forced = user_index < prompt_tokens.size();
    const std::int32_t token = forced ? prompt_tokens[user_index++] : next;
    if (token == eos_token) user_turn = true;
    auto logits = detail::forward(model, token, pos);
    if (!logits) return std::move(logits).error();
    std::copy(logits->begin(), logits->end(), work.begin());
    next = sampler.sample(work);
    ++pos;
    if (user_index >= prompt_tokens.size()) {
      if (stats.generated_tokens == 0) stats.time_to_first_token = detail::seconds_since(started);
      ++stats.generated_tokens;
      if (next != eos_token) {
        auto text = tokenizer.decode(token, next);
        if (!text) return std::move(text).error();
        if (const std::string_view shown = Tokenizer::safe_piece(*text); !shown.empty()) write(shown);
      }
    }
    if (next == eos_token) write(std::string_view("\n"));
  }
  write(std::string_view("\n"));
  stats.positions = pos;
  if (pos > 0) stats.tokens_per_second = static_cast<double>(pos) / std::max(detail::seconds_since(started), 1e-9);
  return stats;
}

// One line read the way run.c's chat reads stdin: fgets into a buffer of `buffer_size` bytes (so
// a longer line comes back in pieces, as in run.c), the final newline removed, the text cut at a
// NUL byte (run.c's strings end there). nullopt at the end of the input.
inline std::optional<std::string> read_line_like_run_c(std::FILE* in, std::size_t buffer_size = 512) {
  std::string buffer(std::max<std::size_t>(buffer_size, 2), '\0');
  if (std::fgets(buffer.data(), static_cast<int>(std::min<std::size_t>(buffer.size(), 1u << 30)), in) == nullptr) {
    return std::nullopt;
  }
  std::size_t length = std::strlen(buffer.c_str());
  if (length > 0 && buffer[length - 1] == '\n') --length;
  buffer.resize(length);
  return buffer;
}

}  // namespace forma::text
