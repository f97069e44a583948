// benchmarks/bench_train.cpp — one training step: forward_backward, then clip_grad_norm(1), then
// adamw_step, reported as tokens per second (B·T tokens a step).
//
// Llama (LlamaTrainer), with B × T fixed here and in the PyTorch eager peer
// (benchmarks/peers/train_pytorch.py):
//   stories260k: the shipped preset (dim 64, hidden 172, 5 layers, 8/4 heads, vocab 512), 8 × 256
//   stories15m:  llama2.c's stories15M (dim 288, hidden 768, 6 layers, 6/6 heads, vocab 32000,
//                classifier tied), 4 × 256
// GPT-2 (GPT2Trainer), the shapes of the llm.c peer (benchmarks/peers/make_llmc_checkpoint.py):
//   gpt2_260k:   dim 64, 5 layers, 8 heads, vocab 512, 256 positions, 8 × 256
//   gpt2_15m:    dim 288, 6 layers, 6 heads, vocab 32000, 256 positions, 4 × 256
// The peers run in other processes, so benchmarks/peers/run_train_peers.sh interleaves them with
// this program and divides the medians (benchmarks/README.md, "Training", has the table).
// Threads: OMP_NUM_THREADS.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include <forma/models/presets.hpp>
#include <forma/train/gpt2_trainer.hpp>
#include <forma/train/llama_trainer.hpp>

namespace {

inline constexpr forma::LlamaConfig stories15m{.dim = 288,
                                               .hidden = 768,
                                               .layers = 6,
                                               .heads = 6,
                                               .kv_heads = 6,
                                               .vocab = 32000,
                                               .max_seq = 256,
                                               .classifier = forma::classifier_kind::shared};
inline constexpr forma::GPT2Config gpt2_260k{.dim = 64, .layers = 5, .heads = 8, .vocab = 512, .max_seq = 256};
inline constexpr forma::GPT2Config gpt2_15m{.dim = 288, .layers = 6, .heads = 6, .vocab = 32000, .max_seq = 256};

inline constexpr std::size_t shared_machine_bytes = std::size_t{2} << 30;
static_assert(forma::train::state_bytes<forma::presets::stories260k, 8, 256>() <= shared_machine_bytes &&
                  forma::train::state_bytes<stories15m, 4, 256>() <= shared_machine_bytes &&
                  forma::train::state_bytes<gpt2_260k, 8, 256>() <= shared_machine_bytes &&
                  forma::train::state_bytes<gpt2_15m, 4, 256>() <= shared_machine_bytes,
              "bench_train: each trainer's state should stay under 2 GiB on a shared machine");

// Trainer is LlamaTrainer<C, B, T> or GPT2Trainer<C, B, T>; the ids are drawn below `vocab`.
template <class Trainer, std::size_t B, std::size_t T, std::size_t vocab>
void BM_train_step(benchmark::State& state) {
  auto trainer = std::make_unique<Trainer>();
  trainer->init(1234);
  // Random ids: a step's cost does not depend on the text, and every row differs.
  std::mt19937 rng(42);
  std::uniform_int_distribution<std::int32_t> id(0, static_cast<std::int32_t>(vocab) - 1);
  std::vector<std::int32_t> sequence(B * T + 1);
  for (auto& t : sequence) t = id(rng);
  const forma::TensorView<const std::int32_t, forma::extents<B, T>> tokens(sequence.data());
  const forma::TensorView<const std::int32_t, forma::extents<B, T>> targets(sequence.data() + 1);
  float loss = 0.0f;
  for (auto _ : state) {
    loss = trainer->forward_backward(tokens, targets).value();
    trainer->clip_grad_norm(1.0f);
    trainer->adamw_step(1e-4, {.weight_decay = 0.1f});
    benchmark::DoNotOptimize(loss);
  }
  state.counters["tok/s"] = benchmark::Counter(static_cast<double>(state.iterations() * B * T),
                                               benchmark::Counter::kIsRate);
  state.counters["B"] = static_cast<double>(B);
  state.counters["T"] = static_cast<double>(T);
  state.counters["params"] = static_cast<double>(trainer->parameter_count());
  state.counters["loss"] = static_cast<double>(loss);
}

template <forma::LlamaConfig C, std::size_t B, std::size_t T>
void BM_llama(benchmark::State& state) {
  BM_train_step<forma::train::LlamaTrainer<C, B, T>, B, T, C.vocab>(state);
}

template <forma::GPT2Config C, std::size_t B, std::size_t T>
void BM_gpt2(benchmark::State& state) {
  BM_train_step<forma::train::GPT2Trainer<C, B, T>, B, T, C.vocab>(state);
}

}  // namespace

BENCHMARK(BM_llama<forma::presets::stories260k, 8, 256>)
    ->Name("train_step/stories260k/B8xT256")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_llama<stories15m, 4, 256>)
    ->Name("train_step/stories15m/B4xT256")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_gpt2<gpt2_260k, 8, 256>)
    ->Name("train_step/gpt2_260k/B8xT256")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_gpt2<gpt2_15m, 4, 256>)
    ->Name("train_step/gpt2_15m/B4xT256")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
