// forma-run — llama2.c's `run`, on forma: the same flags, the same text on stdout.
//
//   forma-run model.bin -z tok.bin -t 1.0 -p 0.9 -s 42 -n 256 -i "prompt" -m generate|chat
//   forma-run CHECKPOINT --tokens 1,2,3 --logits-out logits.npy
//
// CHECKPOINT is a llama2.c .bin, an llm.c GPT-2 .bin (magic 20240326), a Hugging Face model
// directory (config.json + safetensors: Llama, Qwen2 or GPT-2, found from model_type) or a GGUF
// file (magic "GGUF": general.architecture llama or qwen2, any dequantizable tensor types,
// dequantized to f32 on load); the family is detected. --tokens feeds exactly these ids (no BOS) and --logits-out writes the logits of
// every position as a float32 .npy of shape (T, vocab). Generating from a GPT-2 or Qwen2
// checkpoint uses the byte-level BPE tokenizer beside it (tokenizer.json, vocab.json + merges.txt
// or encoder.json + vocab.bpe), or the one -z names; the prompt gets no BOS and an empty prompt
// starts from <|endoftext|>. Generating from a GGUF file uses the file's own tokenizer
// (forma/text/gguf_tokenizer.hpp: 'llama' SentencePiece, prompt after BOS as run.c; 'gpt2' BPE with
// the GPT-2 pre-tokenizer, no BOS), or the one -z names.
//
// Additions: -c <int> context (the KV cache holds this many positions; 0 = max_seq), -k <int> top-k (0 = off), -o text|ids (print the token ids instead of the text),
// -a llama2c|fast: the arithmetic. The default, llama2c, sums every dot product left to right as
// run.c does, so the logits — and the sampled tokens for any seed — are run.c's bit for bit;
// fast uses SIMD partial sums (different rounding in the last bits, about 4× faster matvecs).
// Where run.c clamps silently, forma-run refuses with a one-line error and exit status 1: more
// steps than the model's max_seq, a prompt longer than max_seq, a tokenizer whose vocabulary
// differs from the model's. A checkpoint whose header matches a preset runs on the static
// type; any other valid llama2.c checkpoint runs on the same templates with dynamic extents.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <forma/io/npy.hpp>
#include <forma/text/bpe.hpp>
#include <forma/text/checkpoint.hpp>
#include <forma/text/generate.hpp>
#include <forma/text/sampler.hpp>
#include <forma/text/tokenizer.hpp>

namespace {

struct Options {
  std::string checkpoint;
  std::string tokenizer = "tokenizer.bin";
  float temperature = 1.0f;
  float top_p = 0.9f;
  std::size_t top_k = 0;
  int steps = 256;
  std::optional<std::string> prompt;
  unsigned long long seed = 0;
  std::string mode = "generate";
  std::optional<std::string> system_prompt;
  std::string output = "text";
  std::string arithmetic = "llama2c";
  std::size_t context = 0;  // -c: positions to run (the KV cache's size), 0 = max_seq
  bool tokenizer_given = false;
  std::optional<std::string> tokens;      // --tokens 1,2,3
  std::optional<std::string> logits_out;  // --logits-out FILE.npy
};

[[noreturn]] void usage() {
  std::fputs(
      "Usage:   forma-run <checkpoint> [options]\n"
      "Example: forma-run model.bin -n 256 -i \"Once upon a time\"\n"
      "Options:\n"
      "  -t <float>  temperature in [0,inf], default 1.0\n"
      "  -p <float>  p value in top-p (nucleus) sampling in [0,1] default 0.9\n"
      "  -s <int>    random seed, default time(NULL)\n"
      "  -n <int>    number of steps to run for, default 256. 0 = max_seq_len\n"
      "  -i <string> input prompt\n"
      "  -z <string> optional path to custom tokenizer\n"
      "  -m <string> mode: generate|chat, default: generate\n"
      "  -y <string> (optional) system prompt in chat mode\n"
      "  -k <int>    top-k: sample among the k most likely tokens, default 0 = off\n"
      "  -o <string> output: text|ids (ids: generate mode only), default: text\n"
      "  -a <string> arithmetic: llama2c (run.c's summation order) | fast, default: llama2c\n"
      "  -c <int>    context: the positions the KV cache holds, default 0 = the model's max_seq\n"
      "  --tokens <ids>       feed exactly these comma-separated token ids (no BOS)\n"
      "  --logits-out <file>  with --tokens: write every position's logits, float32 (T, vocab) .npy\n"
      "<checkpoint>: a llama2.c .bin, an llm.c GPT-2 .bin, a Hugging Face model directory or a\n"
      "              GGUF file (llama, qwen2; generated with its own tokenizer unless -z)\n",
      stderr);
  std::exit(EXIT_FAILURE);
}

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "forma-run: %s\n", message.c_str());
  std::exit(EXIT_FAILURE);
}

// run.c's "poor man's argparse": a checkpoint, then -x value pairs.
Options parse(int argc, char** argv) {
  Options o;
  if (argc < 2) usage();
  o.checkpoint = argv[1];
  for (int i = 2; i < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--tokens" || flag == "--logits-out") {
      if (i + 1 >= argc) fail(std::string(flag) + " needs a value");
      (flag == "--tokens" ? o.tokens : o.logits_out) = std::string(argv[i + 1]);
      continue;
    }
    if (i + 1 >= argc || argv[i][0] != '-' || std::strlen(argv[i]) != 2) usage();
    const char* value = argv[i + 1];
    switch (argv[i][1]) {
      case 't': o.temperature = static_cast<float>(std::atof(value)); break;
      case 'p': o.top_p = static_cast<float>(std::atof(value)); break;
      case 's': o.seed = static_cast<unsigned long long>(std::atoi(value)); break;
      case 'n': o.steps = std::atoi(value); break;
      case 'i': o.prompt = value; break;
      case 'z':
        o.tokenizer = value;
        o.tokenizer_given = true;
        break;
      case 'm': o.mode = value; break;
      case 'y': o.system_prompt = value; break;
      case 'k': o.top_k = static_cast<std::size_t>(std::max(0, std::atoi(value))); break;
      case 'o': o.output = value; break;
      case 'a': o.arithmetic = value; break;
      case 'c': {
        char* end = nullptr;
        const long long n = std::strtoll(value, &end, 10);
        if (end == value || *end != '\0' || n < 0) fail(std::string("-c: not a context length: '") + value + "'");
        o.context = static_cast<std::size_t>(n);
        break;
      }
      default: usage();
    }
  }
  // run.c's overrides of out-of-range values.
  if (o.seed == 0) o.seed = static_cast<unsigned int>(std::time(nullptr));
  if (o.temperature < 0.0f) o.temperature = 0.0f;
  if (o.top_p < 0.0f || 1.0f < o.top_p) o.top_p = 0.9f;
  if (o.steps < 0) o.steps = 0;
  if (o.mode != "generate" && o.mode != "chat") {
    std::fprintf(stderr, "unknown mode: %s\n", o.mode.c_str());
    usage();
  }
  if (o.output != "text" && o.output != "ids") fail("unknown output '" + o.output + "' (text or ids)");
  if (o.output == "ids" && o.mode == "chat") fail("-o ids is for -m generate (chat prints its turns as text)");
  if (o.arithmetic != "llama2c" && o.arithmetic != "fast") {
    fail("unknown arithmetic '" + o.arithmetic + "' (llama2c or fast)");
  }
  if (o.tokens.has_value() != o.logits_out.has_value()) {
    fail("--tokens and --logits-out go together (the ids to feed and the .npy to write)");
  }
  return o;
}

// "1,2,3" → ids; anything else (empty, a sign, a non-digit, an empty element, > int32) is an error.
std::vector<std::int32_t> parse_ids(const std::string& text) {
  std::vector<std::int32_t> ids;
  std::size_t i = 0;
  if (text.empty()) fail("--tokens: no token ids");
  while (i <= text.size()) {
    const std::size_t end = std::min(text.find(',', i), text.size());
    const std::string_view item(text.data() + i, end - i);
    std::int64_t value = 0;
    const bool digits = !item.empty() && item.size() <= 10 &&
                        std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits) {
      for (char c : item) value = value * 10 + (c - '0');
    }
    if (!digits || value > std::numeric_limits<std::int32_t>::max()) {
      fail("--tokens: '" + std::string(item) + "' (item " + std::to_string(ids.size()) +
           ") is not a token id (comma-separated non-negative integers, e.g. 1,2,3)");
    }
    ids.push_back(static_cast<std::int32_t>(value));
    i = end + 1;
  }
  return ids;
}

// --tokens/--logits-out: every position's logits of exactly these ids, as (T, vocab) float32.
template <class Model>
int dump_logits(const Options& o, Model& model) {
  const std::vector<std::int32_t> ids = parse_ids(*o.tokens);
  if (ids.size() > model.max_sequence()) {
    fail("--tokens: " + std::to_string(ids.size()) + " ids exceed the model's max_seq of " +
         std::to_string(model.max_sequence()));
  }
  const std::size_t vocab = model.vocab_size();
  forma::Tensor<float, forma::extents<forma::dyn, forma::dyn>> logits(ids.size(), vocab);
  using all_type = forma::TensorView<float, forma::extents<forma::dyn, Model::vocab>>;
  const all_type all(logits.data(), typename all_type::extents_type(std::array{ids.size(), vocab}));
  auto last = model.prefill(ids, 0, all);
  if (!last) fail(last.error().to_string());
  if (auto saved = forma::io::save_npy(*o.logits_out, logits); !saved) fail(saved.error().to_string());
  std::fprintf(stderr, "wrote %s: logits (%zu, %zu)\n", o.logits_out->c_str(), ids.size(), vocab);
  return 0;
}

// Generation with a byte-level BPE tokenizer (GPT-2 and Qwen2 checkpoints).
template <class Model>
int run_bpe(const Options& o, Model& model, const forma::text::BpeTokenizer& tokenizer, std::size_t steps) {
  if (o.mode == "chat") fail("-m chat needs a llama2.c tokenizer (Llama 2's chat template); use -m generate");
  forma::text::Sampler sampler(model.vocab_size(), {.temperature = o.temperature,
                                                     .top_p = o.top_p,
                                                     .top_k = o.top_k,
                                                     .seed = o.seed});
  const bool ids = o.output == "ids";
  bool first = true;
  auto stats = forma::text::generate(
      model, tokenizer, sampler, o.prompt.value_or(""), {.steps = steps, .stop_at_eos = false},
      [&](std::int32_t token, std::string_view text, bool from_prompt) {
        if (ids) {
          if (token < 0 || from_prompt) return;
          std::printf(first ? "%d" : " %d", token);
          first = false;
        } else {
          std::fwrite(text.data(), 1, text.size(), stdout);
        }
        std::fflush(stdout);
      });
  if (!stats) fail(stats.error().to_string());
  std::printf("\n");
  if (stats->generated_tokens > 0) {
    std::fprintf(stderr, "achieved tok/s: %f\n", stats->tokens_per_second);
    std::fprintf(stderr, "time to first token: %.3f ms\n", stats->time_to_first_token * 1000.0);
  }
  return 0;
}

// Generation and chat with a SentencePiece tokenizer (llama2.c's tokenizer.bin, a GGUF 'llama' one).
template <class Model>
int run_llama2c(const Options& o, Model& model, const forma::text::Tokenizer& tokenizer, std::size_t steps) {
  forma::text::Sampler sampler(model.vocab_size(), {.temperature = o.temperature,
                                                     .top_p = o.top_p,
                                                     .top_k = o.top_k,
                                                     .seed = o.seed});
  if (o.mode == "chat") {
    // run.c's stdin handling: 512-byte fgets lines, and at end of input the last line again.
    auto done = forma::text::chat(
        model, tokenizer, sampler,
        {.steps = steps,
         .user_prompt = o.prompt,
         .system_prompt = o.system_prompt,
         .at_end_of_input = forma::text::ChatEndOfInput::reuse_previous},
        [](std::string_view guide) -> std::optional<std::string> {
          std::fwrite(guide.data(), 1, guide.size(), stdout);
          std::fflush(stdout);
          return forma::text::read_line_like_run_c(stdin);
        },
        [](std::string_view text) {
          std::fwrite(text.data(), 1, text.size(), stdout);
          std::fflush(stdout);
        });
    if (!done) fail(done.error().to_string());
    return 0;
  }
  const bool ids = o.output == "ids";
  bool first = true;
  auto stats = forma::text::generate(
      model, tokenizer, sampler, o.prompt.value_or(""), {.steps = steps, .stop_at_eos = false},
      [&](std::int32_t token, std::string_view text, bool) {
        if (ids) {
          std::printf(first ? "%d" : " %d", token);
          first = false;
        } else if (forma::text::Tokenizer::printable(text)) {
          std::fwrite(text.data(), 1, text.size(), stdout);
        }
        std::fflush(stdout);
      });
  if (!stats) fail(stats.error().to_string());
  std::printf("\n");
  if (stats->positions > 1) {
    std::fprintf(stderr, "achieved tok/s: %f\n", stats->tokens_per_second);
    std::fprintf(stderr, "time to first token: %.3f ms\n", stats->time_to_first_token * 1000.0);
  }
  return 0;
}

// The tokenizer (a GGUF file's own, -z's, the BPE files beside a Hugging Face checkpoint or
// tokenizer.bin), then generation or chat with it; or --tokens' logits, which need none.
template <class Model>
int run_model(const Options& o, Model& model, forma::text::CheckpointContext& context) {
  if (o.tokens) return dump_logits(o, model);
  const std::size_t max_seq = model.max_sequence();
  std::size_t steps = static_cast<std::size_t>(o.steps);
  if (steps == 0) steps = max_seq;
  if (steps > max_seq) {
    fail("-n " + std::to_string(steps) + " exceeds " +
         (o.context != 0 ? "the context (-c) of " : "the model's max_seq of ") + std::to_string(max_seq));
  }
  auto tokenizer = forma::text::load_tokenizer(
      context, {.path = o.tokenizer_given ? std::optional<std::string>(o.tokenizer) : std::nullopt}, model.vocab_size());
  if (!tokenizer) fail(tokenizer.error().to_string());
  if (const auto* bpe = std::get_if<forma::text::BpeTokenizer>(&*tokenizer)) return run_bpe(o, model, *bpe, steps);
  return run_llama2c(o, model, std::get<forma::text::Tokenizer>(*tokenizer), steps);
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  // Generation from a GGUF file without -z uses the file's own tokenizer (read before the weights).
  auto done = forma::text::with_checkpoint<int>(
      {.path = options.checkpoint,
       .fast_arithmetic = options.arithmetic == "fast",
       .gguf_tokenizer = !options.tokens && !options.tokenizer_given,
       .gguf_tokenizer_hint = " (generation needs a tokenizer: pass -z, or --tokens ids --logits-out FILE.npy)",
       .context = options.context},
      [&](auto& model, forma::text::CheckpointContext& context) { return run_model(options, model, context); });
  if (!done) fail(done.error().to_string());
  return *done;
}
