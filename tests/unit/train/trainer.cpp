// The model-level trainer (forma/train/llama_trainer.hpp, forma/train/optim.hpp):
//   - against PyTorch (tests/data/golden/train/llama/, scripts/golden/make_train_golden.py): the
//     loss and every gradient of a tiny llama2.c Llama (tied classifier) against float64 autograd,
//     and the parameters after 1 and 10 AdamW steps (clip 1.0, warmup 2 + cosine, wd 0.1 on 2-D);
//   - the milestone: a tiny Llama (separate classifier) learns a repeating token pattern; its
//     LlamaWeights run through forma::Llama give the trainer's logits; training is reproducible
//     bit for bit, across runs and across thread counts;
//   - state_bytes<C, B, T>() is what constructing the state allocates.
// FORMA_GOLDEN_TABLE=1 prints every measured error.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <forma/core/parallel.hpp>

#include <forma/forma.hpp>
#include <forma/io/llama2c.hpp>
#include <forma/io/npy.hpp>
#include <forma/models/presets.hpp>
#include <forma/text/tokenizer.hpp>
#include <forma/train.hpp>

#include "allocation_counter.hpp"
#include "test_support.hpp"

namespace {

namespace ft = forma::train;

constexpr forma::LlamaConfig golden_config{.dim = 32, .hidden = 64, .layers = 2, .heads = 4,
                                           .kv_heads = 2, .vocab = 64, .max_seq = 8,
                                           .classifier = forma::classifier_kind::shared};
constexpr std::size_t golden_batch = 2, golden_seq = 8;
using GoldenTrainer = ft::LlamaTrainer<golden_config, golden_batch, golden_seq>;
constexpr ft::ParamSlots golden_slots = ft::llama_param_slots(ft::llama_state_layout::of(
    forma::static_shape<golden_config>(), golden_batch, golden_seq, ft::recompute::none));

const std::string golden_dir = std::string(FORMA_TEST_DATA_DIR) + "/golden/train/llama/";

bool print_table() { return std::getenv("FORMA_GOLDEN_TABLE") != nullptr; }

template <class T, std::size_t Rank>
std::vector<T> load_rank(const std::string& path) {
  auto loaded = forma::io::load_npy<forma::Tensor<T, forma::dextents<Rank>>>(path, {.convert = true});
  if (!loaded) FAIL(forma::testing::error_text(loaded));
  const auto& t = loaded.value();
  return std::vector<T>(t.begin(), t.end());
}

// A parameter's file in llama2.c's layout: rank 1 (rms_final), 2 (embedding, norms) or 3.
template <class T>
std::vector<T> load_param(const std::string& sub, std::string_view name) {
  const std::string path = golden_dir + sub + "/" + std::string(name) + ".npy";
  if (name == "rms_final") return load_rank<T, 1>(path);
  if (name == "token_embedding" || name == "classifier" || name == "rms_att" || name == "rms_ffn") {
    return load_rank<T, 2>(path);
  }
  return load_rank<T, 3>(path);
}

// max |got − want| / max |want|: the error relative to the tensor's largest entry.
double relative_error(const float* got, const std::vector<double>& want) {
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(got[i]) - want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  return scale == 0 ? worst : worst / scale;
}

// The worst relative error over every parameter (or gradient) against the files in `sub`.
double compare_all(const float* base, const std::string& sub, const char* what) {
  double worst = 0;
  for (const ft::ParamSlot& slot : golden_slots) {
    const auto want = load_param<double>(sub, slot.name);
    REQUIRE(want.size() == slot.size);
    const double e = relative_error(base + slot.offset, want);
    if (print_table()) std::printf("| %s | %s | %.3e |\n", what, std::string(slot.name).c_str(), e);
    worst = std::max(worst, e);
  }
  return worst;
}

struct GoldenRun {
  GoldenTrainer trainer;
  std::vector<std::int32_t> tokens, targets;
  GoldenRun() {
    tokens = load_rank<std::int32_t, 2>(golden_dir + "tokens.npy");
    targets = load_rank<std::int32_t, 2>(golden_dir + "targets.npy");
    for (const ft::ParamSlot& slot : golden_slots) {
      const auto init = load_param<float>("init", slot.name);
      REQUIRE(init.size() == slot.size);
      std::copy(init.begin(), init.end(), trainer.parameters().begin() + static_cast<long>(slot.offset));
    }
  }
  float step() {
    auto loss = trainer.forward_backward(GoldenTrainer::tokens_view(tokens.data()),
                                         GoldenTrainer::tokens_view(targets.data()));
    REQUIRE(loss);
    return *loss;
  }
};

// llama2.c train.py's recipe as the fixture runs it.
constexpr ft::LrSchedule golden_schedule{.lr = 5e-3, .min_lr = 5e-4, .warmup = 2, .steps = 10};
constexpr ft::AdamWOptions golden_adamw{.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                                        .weight_decay = 0.1f};

}  // namespace

TEST_CASE("train: LlamaTrainer loss and every gradient match PyTorch float64 autograd") {
  GoldenRun run;
  const auto losses = load_rank<double, 1>(golden_dir + "losses.npy");
  const float loss = run.step();
  const double loss_error = std::abs(loss - losses[0]) / std::abs(losses[0]);
  const double grad_error = compare_all(run.trainer.gradients().data(), "grad", "grad");
  MESSAGE("loss " << loss << " vs torch f64 " << losses[0] << ": rel " << loss_error
                  << "; worst gradient rel (to each tensor's largest entry) " << grad_error);
  CHECK(loss_error <= 1e-5);
  CHECK(grad_error <= 1e-4);
}

// Float's own limit after an AdamW step: the update lr·m̂/(√v̂ + eps) is ±lr for a gradient entry
// well above eps but turns the float rounding of an entry near eps (1e-8) into a visible change
// (torch's own float32 run is 5.8e-5 from its float64 run after 1 step, at a w3 entry whose
// clipped gradient is 1.6e-8). So the 1e-5 check covers the entries whose clipped step-1
// gradient is at least 1e-6 (100·eps), and every entry is held to a few times torch float32's
// own distance from float64.
TEST_CASE("train: LlamaTrainer AdamW steps match torch.optim.AdamW after 1 and 10 steps") {
  GoldenRun run;
  const auto losses = load_rank<double, 1>(golden_dir + "losses.npy");
  const auto norms = load_rank<double, 1>(golden_dir + "norms.npy");
  const double clip = std::min(1.0, 1.0 / (norms[0] + 1e-6));
  double worst_loss = 0, worst_norm = 0, step1_all = 0, step1_masked = 0, step10_all = 0;
  double torch_step1 = 0, torch_step10 = 0;
  std::size_t masked = 0;
  for (std::size_t s = 0; s < 10; ++s) {
    const float loss = run.step();
    const float norm = run.trainer.clip_grad_norm(1.0f);
    run.trainer.adamw_step(ft::lr_schedule(golden_schedule, s), golden_adamw);
    worst_loss = std::max(worst_loss, std::abs(loss - losses[s]) / losses[s]);
    worst_norm = std::max(worst_norm, std::abs(norm - norms[s]) / norms[s]);
    if (s != 0 && s != 9) continue;
    const char* sub = s == 0 ? "step1" : "step10";
    for (const ft::ParamSlot& slot : golden_slots) {
      const auto want = load_param<double>(sub, slot.name);
      const auto torch32 = load_param<float>(std::string(sub) + "_f32", slot.name);
      const float* got = run.trainer.parameters().data() + slot.offset;
      const double all = relative_error(got, want);
      const double torch = relative_error(torch32.data(), want);
      double scale = 0, worst = 0;
      for (const double w : want) scale = std::max(scale, std::abs(w));
      if (s == 0) {
        const auto grad = load_param<double>("grad", slot.name);
        for (std::size_t i = 0; i < want.size(); ++i) {
          if (std::abs(grad[i]) * clip < 1e-6) {
            ++masked;
            continue;
          }
          worst = std::max(worst, std::abs(static_cast<double>(got[i]) - want[i]));
        }
        step1_masked = std::max(step1_masked, worst / scale);
        step1_all = std::max(step1_all, all);
        torch_step1 = std::max(torch_step1, torch);
      } else {
        step10_all = std::max(step10_all, all);
        torch_step10 = std::max(torch_step10, torch);
      }
      if (print_table()) {
        std::printf("| %s | %s | %.3e | torch f32 %.3e |\n", sub, std::string(slot.name).c_str(),
                    all, torch);
      }
    }
  }
  MESSAGE("params rel to torch f64 (to each tensor's largest entry): step 1 " << step1_all
          << " (" << step1_masked << " without the " << masked
          << " entries whose clipped gradient is < 1e-6), step 10 " << step10_all
          << "; torch's own f32 run: step 1 " << torch_step1 << ", step 10 " << torch_step10
          << "; losses " << worst_loss << ", grad norms " << worst_norm);
  CHECK(worst_loss <= 1e-5);
  CHECK(worst_norm <= 1e-5);
  CHECK(step1_masked <= 1e-5);
  CHECK(step1_all <= 8 * torch_step1);
  CHECK(step10_all <= 8 * torch_step10);
}

TEST_CASE("train: optim matches the PyTorch formulas on hand-computed values") {
  // AdamW, step 1: m = 0.1 g, v = 0.05 g², m̂ = g, v̂ = g² → p − lr·wd·p − lr·g/(|g| + eps).
  std::vector<float> p{1.0f, -2.0f}, g{0.5f, -0.25f}, m(2), v(2);
  ft::adamw_update(p, g, m, v, 1, 0.1, {.weight_decay = 0.1f}, true);
  CHECK(p[0] == doctest::Approx(1.0 * (1 - 0.01) - 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-6));
  CHECK(p[1] == doctest::Approx(-2.0 * (1 - 0.01) + 0.1 * 0.25 / (0.25 + 1e-8)).epsilon(1e-6));
  // SGD with momentum: b = g, then 0.9 b + g.
  std::vector<float> q{1.0f}, h{2.0f}, b(1);
  ft::sgd_update(q, h, b, true, 0.1, {.momentum = 0.9f}, false);
  ft::sgd_update(q, h, b, false, 0.1, {.momentum = 0.9f}, false);
  CHECK(q[0] == doctest::Approx(1.0 - 0.2 - 0.1 * (0.9 * 2 + 2)).epsilon(1e-6));
  // clip_grad_norm: norm 5 → scaled by 1/(5 + 1e-6); a small norm is left alone.
  std::vector<float> grads{3.0f, 4.0f};
  CHECK(ft::clip_grad_norm(grads, 1.0f) == doctest::Approx(5.0));
  CHECK(grads[0] == doctest::Approx(3.0 / (5.0 + 1e-6)).epsilon(1e-6));
  CHECK(ft::clip_grad_norm(grads, 10.0f) == doctest::Approx(1.0).epsilon(1e-5));
  CHECK(grads[1] == doctest::Approx(4.0 / (5.0 + 1e-6)).epsilon(1e-6));
  // The schedule: warmup (s+1)/W, cosine to min_lr at N, constant after.
  constexpr ft::LrSchedule s{.lr = 1.0, .min_lr = 0.1, .warmup = 2, .steps = 6};
  CHECK(ft::lr_schedule(s, 0) == doctest::Approx(0.5));
  CHECK(ft::lr_schedule(s, 2) == doctest::Approx(1.0));
  CHECK(ft::lr_schedule(s, 4) == doctest::Approx(0.55));
  CHECK(ft::lr_schedule(s, 6) == doctest::Approx(0.1));
  CHECK(ft::lr_schedule({.lr = 1.0, .warmup = 2, .cosine = false}, 5) == doctest::Approx(1.0));
}

namespace {

// The milestone model: big enough that the kernels split work over threads.
constexpr forma::LlamaConfig pattern_config{.dim = 64, .hidden = 128, .layers = 2, .heads = 4,
                                            .kv_heads = 2, .vocab = 32, .max_seq = 32,
                                            .classifier = forma::classifier_kind::separate};
constexpr std::size_t pattern_batch = 4, pattern_seq = 32, pattern_steps = 40;
using PatternTrainer = ft::LlamaTrainer<pattern_config, pattern_batch, pattern_seq>;
static_assert(ft::state_bytes<pattern_config, pattern_batch, pattern_seq>() <= (8u << 20),
              "the milestone's training state fits in 8 MiB");

struct PatternResult {
  std::vector<float> params;
  float first_loss = 0, last_loss = 0;
};

// Sequence b is the period-7 pattern 3, 1, 4, 1, 5, 9, 2 shifted by b; targets are the next token.
void pattern_batch_of(std::vector<std::int32_t>& tokens, std::vector<std::int32_t>& targets) {
  constexpr std::int32_t pattern[] = {3, 1, 4, 1, 5, 9, 2};
  tokens.resize(pattern_batch * pattern_seq);
  targets.resize(pattern_batch * pattern_seq);
  for (std::size_t b = 0; b < pattern_batch; ++b) {
    for (std::size_t t = 0; t < pattern_seq; ++t) {
      tokens[b * pattern_seq + t] = pattern[(b + t) % 7];
      targets[b * pattern_seq + t] = pattern[(b + t + 1) % 7];
    }
  }
}

PatternResult train_pattern(PatternTrainer& trainer, std::uint64_t seed) {
  std::vector<std::int32_t> tokens, targets;
  pattern_batch_of(tokens, targets);
  trainer.init(seed);
  constexpr ft::LrSchedule schedule{.lr = 1e-2, .min_lr = 1e-3, .warmup = 5, .steps = pattern_steps};
  PatternResult result;
  for (std::size_t s = 0; s < pattern_steps; ++s) {
    auto loss = trainer.forward_backward(PatternTrainer::tokens_view(tokens.data()),
                                         PatternTrainer::tokens_view(targets.data()));
    REQUIRE(loss);
    if (s == 0) result.first_loss = *loss;
    result.last_loss = *loss;
    trainer.clip_grad_norm(1.0f);
    trainer.adamw_step(ft::lr_schedule(schedule, s), {.weight_decay = 0.1f});
  }
  result.params.assign(trainer.parameters().begin(), trainer.parameters().end());
  return result;
}

}  // namespace

TEST_CASE("train: a tiny Llama learns a repeating pattern and forma::Llama runs its weights") {
  auto trainer = std::make_unique<PatternTrainer>();
  const PatternResult run = train_pattern(*trainer, 42);
  MESSAGE("pattern loss " << run.first_loss << " -> " << run.last_loss << " in " << pattern_steps
                          << " AdamW steps");
  CHECK(run.last_loss < 0.05f * run.first_loss);

  // The trained parameters through the inference decoder, token by token, against the trainer's
  // own batched forward: same weights, same math up to the order of float sums.
  std::vector<std::int32_t> tokens, targets;
  pattern_batch_of(tokens, targets);
  REQUIRE(trainer->forward(PatternTrainer::tokens_view(tokens.data())));
  const auto logits = trainer->logits();
  forma::Llama<pattern_config> model(trainer->weights());
  double worst = 0, scale = 0;
  for (std::size_t b = 0; b < pattern_batch; ++b) {
    model.reset();
    for (std::size_t t = 0; t < pattern_seq; ++t) {
      auto out = model.forward(tokens[b * pattern_seq + t], t);
      REQUIRE(out);
      for (std::size_t j = 0; j < pattern_config.vocab; ++j) {
        const double want = logits.data()[(b * pattern_seq + t) * pattern_config.vocab + j];
        worst = std::max(worst, std::abs(static_cast<double>((*out).data()[j]) - want));
        scale = std::max(scale, std::abs(want));
      }
    }
  }
  MESSAGE("forma::Llama vs trainer logits (all " << pattern_batch * pattern_seq
                                                 << " positions): max abs " << worst
                                                 << ", largest logit " << scale);
  CHECK(worst <= 1e-5 * scale);

  // Saved as a llama2.c checkpoint and loaded back: the same bits, the same logits.
  const std::string path =
      (std::filesystem::temp_directory_path() / "forma_train_pattern.bin").string();
  REQUIRE(ft::save_llama2c(trainer->weights(), path));
  auto checkpoint = forma::io::llama2c::load<pattern_config>(path);
  REQUIRE(checkpoint);
  const auto& loaded = checkpoint->weights();
  const auto mine = trainer->weights();
  CHECK_FALSE(loaded.shape.shared_classifier);
  CHECK(std::memcmp(loaded.token_embedding.data(), mine.token_embedding.data(),
                    mine.token_embedding.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(loaded.w3.data(), mine.w3.data(), mine.w3.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(loaded.rms_final.data(), mine.rms_final.data(), mine.rms_final.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(loaded.classifier.data(), mine.classifier.data(),
                    mine.classifier.size() * sizeof(float)) == 0);
  forma::Llama<pattern_config> from_file(loaded);
  model.reset();
  for (std::size_t t = 0; t < pattern_seq; ++t) {
    auto a = model.forward(tokens[t], t);
    auto b = from_file.forward(tokens[t], t);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(std::memcmp((*a).data(), (*b).data(), pattern_config.vocab * sizeof(float)) == 0);
  }
  std::filesystem::remove(path);
  CHECK_FALSE(ft::save_llama2c(trainer->weights(), "/nonexistent-dir/x.bin"));
}

TEST_CASE("train: training is bit-for-bit reproducible across runs and thread counts") {
  auto trainer = std::make_unique<PatternTrainer>();
  const int threads = forma::parallel_threads();
  forma::set_parallel_threads(1);
  const PatternResult one = train_pattern(*trainer, 7);
  const PatternResult again = train_pattern(*trainer, 7);
  CHECK(std::memcmp(one.params.data(), again.params.data(), one.params.size() * sizeof(float)) == 0);
  forma::set_parallel_threads(2);
  const PatternResult two = train_pattern(*trainer, 7);
  forma::set_parallel_threads(threads);
  CHECK(std::memcmp(one.params.data(), two.params.data(), one.params.size() * sizeof(float)) == 0);
  MESSAGE("1 vs 2 threads: " << one.params.size() << " parameters identical after "
                             << pattern_steps << " steps");
  const PatternResult other = train_pattern(*trainer, 8);
  CHECK(std::memcmp(one.params.data(), other.params.data(), one.params.size() * sizeof(float)) != 0);
}

TEST_CASE("train: state_bytes is exactly what constructing the state allocates") {
  const auto before = forma::testing::allocations_now();
  {
    GoldenTrainer golden;
    const auto after = forma::testing::allocations_now();
    CHECK(after.count - before.count == 1);
    CHECK(after.bytes - before.bytes == ft::state_bytes<golden_config, golden_batch, golden_seq>());
    MESSAGE("golden state (tied, B 2, T 8): " << after.bytes - before.bytes << " bytes for "
                                              << golden.parameter_count() << " parameters");
  }
  const auto before2 = forma::testing::allocations_now();
  auto pattern = std::make_unique<PatternTrainer>();
  const auto after2 = forma::testing::allocations_now();
  CHECK(after2.bytes - before2.bytes ==
        sizeof(PatternTrainer) + ft::state_bytes<pattern_config, pattern_batch, pattern_seq>());
  MESSAGE("pattern state (separate, B 4, T 32): "
          << ft::state_bytes<pattern_config, pattern_batch, pattern_seq>() << " bytes for "
          << pattern->parameter_count() << " parameters");
  static_assert(ft::state_bytes<golden_config, golden_batch, golden_seq>() <= (1u << 20),
                "the golden model's whole training state fits in 1 MiB");
}

TEST_CASE("train: a separate classifier equal to the embedding gives the tied model's gradients") {
  // Tied: d(embedding) = d(lookup) + d(classifier). Separate, with classifier = embedding: the
  // same loss, and the two gradients add up to the tied one.
  GoldenRun tied;
  constexpr forma::LlamaConfig separate_config = [] {
    forma::LlamaConfig c = golden_config;
    c.classifier = forma::classifier_kind::separate;
    return c;
  }();
  using SeparateTrainer = ft::LlamaTrainer<separate_config, golden_batch, golden_seq>;
  auto separate = std::make_unique<SeparateTrainer>();
  std::copy(tied.trainer.parameters().begin(), tied.trainer.parameters().end(),
            separate->parameters().begin());
  auto p = separate->params();
  std::copy(p.token_embedding.data(), p.token_embedding.data() + p.token_embedding.size(),
            p.classifier.data());
  const float tied_loss = tied.step();
  auto separate_loss = separate->forward_backward(SeparateTrainer::tokens_view(tied.tokens.data()),
                                                  SeparateTrainer::tokens_view(tied.targets.data()));
  REQUIRE(separate_loss);
  CHECK(*separate_loss == tied_loss);
  auto g = separate->grads();
  auto t = tied.trainer.grads();
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < t.token_embedding.size(); ++i) {
    const double sum = static_cast<double>(g.token_embedding.data()[i]) + g.classifier.data()[i];
    worst = std::max(worst, std::abs(sum - t.token_embedding.data()[i]));
    scale = std::max(scale, std::abs(static_cast<double>(t.token_embedding.data()[i])));
  }
  CHECK(worst <= 1e-6 * scale);
  // Every other gradient is the same computation: identical bits.
  const std::size_t rest = tied.trainer.parameter_count() - golden_slots[1].offset;
  CHECK(std::memcmp(separate->gradients().data() + golden_slots[1].offset,
                    tied.trainer.gradients().data() + golden_slots[1].offset,
                    rest * sizeof(float)) == 0);
}

TEST_CASE("train: out-of-range token ids and targets are Errors, not writes out of bounds") {
  GoldenRun run;
  std::vector<std::int32_t> bad = run.tokens;
  bad[5] = 64;
  auto loss = run.trainer.forward_backward(GoldenTrainer::tokens_view(bad.data()),
                                           GoldenTrainer::tokens_view(run.targets.data()));
  REQUIRE_FALSE(loss);
  CHECK(loss.error().code == forma::errc::out_of_range);
  bad = run.targets;
  bad[3] = -1;
  loss = run.trainer.forward_backward(GoldenTrainer::tokens_view(run.tokens.data()),
                                      GoldenTrainer::tokens_view(bad.data()));
  REQUIRE_FALSE(loss);
  CHECK(loss.error().code == forma::errc::out_of_range);
  // ignore_index (-100) targets are skipped, as torch's cross_entropy does.
  bad = run.targets;
  bad[0] = forma::default_ignore_index;
  CHECK(run.trainer.forward_backward(GoldenTrainer::tokens_view(run.tokens.data()),
                                     GoldenTrainer::tokens_view(bad.data())));
}

TEST_CASE("train: a training step allocates only cross_entropy_backward's row losses") {
  GoldenRun run;
  (void)run.step();  // first touch
  const auto before = forma::testing::allocations_now();
  const float loss = run.step();
  run.trainer.clip_grad_norm(1.0f);
  run.trainer.adamw_step(1e-3, golden_adamw);
  const auto after = forma::testing::allocations_now();
  CHECK(std::isfinite(loss));
  // ops/cross_entropy_backward.hpp keeps one double per row (B·T) in a std::vector per call.
  CHECK(after.count - before.count == 1);
  CHECK(after.bytes - before.bytes == golden_batch * golden_seq * sizeof(double));
}

TEST_CASE("train: sgd_step with momentum lowers the loss and follows sgd_update") {
  GoldenRun run;
  const std::vector<float> start(run.trainer.parameters().begin(), run.trainer.parameters().end());
  const float first = run.step();
  const std::vector<float> grad(run.trainer.gradients().begin(), run.trainer.gradients().end());
  run.trainer.sgd_step(0.5, {.momentum = 0.9f, .weight_decay = 0.0f});
  // The first step is p − lr·g everywhere.
  double worst = 0;
  for (std::size_t i = 0; i < start.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(run.trainer.parameters()[i]) -
                                     (start[i] - 0.5f * grad[i])));
  }
  CHECK(worst == 0.0);
  float last = first;
  for (int s = 0; s < 5; ++s) {
    last = run.step();
    run.trainer.sgd_step(0.5, {.momentum = 0.9f});
  }
  MESSAGE("SGD momentum 0.9, lr 0.5: loss " << first << " -> " << last << " in 5 steps");
  CHECK(last < first);
}

namespace {

// Three steps of the pattern model on a given trainer type; the parameters, gradients and losses.
struct Trace {
  std::vector<float> params, grads;
  std::vector<float> losses;
};

template <class Trainer>
Trace trace_pattern(Trainer& trainer) {
  std::vector<std::int32_t> tokens, targets;
  pattern_batch_of(tokens, targets);
  trainer.init(11);
  Trace t;
  using View = typename Trainer::tokens_view;
  const auto view = [&](std::vector<std::int32_t>& v) {
    return View(v.data(), typename View::extents_type(
                              std::array<std::size_t, 2>{pattern_batch, pattern_seq}));
  };
  for (int s = 0; s < 3; ++s) {
    auto loss = trainer.forward_backward(view(tokens), view(targets));
    REQUIRE(loss);
    t.losses.push_back(*loss);
    trainer.clip_grad_norm(1.0f);
    trainer.adamw_step(3e-3);
  }
  t.params.assign(trainer.parameters().begin(), trainer.parameters().end());
  t.grads.assign(trainer.gradients().begin(), trainer.gradients().end());
  return t;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("train: a trainer of dynamic extents (shape, batch, sequence at run time) gives the static one's bits") {
  auto fixed = std::make_unique<PatternTrainer>();
  const Trace want = trace_pattern(*fixed);
  using Dynamic = ft::LlamaTrainer<forma::presets::any_llama, forma::dyn, forma::dyn>;
  const forma::LlamaShape shape = forma::static_shape<pattern_config>();
  REQUIRE_FALSE(shape.shared_classifier);
  Dynamic dynamic(shape, pattern_batch, pattern_seq);
  CHECK(dynamic.bytes() == ft::state_bytes<pattern_config, pattern_batch, pattern_seq>());
  CHECK(dynamic.bytes() == ft::state_bytes(shape, pattern_batch, pattern_seq));
  const Trace got = trace_pattern(dynamic);
  CHECK(got.losses == want.losses);
  CHECK(same_bits(got.grads, want.grads));
  CHECK(same_bits(got.params, want.params));
  // Its weights run through forma::Llama<any_llama> like any checkpoint of that shape.
  forma::Llama<forma::presets::any_llama> model(dynamic.weights());
  CHECK(model.vocab_size() == pattern_config.vocab);
}

TEST_CASE("train: a dynamic trainer refuses a shape, batch or sequence it cannot run") {
  using Dynamic = ft::LlamaTrainer<forma::presets::any_llama, forma::dyn, forma::dyn>;
  forma::LlamaShape shape = forma::static_shape<pattern_config>();
  CHECK_THROWS_WITH_AS(Dynamic(shape, 2, pattern_config.max_seq + 1),
                       doctest::Contains("must not exceed max_seq"), forma::shape_error);
  CHECK_THROWS_WITH_AS(Dynamic(shape, 0, 4), doctest::Contains("batch must be positive"),
                       forma::shape_error);
  shape.kv_heads = 3;  // does not divide 4 heads
  CHECK_THROWS_WITH_AS(Dynamic(shape, 1, 4), doctest::Contains("kv_heads must divide heads"),
                       forma::shape_error);
  // A static field that disagrees with the run-time shape.
  using HalfStatic = ft::LlamaTrainer<pattern_config, forma::dyn, forma::dyn>;
  forma::LlamaShape wider = forma::static_shape<pattern_config>();
  wider.dim = 128;
  CHECK_THROWS_WITH_AS(HalfStatic(wider, 1, 4), doctest::Contains("dim differs"),
                       forma::shape_error);
  // Tokens of another (B, T) than the trainer's.
  Dynamic trainer(forma::static_shape<pattern_config>(), 2, 4);
  std::vector<std::int32_t> ids(6, 1);
  CHECK_THROWS_AS((void)trainer.forward(Dynamic::tokens_view(ids.data(), 2, 3)), forma::shape_error);
}

TEST_CASE("train: recompute::layers gives the bits of saved activations in less memory") {
  using Recomputed = ft::LlamaTrainer<pattern_config, pattern_batch, pattern_seq, ft::recompute::layers>;
  constexpr std::size_t kept = ft::state_bytes<pattern_config, pattern_batch, pattern_seq>();
  constexpr std::size_t recomputed =
      ft::state_bytes<pattern_config, pattern_batch, pattern_seq, ft::recompute::layers>();
  static_assert(recomputed < kept);
  auto saved = std::make_unique<PatternTrainer>();
  const Trace want = trace_pattern(*saved);
  const auto before = forma::testing::allocations_now();
  auto again = std::make_unique<Recomputed>();
  const auto after = forma::testing::allocations_now();
  CHECK(after.bytes - before.bytes == sizeof(Recomputed) + recomputed);
  const Trace got = trace_pattern(*again);
  CHECK(got.losses == want.losses);
  CHECK(same_bits(got.grads, want.grads));
  CHECK(same_bits(got.params, want.params));
  const auto& kl = saved->layout();
  const auto& rl = again->layout();
  CHECK(kl.activation_bytes() - rl.activation_bytes() ==
        (pattern_config.layers - 1) * kl.layer_activations * sizeof(float));
  MESSAGE("pattern model (L 2, B 4, T 32): state " << kept << " bytes with saved activations ("
          << kl.activation_bytes() << " of them activations), " << recomputed
          << " recomputed (" << rl.activation_bytes() << ")");
  // The same figures at the stories15M shape, B 4 × T 256 (the benchmark's), as constants.
  constexpr forma::LlamaConfig s15{.dim = 288, .hidden = 768, .layers = 6, .heads = 6,
                                   .kv_heads = 6, .vocab = 32000, .max_seq = 256,
                                   .classifier = forma::classifier_kind::shared};
  MESSAGE("stories15M, B 4, T 256: " << ft::state_bytes<s15, 4, 256>() << " bytes saved, "
          << ft::state_bytes<s15, 4, 256, ft::recompute::layers>() << " recomputed");
}

TEST_CASE("train: a model memorises 1 KiB of text (loss < 0.1) and greedy decoding reproduces it") {
  // The first 1,024 bytes of the bundled Shakespeare, tokenized with tok512 as forma-train does (BOS,
  // run.c's encode): 657 ids. One row holds them all (B 1, T 656 given at run time). It trains
  // until the loss is below 0.01 (at most 300 steps; about 60 are needed): at 0.05 a few
  // positions still have a wrong argmax, and greedy decoding would leave the text there.
  const std::string root = FORMA_SOURCE_DIR;
  std::ifstream in(root + "/data/tinyshakespeare/input_100k.txt", std::ios::binary);
  REQUIRE(in);
  std::string text(1024, '\0');
  in.read(text.data(), 1024);
  REQUIRE(in.gcount() == 1024);
  auto tokenizer = forma::text::Tokenizer::load(root + "/models/stories260K/tok512.bin", 512);
  REQUIRE_MESSAGE(tokenizer, forma::testing::error_text(tokenizer));
  std::vector<std::int32_t> ids;
  REQUIRE(tokenizer->encode(text, true, false, ids));
  REQUIRE(ids.size() > 500);
  constexpr forma::LlamaConfig memorise{.dim = 64, .hidden = 192, .layers = 2, .heads = 4,
                                        .kv_heads = 4, .vocab = 512, .max_seq = 1024,
                                        .classifier = forma::classifier_kind::shared};
  using Trainer = ft::LlamaTrainer<memorise, 1, forma::dyn>;
  const std::size_t T = ids.size() - 1;
  auto trainer = std::make_unique<Trainer>(forma::static_shape<memorise>(), 1, T);
  trainer->init(2024);
  const Trainer::tokens_view x(ids.data(), T), y(ids.data() + 1, T);
  constexpr ft::LrSchedule schedule{.lr = 1e-2, .min_lr = 1e-3, .warmup = 10, .steps = 300};
  float loss = 0, first = 0;
  std::size_t steps = 0;
  for (; steps < schedule.steps; ++steps) {
    auto l = trainer->forward_backward(x, y);
    REQUIRE(l);
    loss = *l;
    if (steps == 0) first = loss;
    if (loss < 0.01f) break;
    trainer->clip_grad_norm(1.0f);
    trainer->adamw_step(ft::lr_schedule(schedule, steps), {.weight_decay = 0.0f});
  }
  MESSAGE("1 KiB (" << ids.size() << " tokens): loss " << first << " -> " << loss << " after "
          << steps << " AdamW steps");
  CHECK(loss < 0.1f);
  // Teacher-forced: the trainer's own argmax at every position.
  REQUIRE(trainer->forward(x));
  std::size_t right = 0;
  for (std::size_t t = 0; t < T; ++t) {
    const float* row = trainer->logits().data() + t * memorise.vocab;
    std::size_t best = 0;
    for (std::size_t v = 1; v < memorise.vocab; ++v) best = row[v] > row[best] ? v : best;
    right += static_cast<std::int32_t>(best) == ids[t + 1];
  }
  CHECK_MESSAGE(right == T, "teacher-forced argmax right at " << right << " of " << T);
  // Greedy decoding from BOS and the first word: every next id is the text's, and the decoded
  // text is the 1 KiB.
  forma::Llama<memorise> model(trainer->weights());
  std::vector<std::int32_t> out(ids.begin(), ids.begin() + 2);
  REQUIRE(model.forward(ids[0], 0));
  for (std::size_t pos = 1; pos + 1 < ids.size(); ++pos) {
    auto logits = model.forward(out[pos], pos);
    REQUIRE(logits);
    const auto& l = *logits;
    std::int32_t best = 0;
    for (std::size_t v = 1; v < memorise.vocab; ++v) {
      if (l.data()[v] > l.data()[static_cast<std::size_t>(best)]) best = static_cast<std::int32_t>(v);
    }
    out.push_back(best);
  }
  std::size_t same = 0;
  while (same < out.size() && out[same] == ids[same]) ++same;
  CHECK_MESSAGE(same == ids.size(), "greedy decoding follows the text for " << same << " of "
                                                                            << ids.size() << " tokens");
  auto decoded = tokenizer->decode_all(std::span<const std::int32_t>(out).subspan(1));
  REQUIRE(decoded);
  CHECK(*decoded == text);
}
