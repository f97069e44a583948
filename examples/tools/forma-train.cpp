// forma-train — trains a llama2.c model (forma::train::LlamaTrainer) on a token stream.
//
//   forma-train --config tiny --seed 1 --data story.txt -z tok512.bin --batch 8 --seq 64
//               --steps 200 --out run/
//   forma-run run/model.bin -z tok512.bin -i "Once upon a time"
//
// The model: --init CHECKPOINT (a legacy llama2.c file of any shape forma-run reads, GQA and a
// separate classifier included) or --config NAME initialised from --seed (GPT-2 style:
// normal(0, 0.02), wo and w2 scaled by 1/sqrt(2·layers), norms 1). Presets: tiny, stories260K,
// stories15M. The trainer is LlamaTrainer<any_llama, dyn, dyn>: the shape, B and T are run-time
// values, one allocation of state_bytes(shape, B, T) bytes. --recompute keeps only each layer's
// input and recomputes the rest in the backward (recompute::layers: less memory, the same bits).
// --data: a .bin of little-endian uint16 ids, or a text file encoded with -z as llama2.c's
// pretokenizer encodes a story (BOS, then run.c's encode of the whole text with its dummy-prefix
// space, no EOS). Batches as llm.c's DataLoader (sequential) or seeded random windows
// (forma/train/data.hpp). Each step: forward + backward, the global gradient norm clipped to
// --clip (0 = off), one AdamW step (decay on the matrices and the embedding), the learning rate
// of forma/train/optim.hpp's lr_schedule.
// --out DIR: model.bin (llama2.c legacy), checkpoint.safetensors (forma::train::save_checkpoint:
// parameters, AdamW moments, step, plus the data position, RNG state and the run's flags, with an
// FNV-1a checksum of all of it; written to a temporary file, fsynced, renamed), loss.csv
// (step,loss,lr,grad_norm,tokens_per_s).
// Every error is one line on stderr, exit status 1, before any training and before DIR is touched.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <new>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <forma/io/llama2c.hpp>
#include <forma/io/mmap.hpp>
#include <forma/io/safetensors.hpp>
#include <forma/models/presets.hpp>
#include <forma/text/tokenizer.hpp>
#include <forma/train/checkpoint.hpp>
#include <forma/train/data.hpp>
#include <forma/train/llama_trainer.hpp>
#include <forma/train/optim.hpp>

namespace {

namespace fs = std::filesystem;
using forma::LlamaConfig;

constexpr LlamaConfig tiny_config{.dim = 32, .hidden = 96, .layers = 2, .heads = 4, .kv_heads = 2,
                                  .vocab = 512, .max_seq = 128,
                                  .classifier = forma::classifier_kind::shared};
constexpr LlamaConfig stories15m_config{.dim = 288, .hidden = 768, .layers = 6, .heads = 6,
                                        .kv_heads = 6, .vocab = 32000, .max_seq = 256,
                                        .classifier = forma::classifier_kind::shared};

struct Options {
  std::optional<std::string> init, config, tokenizer, resume;
  std::string data, out;
  std::uint64_t seed = 0;
  std::size_t batch = 0, seq = 0, steps = 0, warmup = 0, save_every = 0, stop_after = 0;
  double lr = 3e-4, min_lr = 0, beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weight_decay = 0.1, clip = 1.0;
  std::string schedule = "constant", order = "sequential";
  bool recompute = false;
};

[[noreturn]] void usage() {
  std::fputs(
      "Usage: forma-train (--init CHECKPOINT | --config NAME [--seed S]) --data FILE [-z TOKENIZER]\n"
      "                   --batch B --seq T --steps N --out DIR\n"
      "                   [--lr 3e-4] [--min-lr 0] [--warmup 0] [--schedule constant|cosine]\n"
      "                   [--beta1 0.9] [--beta2 0.95] [--eps 1e-8] [--weight-decay 0.1] [--clip 1.0]\n"
      "                   [--order sequential|random] [--recompute] [--save-every K]\n"
      "                   [--stop-after S] [--resume DIR]\n"
      "  --config: tiny (dim 32, hidden 96, 2 layers, 4 heads, 2 kv heads, vocab 512, seq 128),\n"
      "            stories260K (64, 172, 5, 8, 4, 512, 512), stories15M (288, 768, 6, 6, 6, 32000, 256)\n"
      "  --init:   a llama2.c checkpoint of any shape (its config and weights)\n"
      "  --seq:    any T up to the model's seq; --batch: any B >= 1\n"
      "  --data:   .bin = uint16 token ids; otherwise text encoded with -z (BOS + run.c's encode)\n"
      "  --seed:   the initialisation (--config) and the random batch order (mt19937_64)\n"
      "  --recompute: keep only each layer's input, recompute the rest in the backward (less\n"
      "            memory, one more forward per step, the same results bit for bit)\n",
      stderr);
  std::exit(EXIT_FAILURE);
}

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "forma-train: %s\n", message.c_str());
  std::exit(EXIT_FAILURE);
}

std::size_t parse_count(std::string_view flag, const char* value) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long n = std::strtoull(value, &end, 10);
  if (value[0] == '\0' || value[0] == '-' || *end != '\0' || errno != 0) {
    fail(std::string(flag) + ": '" + value + "' is not a non-negative integer");
  }
  return static_cast<std::size_t>(n);
}

double parse_real(std::string_view flag, const char* value) {
  char* end = nullptr;
  errno = 0;
  const double x = std::strtod(value, &end);
  if (value[0] == '\0' || *end != '\0' || errno != 0 || !std::isfinite(x)) {
    fail(std::string(flag) + ": '" + value + "' is not a number");
  }
  return x;
}

Options parse(int argc, char** argv) {
  if (argc < 2) usage();
  Options o;
  bool have_batch = false, have_seq = false, have_steps = false, have_stop = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--recompute") {
      o.recompute = true;
      continue;
    }
    if (flag == "-h" || flag == "--help") usage();
    static constexpr std::string_view known[] = {
        "--init", "--config", "--seed", "--data", "-z", "--batch", "--seq", "--steps", "--out",
        "--lr", "--min-lr", "--warmup", "--schedule", "--beta1", "--beta2", "--eps",
        "--weight-decay", "--clip", "--order", "--save-every", "--stop-after", "--resume"};
    bool is_known = false;
    for (const auto k : known) is_known = is_known || k == flag;
    if (!is_known) fail("unknown flag '" + std::string(flag) + "' (forma-train --help lists them)");
    if (i + 1 >= argc) fail(std::string(flag) + " needs a value");
    const char* v = argv[++i];
    if (flag == "--init") o.init = v;
    else if (flag == "--config") o.config = v;
    else if (flag == "--seed") o.seed = parse_count(flag, v);
    else if (flag == "--data") o.data = v;
    else if (flag == "-z") o.tokenizer = v;
    else if (flag == "--batch") { o.batch = parse_count(flag, v); have_batch = true; }
    else if (flag == "--seq") { o.seq = parse_count(flag, v); have_seq = true; }
    else if (flag == "--steps") { o.steps = parse_count(flag, v); have_steps = true; }
    else if (flag == "--out") o.out = v;
    else if (flag == "--lr") o.lr = parse_real(flag, v);
    else if (flag == "--min-lr") o.min_lr = parse_real(flag, v);
    else if (flag == "--warmup") o.warmup = parse_count(flag, v);
    else if (flag == "--schedule") o.schedule = v;
    else if (flag == "--beta1") o.beta1 = parse_real(flag, v);
    else if (flag == "--beta2") o.beta2 = parse_real(flag, v);
    else if (flag == "--eps") o.eps = parse_real(flag, v);
    else if (flag == "--weight-decay") o.weight_decay = parse_real(flag, v);
    else if (flag == "--clip") o.clip = parse_real(flag, v);
    else if (flag == "--order") o.order = v;
    else if (flag == "--save-every") o.save_every = parse_count(flag, v);
    else if (flag == "--stop-after") { o.stop_after = parse_count(flag, v); have_stop = true; }
    else if (flag == "--resume") o.resume = v;
  }
  if (o.init.has_value() == o.config.has_value()) fail("give exactly one of --init CHECKPOINT and --config NAME");
  if (o.data.empty()) fail("--data FILE is required");
  if (o.out.empty()) fail("--out DIR is required");
  if (!have_batch || o.batch == 0) fail("--batch B (>= 1) is required");
  if (!have_seq || o.seq == 0) fail("--seq T (>= 1) is required");
  if (!have_steps || o.steps == 0) fail("--steps N (>= 1) is required");
  if (have_stop && (o.stop_after == 0 || o.stop_after >= o.steps)) {
    fail("--stop-after " + std::to_string(o.stop_after) + ": must be between 1 and --steps - 1 (" +
         std::to_string(o.steps - 1) + ")");
  }
  if (o.schedule != "constant" && o.schedule != "cosine") fail("--schedule: '" + o.schedule + "' (constant or cosine)");
  if (o.order != "sequential" && o.order != "random") fail("--order: '" + o.order + "' (sequential or random)");
  if (o.lr < 0 || o.min_lr < 0) fail("--lr and --min-lr must be >= 0");
  if (o.beta1 < 0 || o.beta1 >= 1 || o.beta2 < 0 || o.beta2 >= 1) fail("--beta1 and --beta2 must be in [0, 1)");
  if (o.eps <= 0) fail("--eps must be > 0");
  if (o.clip < 0) fail("--clip must be >= 0 (0 = off)");
  if (o.weight_decay < 0) fail("--weight-decay must be >= 0");
  return o;
}

std::string real_text(double x) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.17g", x);
  return buffer;
}

// The flags that define the run: a resumed run must give the same values.
std::vector<std::pair<std::string, std::string>> run_flags(const Options& o) {
  return {{"model", o.init ? "init " + *o.init : "config " + *o.config},
          {"seed", std::to_string(o.seed)},
          {"data", o.data},
          {"tokenizer", o.tokenizer.value_or("")},
          {"batch", std::to_string(o.batch)},
          {"seq", std::to_string(o.seq)},
          {"steps", std::to_string(o.steps)},
          {"order", o.order},
          {"schedule", o.schedule},
          {"lr", real_text(o.lr)},
          {"min_lr", real_text(o.min_lr)},
          {"warmup", std::to_string(o.warmup)},
          {"beta1", real_text(o.beta1)},
          {"beta2", real_text(o.beta2)},
          {"eps", real_text(o.eps)},
          {"weight_decay", real_text(o.weight_decay)},
          {"clip", real_text(o.clip)}};
}

// The training tokens: a .bin of uint16 ids, or a text encoded as llama2.c's pretokenizer does.
std::vector<std::int32_t> load_tokens(const Options& o, std::size_t vocab) {
  std::vector<std::int32_t> tokens;
  auto file = forma::io::MappedFile::open(o.data);
  if (!file) fail(file.error().to_string());
  const auto bytes = file->bytes();
  if (fs::path(o.data).extension() == ".bin") {
    if (bytes.size() % 2 != 0) fail(o.data + ": " + std::to_string(bytes.size()) + " bytes, not a whole number of uint16 token ids");
    tokens.resize(bytes.size() / 2);
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      tokens[i] = static_cast<std::int32_t>(std::to_integer<unsigned>(bytes[2 * i]) |
                                            (std::to_integer<unsigned>(bytes[2 * i + 1]) << 8));
    }
  } else {
    if (!o.tokenizer) fail("--data " + o.data + " is text (not .bin): give its tokenizer with -z TOKENIZER");
    auto tokenizer = forma::text::Tokenizer::load(*o.tokenizer, vocab);
    if (!tokenizer) fail(tokenizer.error().to_string());
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (auto encoded = tokenizer->encode(text, true, false, tokens); !encoded) {
      fail(o.data + ": " + encoded.error().to_string());
    }
  }
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || static_cast<std::size_t>(tokens[i]) >= vocab) {
      fail(o.data + ": token id " + std::to_string(tokens[i]) + " at position " + std::to_string(i) +
           " is not below the vocabulary size " + std::to_string(vocab));
    }
  }
  const std::size_t needed = forma::train::TokenLoader::needed(o.batch, o.seq);
  if (tokens.size() < needed) {
    fail(o.data + ": " + std::to_string(tokens.size()) + " tokens, a batch needs B*T+1 = " + std::to_string(needed));
  }
  return tokens;
}

template <forma::train::recompute R>
using Trainer = forma::train::LlamaTrainer<forma::presets::any_llama, forma::dyn, forma::dyn, R>;

template <forma::train::recompute R>
int train(const Options& o, const forma::LlamaShape& shape, std::vector<std::int32_t> tokens) {
  const std::size_t B = o.batch, T = o.seq;
  const auto flags = run_flags(o);
  const std::string resume_path = o.resume ? (fs::path(*o.resume) / "checkpoint.safetensors").string() : "";

  // Everything that can fail is checked before DIR is touched.
  std::optional<forma::io::llama2c::Checkpoint<forma::presets::any_llama>> initial;
  if (o.init && !o.resume) {
    auto loaded = forma::io::llama2c::load<forma::presets::any_llama>(*o.init);
    if (!loaded) fail(loaded.error().to_string());
    initial.emplace(std::move(*loaded));
  }
  std::unique_ptr<Trainer<R>> owner;
  try {
    owner = std::make_unique<Trainer<R>>(shape, B, T);
  } catch (const std::bad_alloc&) {
    fail("cannot allocate the training state: " + std::to_string(forma::train::state_bytes(shape, B, T, R)) +
         " bytes for B " + std::to_string(B) + " x T " + std::to_string(T));
  }
  Trainer<R>& trainer = *owner;
  forma::train::TokenLoader loader(tokens, B, T,
                                   o.order == "random" ? forma::train::batch_order::random
                                                       : forma::train::batch_order::sequential,
                                   o.seed);
  std::size_t start = 0;
  if (o.resume) {
    auto metadata = forma::train::load_checkpoint(trainer, resume_path);
    if (!metadata) fail(metadata.error().to_string());
    const auto value = [&](const std::string& key) {
      for (const auto& [k, v] : *metadata) {
        if (k == key) return v;
      }
      return std::string();
    };
    for (const auto& [key, was] : flags) {
      if (value("flag." + key) != was) {
        fail(resume_path + ": the run was made with " + key + " '" + value("flag." + key) + "', this one has '" +
             was + "'");
      }
    }
    start = static_cast<std::size_t>(trainer.steps_taken());
    if (start == 0 || start >= o.steps) {
      fail(resume_path + ": the checkpoint is at step " + std::to_string(start) + ", nothing to do up to --steps " +
           std::to_string(o.steps));
    }
    const auto position = static_cast<std::size_t>(std::strtoull(value("data_position").c_str(), nullptr, 10));
    if (position + B * T + 1 > tokens.size()) fail(resume_path + ": data position past the data");
    loader.set_position(position);
    if (!loader.set_rng_state(value("rng"))) fail(resume_path + ": unreadable RNG state");
  } else if (initial) {
    const auto& w = initial->weights();
    auto p = trainer.params();
    const auto copy = [](auto to, const auto& from) { std::memcpy(to.data(), from.data(), from.size() * sizeof(float)); };
    copy(p.token_embedding, w.token_embedding);
    copy(p.rms_att, w.rms_att);
    copy(p.wq, w.wq);
    copy(p.wk, w.wk);
    copy(p.wv, w.wv);
    copy(p.wo, w.wo);
    copy(p.rms_ffn, w.rms_ffn);
    copy(p.w1, w.w1);
    copy(p.w2, w.w2);
    copy(p.w3, w.w3);
    copy(p.rms_final, w.rms_final);
    if (!shape.shared_classifier) copy(p.classifier, w.classifier);
    initial.reset();
  } else {
    // GPT-2 style: normal(0, 0.02); the residual projections wo and w2 by 1/sqrt(2·layers); norms 1.
    std::mt19937_64 rng(o.seed);
    const double residual = 0.02 / std::sqrt(2.0 * static_cast<double>(shape.layers));
    float* params = trainer.parameters().data();
    for (const auto& slot : trainer.slots()) {
      float* x = params + slot.offset;
      const double sd = slot.name == "wo" || slot.name == "w2" ? residual : 0.02;
      for (std::size_t i = 0; i < slot.size; ++i) {
        if (!slot.decay) {
          x[i] = 1.0f;
          continue;
        }
        const double u1 = (static_cast<double>(rng() >> 11) + 1.0) * 0x1.0p-53;
        const double u2 = static_cast<double>(rng() >> 11) * 0x1.0p-53;
        x[i] = static_cast<float>(sd * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.28318530717958647692 * u2));
      }
    }
  }

  // DIR: created; loss.csv started (or continued from the checkpoint's step).
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) fail("--out " + o.out + ": " + ec.message());
  const std::string csv_path = (fs::path(o.out) / "loss.csv").string();
  std::string csv = "step,loss,lr,grad_norm,tokens_per_s\n";
  if (o.resume) {
    std::ifstream old((fs::path(*o.resume) / "loss.csv").string());
    std::string line;
    bool header = true;
    while (std::getline(old, line)) {
      if (header) {
        header = false;
        continue;
      }
      if (!line.empty() && std::strtoull(line.c_str(), nullptr, 10) < start) csv += line + "\n";
    }
  }
  std::FILE* log = std::fopen(csv_path.c_str(), "wb");
  if (!log || std::fwrite(csv.data(), 1, csv.size(), log) != csv.size()) fail(csv_path + ": cannot write");
  std::fflush(log);

  const auto save_checkpoint = [&] {
    forma::train::checkpoint_metadata metadata{{"data_position", std::to_string(loader.position())},
                                               {"rng", loader.rng_state()}};
    for (const auto& [key, value] : flags) metadata.emplace_back("flag." + key, value);
    const std::string path = (fs::path(o.out) / "checkpoint.safetensors").string();
    if (auto saved = forma::train::save_checkpoint(trainer, path, std::move(metadata)); !saved) {
      fail(saved.error().to_string());
    }
  };

  const forma::train::LrSchedule schedule{.lr = o.lr, .min_lr = o.min_lr, .warmup = o.warmup,
                                          .steps = o.steps, .cosine = o.schedule == "cosine"};
  const forma::train::AdamWOptions adamw{.beta1 = static_cast<float>(o.beta1), .beta2 = static_cast<float>(o.beta2),
                                         .eps = static_cast<float>(o.eps),
                                         .weight_decay = static_cast<float>(o.weight_decay)};
  std::vector<std::int32_t> inputs(B * T), targets(B * T);
  using view = typename Trainer<R>::tokens_view;
  const std::size_t end = o.stop_after != 0 ? o.stop_after : o.steps;
  float first_loss = 0, last_loss = 0;
  double seconds = 0;
  for (std::size_t step = start; step < end; ++step) {
    const auto t0 = std::chrono::steady_clock::now();
    loader.next(inputs, targets);
    auto result = trainer.forward_backward(view(inputs.data(), B, T), view(targets.data(), B, T));
    if (!result) fail(result.error().to_string());
    const float loss = *result;
    const float norm = o.clip > 0 ? trainer.clip_grad_norm(static_cast<float>(o.clip))
                                  : static_cast<float>(forma::train::global_norm(trainer.gradients()));
    const double lr = forma::train::lr_schedule(schedule, step);
    trainer.adamw_step(lr, adamw);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    seconds += dt;
    const double tokens_per_s = dt > 0 ? static_cast<double>(B * T) / dt : 0.0;
    if (step == start) first_loss = loss;
    last_loss = loss;
    std::fprintf(log, "%zu,%.9g,%.9g,%.9g,%.9g\n", step, static_cast<double>(loss), lr, static_cast<double>(norm),
                 tokens_per_s);
    std::fflush(log);
    char bar[21];
    const std::size_t filled = (step + 1) * 20 / o.steps;
    for (std::size_t i = 0; i < 20; ++i) bar[i] = i < filled ? '#' : '.';
    bar[20] = '\0';
    std::fprintf(stderr, "\r[%s] step %zu/%zu | loss %.4f | lr %.3g | %.0f tok/s   ", bar, step + 1, o.steps,
                 static_cast<double>(loss), lr, tokens_per_s);
    if (o.save_every != 0 && (step + 1) % o.save_every == 0 && step + 1 < end) save_checkpoint();
  }
  std::fputs("\n", stderr);
  std::fclose(log);
  save_checkpoint();
  const std::string model_path = (fs::path(o.out) / "model.bin").string();
  if (auto written = forma::train::save_llama2c(trainer.weights(), model_path + ".tmp"); !written) {
    fail(written.error().to_string());
  }
  if (std::rename((model_path + ".tmp").c_str(), model_path.c_str()) != 0) fail(model_path + ": cannot write");
  std::printf("forma-train: steps %zu..%zu of %zu, loss %.4f -> %.4f, %.0f tok/s; wrote %s, checkpoint.safetensors, loss.csv\n",
              start, end - 1, o.steps, static_cast<double>(first_loss), static_cast<double>(last_loss),
              seconds > 0 ? static_cast<double>((end - start) * B * T) / seconds : 0.0, model_path.c_str());
  return 0;
}

struct Preset {
  std::string_view name;
  forma::LlamaShape shape;
};

const Preset presets[] = {
    {"tiny", forma::static_shape<tiny_config>()},
    {"stories260K", forma::static_shape<forma::presets::stories260k>()},
    {"stories15M", forma::static_shape<stories15m_config>()},
};

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  forma::LlamaShape shape;
  if (o.config) {
    const Preset* preset = nullptr;
    for (const auto& p : presets) {
      if (p.name == *o.config) preset = &p;
    }
    if (!preset) fail("--config: unknown preset '" + *o.config + "' (tiny, stories260K or stories15M)");
    shape = preset->shape;
  } else {
    auto header = forma::io::llama2c::read_header(*o.init);
    if (!header) fail(header.error().to_string());
    shape = header->shape();
  }
  if (o.seq > shape.max_seq) {
    fail("--seq " + std::to_string(o.seq) + ": longer than the model's max_seq " + std::to_string(shape.max_seq));
  }
  auto tokens = load_tokens(o, shape.vocab);
  if (o.recompute) return train<forma::train::recompute::layers>(o, shape, std::move(tokens));
  return train<forma::train::recompute::none>(o, shape, std::move(tokens));
}
