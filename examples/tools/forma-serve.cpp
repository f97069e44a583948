// forma-serve — an HTTP generation server for any checkpoint forma-run reads.
//
//   forma-serve CHECKPOINT [-z TOKENIZER] [--host 127.0.0.1] [--port 8080] [options]
//
// The model is loaded once (forma/text/checkpoint.hpp, as forma-run loads it). Endpoints:
//   POST /v1/generate          {prompt, max_tokens, temperature, top_p, seed, stop, stream}
//   POST /v1/completions       OpenAI's completions (streaming: data: chunks, then data: [DONE])
//   POST /v1/chat/completions  OpenAI's chat completions (prompt template: --chat-template)
//   GET  /v1/models, GET /health, GET / (a playground page)
//
// Queue policy: one model, one generation at a time, requests served in arrival order (FIFO).
// At most --max-queue requests wait behind the running one; more get 429. Every request has a
// deadline (--timeout seconds from its arrival): one still queued then gets 503, one generating
// stops with stop_reason "timeout". A streaming client that disconnects stops its generation at
// the next token and frees the model for the next request. SIGINT/SIGTERM stop the server
// gracefully (running generations end, the listening socket closes) with exit status 0.
//
// Built on cpp-httplib (Debian's libcpp-httplib-dev): its thread pool serves connections (a
// streaming response holds a pool thread, so the pool is sized to the queue), chunked content
// providers stream the events, and a failed sink.write() means the client left.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <pthread.h>

#include <httplib.h>

#include <forma/io/json.hpp>
#include <forma/text/bpe.hpp>
#include <forma/text/checkpoint.hpp>
#include <forma/text/generate.hpp>
#include <forma/text/sampler.hpp>
#include <forma/text/tokenizer.hpp>

#include "forma-serve-playground.hpp"

namespace {

namespace json = forma::io::json;
using clock_type = std::chrono::steady_clock;

struct Options {
  std::string checkpoint;
  std::optional<std::string> tokenizer;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::size_t max_queue = 16;          // requests waiting behind the running one
  std::size_t max_tokens_limit = 0;    // 0: the model's context length
  std::size_t default_max_tokens = 128;
  std::size_t max_prompt_bytes = 32768;
  std::size_t max_body_bytes = 1 << 20;
  double timeout = 300;                // seconds per request, queueing included
  std::size_t token_delay_ms = 0;      // testing: a pause after each generated token
  std::string arithmetic = "llama2c";
  std::string chat_template = "plain";
  std::string model_name;
};

[[noreturn]] void usage(int status) {
  std::fputs(
      "Usage: forma-serve CHECKPOINT [options]\n"
      "Serves one model over HTTP: POST /v1/generate (SSE with \"stream\": true), POST /v1/completions,\n"
      "POST /v1/chat/completions (OpenAI-compatible), GET /v1/models, GET /health, GET / (playground).\n"
      "Options:\n"
      "  -z <path>                 tokenizer (as forma-run's -z); default: the checkpoint's own, or tokenizer.bin\n"
      "  --host <address>          default 127.0.0.1 (loopback only)\n"
      "  --port <n>                default 8080; 0 picks a free port (printed)\n"
      "  --max-queue <n>           requests that may wait behind the running one, default 16; more get 429\n"
      "  --max-tokens-limit <n>    the largest max_tokens a request may ask for, default: the context length\n"
      "  --default-max-tokens <n>  max_tokens when a request gives none, default 128\n"
      "  --max-prompt-bytes <n>    default 32768 (the prompt must also fit the context)\n"
      "  --max-body-bytes <n>      request bodies above this get 413, default 1048576\n"
      "  --timeout <seconds>       per request, queueing included, default 300\n"
      "  -a llama2c|fast           arithmetic, as forma-run's -a (default llama2c)\n"
      "  --chat-template plain|llama2|chatml  how /v1/chat/completions renders messages, default plain\n"
      "                            (plain: each content and a newline; llama2 replies stop at [INST],\n"
      "                            chatml ones at <|im_end|>)\n"
      "  --model-name <name>       the id in /v1/models, default: the checkpoint's file name\n"
      "  --token-delay-ms <n>      for testing: pause n ms after each generated token (a slow model to\n"
      "                            disconnect from, queue behind or time out), default 0\n"
      "Queue policy: one generation at a time, in arrival order (FIFO); a request still queued at its\n"
      "deadline gets 503, one generating stops with stop_reason \"timeout\"; a streaming client that\n"
      "disconnects stops its generation. SIGINT/SIGTERM shut down gracefully (exit 0).\n"
      "Threads per generation: OMP_NUM_THREADS (FORMA_NUM_THREADS), as for every forma program.\n",
      status == 0 ? stdout : stderr);
  std::exit(status);
}

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "forma-serve: %s\n", message.c_str());
  std::exit(EXIT_FAILURE);
}

std::size_t parse_count(std::string_view flag, const char* text, std::size_t minimum) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text, &end, 10);
  if (*text == '\0' || *end != '\0' || *text == '-' || errno != 0 || value < minimum) {
    fail(std::string(flag) + ": '" + text + "' is not an integer >= " + std::to_string(minimum));
  }
  return static_cast<std::size_t>(value);
}

Options parse(int argc, char** argv) {
  Options o;
  if (argc >= 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) usage(0);
  if (argc < 2 || argv[1][0] == '-') usage(EXIT_FAILURE);
  o.checkpoint = argv[1];
  for (int i = 2; i < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") usage(0);
    if (i + 1 >= argc) fail(std::string(flag) + " needs a value");
    const char* value = argv[i + 1];
    if (flag == "-z") {
      o.tokenizer = value;
    } else if (flag == "--host") {
      o.host = value;
    } else if (flag == "--port") {
      const std::size_t port = parse_count(flag, value, 0);
      if (port > 65535) fail("--port: " + std::string(value) + " is above 65535");
      o.port = static_cast<int>(port);
    } else if (flag == "--max-queue") {
      o.max_queue = parse_count(flag, value, 0);
      if (o.max_queue > 1024) fail("--max-queue: at most 1024 (each waiting request holds a thread)");
    } else if (flag == "--max-tokens-limit") {
      o.max_tokens_limit = parse_count(flag, value, 1);
    } else if (flag == "--default-max-tokens") {
      o.default_max_tokens = parse_count(flag, value, 1);
    } else if (flag == "--max-prompt-bytes") {
      o.max_prompt_bytes = parse_count(flag, value, 1);
    } else if (flag == "--max-body-bytes") {
      o.max_body_bytes = parse_count(flag, value, 16);
    } else if (flag == "--timeout") {
      char* end = nullptr;
      o.timeout = std::strtod(value, &end);
      if (*value == '\0' || *end != '\0' || !(o.timeout > 0) || o.timeout > 1e7) {
        fail("--timeout: '" + std::string(value) + "' is not a number of seconds > 0");
      }
    } else if (flag == "-a") {
      o.arithmetic = value;
      if (o.arithmetic != "llama2c" && o.arithmetic != "fast") fail("-a: '" + o.arithmetic + "' (llama2c or fast)");
    } else if (flag == "--chat-template") {
      o.chat_template = value;
      if (o.chat_template != "plain" && o.chat_template != "llama2" && o.chat_template != "chatml") {
        fail("--chat-template: '" + o.chat_template + "' (plain, llama2 or chatml)");
      }
    } else if (flag == "--token-delay-ms") {
      o.token_delay_ms = std::min<std::size_t>(parse_count(flag, value, 0), 60000);
    } else if (flag == "--model-name") {
      o.model_name = value;
    } else {
      fail("unknown option '" + std::string(flag) + "' (--help lists them)");
    }
  }
  if (o.model_name.empty()) {
    std::filesystem::path path(o.checkpoint);
    if (!path.has_filename()) path = path.parent_path();
    o.model_name = path.filename().string();
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Streamed text: whole UTF-8 characters only.

// Holds back the bytes of a character split across tokens until it is complete; an invalid
// sequence (or one cut off at the end) becomes U+FFFD, so every piece given out is valid UTF-8.
class Utf8Stream {
 public:
  void push(std::string_view bytes, std::string& out) {
    pending_.append(bytes);
    std::size_t i = 0;
    while (i < pending_.size()) {
      const auto lead = static_cast<unsigned char>(pending_[i]);
      const std::size_t length = sequence_length(lead);
      if (length == 0) {
        out += replacement;
        ++i;
        continue;
      }
      std::size_t valid = 1;  // bytes of the sequence that are well formed so far
      while (valid < length && i + valid < pending_.size() &&
             continuation_ok(lead, valid, static_cast<unsigned char>(pending_[i + valid]))) {
        ++valid;
      }
      if (valid == length) {
        out.append(pending_, i, length);
        i += length;
      } else if (i + valid == pending_.size()) {
        break;  // a well-formed beginning: wait for the rest
      } else {
        out += replacement;  // a bad continuation byte: replace the sequence so far
        i += valid;
      }
    }
    pending_.erase(0, i);
  }
  void finish(std::string& out) {
    if (!pending_.empty()) out += replacement;
    pending_.clear();
  }

 private:
  static constexpr std::string_view replacement = "\xEF\xBF\xBD";
  static std::size_t sequence_length(unsigned char lead) {
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) return 2;
    if (lead >= 0xE0 && lead <= 0xEF) return 3;
    if (lead >= 0xF0 && lead <= 0xF4) return 4;
    return 0;
  }
  // RFC 3629's table: the second byte's range excludes overlongs, surrogates and > U+10FFFF.
  static bool continuation_ok(unsigned char lead, std::size_t index, unsigned char byte) {
    if (index == 1) {
      if (lead == 0xE0) return byte >= 0xA0 && byte <= 0xBF;
      if (lead == 0xED) return byte >= 0x80 && byte <= 0x9F;
      if (lead == 0xF0) return byte >= 0x90 && byte <= 0xBF;
      if (lead == 0xF4) return byte >= 0x80 && byte <= 0x8F;
    }
    return byte >= 0x80 && byte <= 0xBF;
  }
  std::string pending_;
};

// Stop strings (OpenAI's "stop"): text that may still become one is held back; when one appears,
// the text before it is the last given out and generation ends.
class StopStrings {
 public:
  explicit StopStrings(const std::vector<std::string>& stops) : stops_(stops) {}

  // Appends the text that can no longer be part of a stop string; true when one matched (then
  // `out` ends just before it).
  bool push(std::string_view text, std::string& out) {
    window_.append(text);
    std::size_t first = std::string::npos;
    for (const std::string& stop : stops_) first = std::min(first, window_.find(stop));
    if (first != std::string::npos) {
      out.append(window_, 0, first);
      window_.clear();
      return true;
    }
    std::size_t keep = 0;  // the longest end of the window that begins a stop string
    for (const std::string& stop : stops_) {
      for (std::size_t k = std::min(stop.size() - 1, window_.size()); k > keep; --k) {
        if (window_.compare(window_.size() - k, k, stop, 0, k) == 0) {
          keep = k;
          break;
        }
      }
    }
    out.append(window_, 0, window_.size() - keep);
    window_.erase(0, window_.size() - keep);
    return false;
  }
  void finish(std::string& out) {
    out += window_;
    window_.clear();
  }

 private:
  const std::vector<std::string>& stops_;
  std::string window_;
};

// ---------------------------------------------------------------------------------------------
// The model behind the server: one type for every checkpoint family.

struct Job {
  std::string id;  // for the log
  std::string prompt;
  std::size_t max_tokens = 0;
  std::vector<std::string> stop;  // stop strings, none empty
  forma::text::SamplerOptions sampling;
  clock_type::time_point deadline;
};

struct Outcome {
  std::size_t prompt_tokens = 0;
  std::size_t completion_tokens = 0;
  std::string stop_reason;  // length, eos, stop (a stop string), timeout, cancelled (client left, shutdown)
};

// on_text(token, text): a generated token (its text may be empty while a character is held back)
// or, with token -1, the text left at the end. false: the client left, stop.
using OnText = std::function<bool(std::int32_t, std::string_view)>;

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::size_t context_length() const = 0;
  // Positions the prompt takes before the first generated token; safe to call from any thread.
  virtual forma::Result<std::size_t> prompt_positions(std::string_view prompt) const = 0;
  // One generation; the caller holds the model (the Scheduler's turn).
  virtual forma::Result<Outcome> run(const Job& job, const OnText& on_text) = 0;
};

std::atomic<bool> shutting_down{false};

template <class Model, class Tokenizer>
class ModelEngine final : public Engine {
 public:
  ModelEngine(Model& model, const Tokenizer& tokenizer, std::size_t token_delay_ms)
      : model_(model), tokenizer_(tokenizer), token_delay_(token_delay_ms) {}

  std::size_t context_length() const override { return model_.max_sequence(); }

  // SentencePiece: BOS + the prompt, whose last token's position samples the first new token
  // (tokens − 1 positions before it). BPE: the prompt's tokens (<|endoftext|> for an empty one).
  forma::Result<std::size_t> prompt_positions(std::string_view prompt) const override {
    if constexpr (std::is_same_v<Tokenizer, forma::text::Tokenizer>) {
      std::vector<std::int32_t> tokens;
      if (auto encoded = tokenizer_.encode(prompt, true, false, tokens); !encoded) return std::move(encoded).error();
      return tokens.size() - 1;
    } else {
      return std::max<std::size_t>(tokenizer_.encode(prompt).size(), 1);
    }
  }

  forma::Result<Outcome> run(const Job& job, const OnText& on_text) override {
    auto positions = prompt_positions(job.prompt);
    if (!positions) return std::move(positions).error();
    const std::size_t steps = std::min(context_length(), *positions + job.max_tokens);
    forma::text::Sampler sampler(model_.vocab_size(), job.sampling);
    Utf8Stream utf8;
    StopStrings stops(job.stop);
    Outcome outcome;
    bool timed_out = false, stopped_by_string = false;
    std::string text, shown;
    auto stats = forma::text::generate(
        model_, tokenizer_, sampler, job.prompt, {.steps = steps, .stop_at_eos = true},
        [&](std::int32_t token, std::string_view piece, bool from_prompt) -> bool {
          if (from_prompt) return true;
          if (token >= 0) ++outcome.completion_tokens;
          text.clear();
          // run.c prints no lone control byte (a raw <0x01> piece); bytes of UTF-8 characters
          // (byte-fallback pieces, split BPE tokens) are kept and joined.
          const bool control = piece.size() == 1 && static_cast<unsigned char>(piece[0]) < 0x80 &&
                               !forma::text::Tokenizer::printable(piece);
          if (!control) utf8.push(piece, text);
          shown.clear();
          stopped_by_string = stops.push(text, shown);
          if (!on_text(token, shown) || stopped_by_string || shutting_down.load()) return false;
          if (token_delay_.count() > 0) std::this_thread::sleep_for(token_delay_);
          if (clock_type::now() >= job.deadline) {
            timed_out = true;
            return false;
          }
          return true;
        });
    if (!stats) return std::move(stats).error();
    if (stats->stopped != forma::text::stop_reason::caller) {
      text.clear();
      utf8.finish(text);
      shown.clear();
      stopped_by_string = stops.push(text, shown);
      if (!stopped_by_string) stops.finish(shown);
      if (!shown.empty()) on_text(-1, shown);
    }
    outcome.prompt_tokens = stats->prompt_tokens;
    switch (stats->stopped) {
      case forma::text::stop_reason::steps: outcome.stop_reason = "length"; break;
      case forma::text::stop_reason::end_token: outcome.stop_reason = "eos"; break;
      case forma::text::stop_reason::caller: outcome.stop_reason = timed_out ? "timeout" : "cancelled"; break;
    }
    if (stopped_by_string) outcome.stop_reason = "stop";
    std::fprintf(stderr, "generation %s: %zu prompt tokens, %zu generated, stop_reason %s\n", job.id.c_str(),
                 outcome.prompt_tokens, outcome.completion_tokens, outcome.stop_reason.c_str());
    return outcome;
  }

 private:
  Model& model_;
  const Tokenizer& tokenizer_;
  std::chrono::milliseconds token_delay_;
};

// ---------------------------------------------------------------------------------------------
// The queue: one generation at a time, in arrival order.

class Scheduler {
 public:
  explicit Scheduler(std::size_t max_waiting) : max_waiting_(max_waiting) {}

  // A place in the line, released when the last copy goes (the response is done).
  class Ticket {
   public:
    Ticket(Scheduler& scheduler, std::uint64_t id) : scheduler_(scheduler), id_(id) {}
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() { scheduler_.leave(id_); }
    // Waits until this request is at the head of the line; false at the deadline or shutdown.
    bool wait_turn(clock_type::time_point deadline) { return scheduler_.wait_turn(id_, deadline); }

   private:
    Scheduler& scheduler_;
    std::uint64_t id_;
  };

  // nullptr when the line is full (the running request and max_waiting behind it).
  std::shared_ptr<Ticket> admit() {
    std::lock_guard lock(mutex_);
    if (line_.size() > max_waiting_) return nullptr;
    line_.push_back(next_id_);
    return std::make_shared<Ticket>(*this, next_id_++);
  }

  void wake_all() {
    std::lock_guard lock(mutex_);
    changed_.notify_all();
  }

  std::size_t in_line() {
    std::lock_guard lock(mutex_);
    return line_.size();
  }

 private:
  bool wait_turn(std::uint64_t id, clock_type::time_point deadline) {
    std::unique_lock lock(mutex_);
    return changed_.wait_until(lock, deadline, [&] { return line_.front() == id || shutting_down.load(); }) &&
           !shutting_down.load();
  }
  void leave(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    line_.erase(std::find(line_.begin(), line_.end(), id));
    changed_.notify_all();
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::uint64_t> line_;  // the running request first, then the waiting ones
  std::uint64_t next_id_ = 0;
  std::size_t max_waiting_;
};

// ---------------------------------------------------------------------------------------------
// Requests: parsed strictly, each error naming its field.

struct ApiError {
  int status = 400;
  std::string message;
  std::string field;
};

std::string error_body(const ApiError& error) {
  std::string body = "{\"error\": {\"message\": " + json::quote(error.message);
  body += ", \"type\": ";
  body += json::quote(error.status == 429 ? "rate_limit_error" : error.status >= 500 ? "server_error"
                                                                                     : "invalid_request_error");
  body += ", \"field\": " + (error.field.empty() ? std::string("null") : json::quote(error.field));
  return body + "}}";
}

enum class Api : std::uint8_t { generate, completions, chat };

struct Message {
  std::string role, content;
};

struct Params {
  std::string prompt;
  bool has_prompt = false;
  std::vector<Message> messages;
  bool has_messages = false;
  std::optional<std::size_t> max_tokens;
  float temperature = 1.0f;
  float top_p = 1.0f;
  std::optional<std::uint64_t> seed;
  bool stream = false;
  bool include_usage = false;
  std::vector<std::string> stop;
};

ApiError bad(std::string field, std::string message, int status = 400) {
  return ApiError{status, std::move(message), std::move(field)};
}

// A number's value, or nullopt when its text is not one strtod reads in full.
std::optional<double> to_double(std::string_view text) {
  const std::string copy(text);
  char* end = nullptr;
  const double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<ApiError> parse_params(std::string_view body, Api api, const Options& options, Params& p) {
  json::Reader r(body);
  const auto malformed = [](const forma::Error& error) { return bad("body", "malformed JSON: " + error.to_string()); };
  if (auto kind = r.value_kind(); !kind) return malformed(kind.error());
  else if (*kind != json::Kind::object) return bad("body", "the request body must be a JSON object");
  if (auto open = r.begin_object(); !open) return malformed(open.error());
  p.top_p = api == Api::generate ? 0.9f : 1.0f;  // forma-run's default; OpenAI's
  std::string key;
  for (;;) {
    auto more = r.next_key(key);
    if (!more) return malformed(more.error());
    if (!*more) break;
    auto kind = r.value_kind();
    if (!kind) return malformed(kind.error());
    const std::string field = key;
    // A null is an absent optional field (OpenAI clients send some).
    if (*kind == json::Kind::null && field != "prompt" && field != "messages") {
      if (auto skipped = r.null(); !skipped) return malformed(skipped.error());
      continue;
    }
    const auto want = [&](json::Kind expected, const char* what) -> std::optional<ApiError> {
      if (*kind == expected) return std::nullopt;
      return bad(field, "'" + field + "' must be " + what);
    };
    const auto read_number = [&](double& value) -> std::optional<ApiError> {
      if (auto wrong = want(json::Kind::number, "a number")) return wrong;
      auto number = r.number();
      if (!number) return malformed(number.error());
      const auto parsed = to_double(number->text);
      if (!parsed) return bad(field, "'" + field + "' is out of range");
      value = *parsed;
      return std::nullopt;
    };
    const auto read_integer = [&](std::uint64_t& value, const char* what) -> std::optional<ApiError> {
      if (auto wrong = want(json::Kind::number, what)) return wrong;
      auto number = r.number();
      if (!number) return malformed(number.error());
      if (!number->integer) return bad(field, "'" + field + "' must be " + what);
      value = *number->integer;
      return std::nullopt;
    };
    const auto read_string = [&](std::string& value) -> std::optional<ApiError> {
      if (auto wrong = want(json::Kind::string, "a string")) return wrong;
      auto text = r.string();
      if (!text) return malformed(text.error());
      value = std::move(*text);
      return std::nullopt;
    };
    const bool openai = api != Api::generate;
    if (field == "prompt" && api != Api::chat) {
      // OpenAI also takes a list of prompts: one is accepted.
      if (openai && *kind == json::Kind::array) {
        if (auto open = r.begin_array(); !open) return malformed(open.error());
        std::size_t count = 0;
        for (;;) {
          auto element = r.next_element();
          if (!element) return malformed(element.error());
          if (!*element) break;
          auto element_kind = r.value_kind();
          if (!element_kind) return malformed(element_kind.error());
          if (*element_kind != json::Kind::string || ++count > 1) {
            return bad(field, "'prompt' must be a string (or a list of one string)");
          }
          auto text = r.string();
          if (!text) return malformed(text.error());
          p.prompt = std::move(*text);
        }
        if (count != 1) return bad(field, "'prompt' must be a string (or a list of one string)");
      } else if (auto error = read_string(p.prompt)) {
        return error;
      }
      p.has_prompt = true;
    } else if (field == "messages" && api == Api::chat) {
      if (auto wrong = want(json::Kind::array, "a list of {\"role\", \"content\"} objects")) return wrong;
      if (auto open = r.begin_array(); !open) return malformed(open.error());
      for (;;) {
        auto element = r.next_element();
        if (!element) return malformed(element.error());
        if (!*element) break;
        const std::string where = "messages[" + std::to_string(p.messages.size()) + "]";
        auto element_kind = r.value_kind();
        if (!element_kind) return malformed(element_kind.error());
        if (*element_kind != json::Kind::object) return bad(where, "'" + where + "' must be an object");
        if (auto begin = r.begin_object(); !begin) return malformed(begin.error());
        Message message;
        bool has_role = false, has_content = false;
        std::string member;
        for (;;) {
          auto next = r.next_key(member);
          if (!next) return malformed(next.error());
          if (!*next) break;
          const std::string name = where + "." + member;
          auto member_kind = r.value_kind();
          if (!member_kind) return malformed(member_kind.error());
          if (member == "role" || member == "content") {
            if (*member_kind != json::Kind::string) return bad(name, "'" + name + "' must be a string");
            auto text = r.string();
            if (!text) return malformed(text.error());
            (member == "role" ? message.role : message.content) = std::move(*text);
            (member == "role" ? has_role : has_content) = true;
          } else if (member == "name") {
            if (auto skipped = r.skip(); !skipped) return malformed(skipped.error());
          } else {
            return bad(name, "unknown field '" + member + "' in " + where);
          }
        }
        if (!has_role) return bad(where + ".role", "'" + where + "' has no 'role'");
        if (!has_content) return bad(where + ".content", "'" + where + "' has no 'content'");
        if (message.role != "system" && message.role != "user" && message.role != "assistant") {
          return bad(where + ".role", "'" + where + ".role' must be system, user or assistant");
        }
        p.messages.push_back(std::move(message));
      }
      if (p.messages.empty()) return bad(field, "'messages' is empty");
      p.has_messages = true;
    } else if (field == "max_tokens" || (field == "max_completion_tokens" && api == Api::chat)) {
      std::uint64_t value = 0;
      if (auto error = read_integer(value, "a positive integer")) return error;
      const std::size_t limit = options.max_tokens_limit;
      if (value < 1 || value > limit) {
        return bad(field, "'" + field + "' must be between 1 and " + std::to_string(limit));
      }
      p.max_tokens = static_cast<std::size_t>(value);
    } else if (field == "temperature") {
      double value = 0;
      if (auto error = read_number(value)) return error;
      if (value < 0 || value > 2) return bad(field, "'temperature' must be between 0 and 2 (0: greedy)");
      p.temperature = static_cast<float>(value);
    } else if (field == "top_p") {
      double value = 0;
      if (auto error = read_number(value)) return error;
      if (!(value > 0) || value > 1) return bad(field, "'top_p' must be in (0, 1]");
      p.top_p = static_cast<float>(value);
    } else if (field == "seed") {
      std::uint64_t value = 0;
      if (auto error = read_integer(value, "a non-negative integer")) return error;
      p.seed = value;
    } else if (field == "stream") {
      if (auto wrong = want(json::Kind::boolean, "true or false")) return wrong;
      auto value = r.boolean();
      if (!value) return malformed(value.error());
      p.stream = *value;
    } else if (openai && (field == "model" || field == "user")) {
      std::string ignored;
      if (auto error = read_string(ignored)) return error;
    } else if (openai && field == "n") {
      std::uint64_t value = 0;
      if (auto error = read_integer(value, "1")) return error;
      if (value != 1) return bad(field, "'n' must be 1 (one choice per request)");
    } else if (openai && (field == "presence_penalty" || field == "frequency_penalty")) {
      double value = 0;
      if (auto error = read_number(value)) return error;
      if (value != 0) return bad(field, "'" + field + "' is not supported (only 0)");
    } else if (openai && field == "stream_options") {
      if (auto wrong = want(json::Kind::object, "an object")) return wrong;
      if (auto open = r.begin_object(); !open) return malformed(open.error());
      std::string member;
      for (;;) {
        auto next = r.next_key(member);
        if (!next) return malformed(next.error());
        if (!*next) break;
        if (member != "include_usage") return bad("stream_options." + member, "unknown field 'stream_options." + member + "'");
        auto member_kind = r.value_kind();
        if (!member_kind) return malformed(member_kind.error());
        if (*member_kind != json::Kind::boolean) {
          return bad("stream_options.include_usage", "'stream_options.include_usage' must be true or false");
        }
        auto value = r.boolean();
        if (!value) return malformed(value.error());
        p.include_usage = *value;
      }
    } else if (field == "stop") {
      // A string or a list of at most 4, none empty (OpenAI's limits).
      const auto add = [&](std::string value) -> std::optional<ApiError> {
        if (value.empty() || value.size() > 256) return bad(field, "a stop string must have 1 to 256 bytes");
        if (p.stop.size() == 4) return bad(field, "at most 4 stop strings");
        p.stop.push_back(std::move(value));
        return std::nullopt;
      };
      if (*kind == json::Kind::string) {
        auto text = r.string();
        if (!text) return malformed(text.error());
        if (auto error = add(std::move(*text))) return error;
      } else if (*kind == json::Kind::array) {
        if (auto open = r.begin_array(); !open) return malformed(open.error());
        for (;;) {
          auto element = r.next_element();
          if (!element) return malformed(element.error());
          if (!*element) break;
          auto element_kind = r.value_kind();
          if (!element_kind) return malformed(element_kind.error());
          if (*element_kind != json::Kind::string) return bad(field, "'stop' must be a string or a list of strings");
          auto text = r.string();
          if (!text) return malformed(text.error());
          if (auto error = add(std::move(*text))) return error;
        }
      } else {
        return bad(field, "'stop' must be a string or a list of strings");
      }
    } else if (openai && (field == "echo" || field == "logprobs")) {
      if (auto wrong = want(json::Kind::boolean, "false")) return wrong;
      auto value = r.boolean();
      if (!value) return malformed(value.error());
      if (*value) return bad(field, "'" + field + "' is not supported (only false)");
    } else {
      return bad(field, "unknown field '" + field + "'");
    }
  }
  if (auto done = r.finish(); !done) return malformed(done.error());
  if (api == Api::chat && !p.has_messages) return bad("messages", "'messages' is required");
  if (api != Api::chat && !p.has_prompt) return bad("prompt", "'prompt' is required");
  return std::nullopt;
}

// The chat prompt. plain: the messages' contents, each followed by a newline, the reply after
// them (for models without a chat format, such as the llama2.c story models); llama2: Llama 2's
// [INST] template (run.c's); chatml: <|im_start|>role ... <|im_end|> (Qwen2).
std::string render_chat(const std::vector<Message>& messages, const std::string& chat_template) {
  std::string prompt;
  if (chat_template == "chatml") {
    for (const Message& m : messages) prompt += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    return prompt + "<|im_start|>assistant\n";
  }
  if (chat_template == "llama2") {
    std::string system;
    bool first = true;
    for (const Message& m : messages) {
      if (m.role == "system") {
        system = m.content;
      } else if (m.role == "user") {
        prompt += forma::text::llama2_chat_prompt(system, m.content, first);
        first = false;
      } else {
        prompt += " " + m.content + " ";
      }
    }
    return prompt;
  }
  for (const Message& m : messages) prompt += m.content + "\n";
  return prompt;
}

// ---------------------------------------------------------------------------------------------
// The server.

class Server {
 public:
  Server(const Options& options, Engine& engine)
      : options_(options), engine_(engine), scheduler_(options.max_queue),
        created_(static_cast<long long>(std::time(nullptr))) {}

  int run() {
    const std::size_t pool = options_.max_queue + 6;  // a streaming response holds a pool thread
    http_.new_task_queue = [pool] { return new httplib::ThreadPool(pool); };
    http_.set_payload_max_length(options_.max_body_bytes);
    http_.set_read_timeout(30, 0);
    http_.set_write_timeout(30, 0);
    http_.set_keep_alive_timeout(5);
    http_.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(forma_serve::playground_html, "text/html; charset=utf-8");
    });
    http_.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      const std::size_t line = scheduler_.in_line();
      std::string body = "{\"status\": \"ok\", \"model\": " + json::quote(options_.model_name);
      body += ", \"running\": " + std::to_string(std::min<std::size_t>(line, 1));
      body += ", \"waiting\": " + std::to_string(line > 0 ? line - 1 : 0);
      body += ", \"max_queue\": " + std::to_string(options_.max_queue) + "}";
      res.set_content(body, "application/json");
    });
    http_.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      std::string body = "{\"object\": \"list\", \"data\": [{\"id\": " + json::quote(options_.model_name);
      body += ", \"object\": \"model\", \"created\": " + std::to_string(created_);
      body += ", \"owned_by\": \"forma\", \"context_length\": " + std::to_string(engine_.context_length()) + "}]}";
      res.set_content(body, "application/json");
    });
    http_.Post("/v1/generate", [this](const httplib::Request& req, httplib::Response& res) {
      handle(Api::generate, req, res);
    });
    http_.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      handle(Api::completions, req, res);
    });
    http_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      handle(Api::chat, req, res);
    });
    // Every other error (404, 405, 413 for an oversized body) as a JSON error too.
    http_.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req,
                                                                        httplib::Response& res) {
      if (!res.body.empty() || res.is_chunked_content_provider_) return httplib::Server::HandlerResponse::Unhandled;
      std::string field;
      std::string message;
      if (res.status == 413) {
        message = "the request body is larger than " + std::to_string(options_.max_body_bytes) + " bytes";
        field = "body";
      } else if (res.status == 404) {
        message = "no endpoint " + req.method + " " + req.path;
      } else {
        message = "HTTP error " + std::to_string(res.status);
      }
      res.set_content(error_body({res.status, message, field}), "application/json");
      return httplib::Server::HandlerResponse::Handled;
    }));
    http_.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr error) {
      std::string message = "internal error";
      try {
        if (error) std::rethrow_exception(error);
      } catch (const std::exception& e) {
        message += std::string(": ") + e.what();
      } catch (...) {
      }
      res.status = 500;
      res.set_content(error_body({500, message, ""}), "application/json");
    });
    http_.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      std::fprintf(stderr, "%s %s %d\n", req.method.c_str(), req.path.c_str(), res.status);
    });

    int port = options_.port;
    if (port == 0) {
      port = http_.bind_to_any_port(options_.host);
      if (port < 0) fail("cannot listen on " + options_.host + " (any port)");
    } else if (!http_.bind_to_port(options_.host, port)) {
      fail("cannot listen on " + options_.host + ":" + std::to_string(port));
    }
    const bool ipv6 = options_.host.find(':') != std::string::npos;
    std::printf("listening on http://%s:%d\n", (ipv6 ? "[" + options_.host + "]" : options_.host).c_str(), port);
    std::fflush(stdout);
    const bool served = http_.listen_after_bind();
    return served || shutting_down.load() ? 0 : 1;
  }

  void stop() {
    shutting_down.store(true);
    scheduler_.wake_all();
    http_.stop();
  }

 private:
  void reply_error(httplib::Response& res, const ApiError& error) {
    res.status = error.status;
    res.set_content(error_body(error), "application/json");
  }

  void handle(Api api, const httplib::Request& req, httplib::Response& res) {
    const auto arrived = clock_type::now();
    const auto deadline = arrived + std::chrono::duration_cast<clock_type::duration>(
                                        std::chrono::duration<double>(options_.timeout));
    Params params;
    if (auto error = parse_params(req.body, api, options_, params)) return reply_error(res, *error);
    Job job;
    job.prompt = api == Api::chat ? render_chat(params.messages, options_.chat_template) : std::move(params.prompt);
    job.stop = std::move(params.stop);
    // A chat reply ends where the template's next turn would begin.
    if (api == Api::chat && options_.chat_template == "chatml") job.stop.push_back("<|im_end|>");
    if (api == Api::chat && options_.chat_template == "llama2") job.stop.push_back("[INST]");
    const char* prompt_field = api == Api::chat ? "messages" : "prompt";
    if (job.prompt.size() > options_.max_prompt_bytes) {
      return reply_error(res, bad(prompt_field, "the prompt has " + std::to_string(job.prompt.size()) +
                                                    " bytes, more than the limit of " +
                                                    std::to_string(options_.max_prompt_bytes)));
    }
    auto positions = engine_.prompt_positions(job.prompt);
    if (!positions) return reply_error(res, bad(prompt_field, positions.error().to_string()));
    if (*positions >= engine_.context_length()) {
      return reply_error(res, bad(prompt_field, "the prompt takes " + std::to_string(*positions) +
                                                    " positions; the model's context is " +
                                                    std::to_string(engine_.context_length()) +
                                                    " (at least one must be left to generate)"));
    }
    job.max_tokens = params.max_tokens.value_or(options_.default_max_tokens);
    job.sampling = {.temperature = params.temperature,
                    .top_p = params.top_p,
                    .top_k = 0,
                    .seed = params.seed.value_or(0) != 0 ? *params.seed : random_seed()};
    job.deadline = deadline;

    std::shared_ptr<Scheduler::Ticket> ticket = scheduler_.admit();
    if (!ticket) {
      return reply_error(res, {429, "the server is busy: " + std::to_string(options_.max_queue) +
                                        " requests are already waiting (--max-queue)", ""});
    }
    if (!ticket->wait_turn(deadline)) {
      return reply_error(res, {503, shutting_down.load() ? "the server is shutting down"
                                                         : "timed out waiting for the model (--timeout)", ""});
    }
    const std::string id = std::to_string(next_id_.fetch_add(1));
    const long long created = static_cast<long long>(std::time(nullptr));
    job.id = id;
    if (!params.stream) {
      std::string text;
      auto outcome = engine_.run(job, [&](std::int32_t, std::string_view piece) {
        text.append(piece);
        return true;
      });
      if (!outcome) return reply_error(res, {500, outcome.error().to_string(), ""});
      res.set_content(full_answer(api, id, created, text, *outcome), "application/json");
      return;
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, api, job = std::move(job), ticket, id, created, include_usage = params.include_usage](
            std::size_t, httplib::DataSink& sink) {
          // The provider runs outside httplib's exception handler: an exception ends this stream
          // with an error event, never the server.
          try {
            stream(api, job, id, created, include_usage, sink);
            return true;
          } catch (const std::exception& e) {
            const std::string event = "data: " + error_body({500, std::string("internal error: ") + e.what(), ""}) + "\n\n";
            sink.write(event.data(), event.size());
          }
          return false;
        });
  }

  static std::uint64_t random_seed() {
    static std::mutex mutex;
    static std::mt19937_64 generator{std::random_device{}()};
    std::lock_guard lock(mutex);
    std::uint64_t seed = 0;
    while (seed == 0) seed = generator();
    return seed;
  }

  static std::string usage_json(const Outcome& outcome) {
    return "{\"prompt_tokens\": " + std::to_string(outcome.prompt_tokens) +
           ", \"completion_tokens\": " + std::to_string(outcome.completion_tokens) +
           ", \"total_tokens\": " + std::to_string(outcome.prompt_tokens + outcome.completion_tokens) + "}";
  }
  // OpenAI's finish_reason: "stop" at the end token or a stop string, else "length".
  static const char* finish_reason(const Outcome& outcome) {
    return outcome.stop_reason == "eos" || outcome.stop_reason == "stop" ? "stop" : "length";
  }
  std::string head(Api api, const std::string& id, long long created, bool chunk) const {
    const char* object = api == Api::chat ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                          : "text_completion";
    return std::string("{\"id\": \"") + (api == Api::chat ? "chatcmpl-" : "cmpl-") + id + "\", \"object\": \"" +
           object + "\", \"created\": " + std::to_string(created) + ", \"model\": " + json::quote(options_.model_name);
  }

  std::string full_answer(Api api, const std::string& id, long long created, const std::string& text,
                          const Outcome& outcome) const {
    if (api == Api::generate) {
      return "{\"text\": " + json::quote(text) + ", \"stop_reason\": \"" + outcome.stop_reason +
             "\", \"prompt_tokens\": " + std::to_string(outcome.prompt_tokens) +
             ", \"completion_tokens\": " + std::to_string(outcome.completion_tokens) +
             ", \"model\": " + json::quote(options_.model_name) + "}";
    }
    std::string body = head(api, id, created, false) + ", \"choices\": [{\"index\": 0, ";
    if (api == Api::chat) {
      body += "\"message\": {\"role\": \"assistant\", \"content\": " + json::quote(text) + "}";
    } else {
      body += "\"text\": " + json::quote(text);
    }
    body += std::string(", \"logprobs\": null, \"finish_reason\": \"") + finish_reason(outcome) + "\"}]";
    return body + ", \"usage\": " + usage_json(outcome) + "}";
  }

  // One streamed response: SSE events, each "data: <json>\n\n".
  void stream(Api api, const Job& job, const std::string& id, long long created, bool include_usage,
              httplib::DataSink& sink) {
    bool open = true;
    const auto send = [&](const std::string& data) {
      const std::string event = "data: " + data + "\n\n";
      open = open && sink.write(event.data(), event.size());
      return open;
    };
    const auto chunk = [&](std::string_view text, const char* finish) {
      std::string body = head(api, id, created, true) + ", \"choices\": [{\"index\": 0, ";
      if (api == Api::chat) {
        body += text.empty() && finish != nullptr ? "\"delta\": {}" : "\"delta\": {\"content\": " + json::quote(text) + "}";
      } else {
        body += "\"text\": " + json::quote(text) + ", \"logprobs\": null";
      }
      body += std::string(", \"finish_reason\": ") + (finish ? "\"" + std::string(finish) + "\"" : "null") + "}]";
      return body;
    };
    if (api == Api::chat) {
      send(head(api, id, created, true) +
           ", \"choices\": [{\"index\": 0, \"delta\": {\"role\": \"assistant\", \"content\": \"\"}, "
           "\"finish_reason\": null}]}");
    }
    std::string tail;  // /v1/generate: text flushed at the end goes in the final event
    auto outcome = engine_.run(job, [&](std::int32_t token, std::string_view text) {
      if (api == Api::generate) {
        if (token < 0) {
          tail.append(text);
          return open;
        }
        return send("{\"token\": " + std::to_string(token) + ", \"text\": " + json::quote(text) + "}");
      }
      if (text.empty()) return open;
      return send(chunk(text, nullptr) + "}");
    });
    if (!open) return;  // the client left: nothing more to say
    if (!outcome) {
      send(error_body({500, outcome.error().to_string(), ""}));
    } else if (api == Api::generate) {
      send("{\"done\": true, \"text\": " + json::quote(tail) + ", \"stop_reason\": \"" + outcome->stop_reason +
           "\", \"prompt_tokens\": " + std::to_string(outcome->prompt_tokens) +
           ", \"completion_tokens\": " + std::to_string(outcome->completion_tokens) + "}");
    } else {
      send(chunk("", finish_reason(*outcome)) + ", \"usage\": " + usage_json(*outcome) + "}");
      if (include_usage) send(head(api, id, created, true) + ", \"choices\": [], \"usage\": " + usage_json(*outcome) + "}");
      send("[DONE]");
    }
    if (open) sink.done();
  }

  const Options& options_;
  Engine& engine_;
  Scheduler scheduler_;
  httplib::Server http_;
  long long created_;
  std::atomic<std::uint64_t> next_id_{1};
};

// SIGINT/SIGTERM are blocked in every thread and taken here, outside a signal handler.
void wait_for_signal(Server& server) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  int received = 0;
  if (sigwait(&signals, &received) == 0) {
    std::fprintf(stderr, "forma-serve: %s, shutting down\n", received == SIGINT ? "SIGINT" : "SIGTERM");
    server.stop();
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options = parse(argc, argv);
  // Before any thread starts, so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto served = forma::text::with_checkpoint<int>(
      {.path = options.checkpoint,
       .fast_arithmetic = options.arithmetic == "fast",
       .gguf_tokenizer = !options.tokenizer,
       .gguf_tokenizer_hint = " (pass a tokenizer with -z)"},
      [&](auto& model, forma::text::CheckpointContext& context) -> int {
        auto tokenizer = forma::text::load_tokenizer(context, {.path = options.tokenizer}, model.vocab_size());
        if (!tokenizer) fail(tokenizer.error().to_string());
        if (options.max_tokens_limit == 0 || options.max_tokens_limit > model.max_sequence()) {
          options.max_tokens_limit = model.max_sequence();
        }
        options.default_max_tokens = std::min(options.default_max_tokens, options.max_tokens_limit);
        return std::visit(
            [&](const auto& chosen) {
              using Tokenizer = std::remove_cvref_t<decltype(chosen)>;
              ModelEngine<std::remove_cvref_t<decltype(model)>, Tokenizer> engine(model, chosen, options.token_delay_ms);
              Server server(options, engine);
              std::thread signals_thread([&server] { wait_for_signal(server); });
              const int status = server.run();
              // Wake the signal thread if the server ended on its own.
              if (!shutting_down.load()) pthread_kill(signals_thread.native_handle(), SIGTERM);
              signals_thread.join();
              return status;
            },
            *tokenizer);
      });
  if (!served) fail(served.error().to_string());
  return *served;
}
