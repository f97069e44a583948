// benchmarks/bench_train.cpp — one training step of LlamaTrainer: forward_backward, then
// clip_grad_norm(1), then adamw_step, reported as tokens per second (B·T tokens a step).
//
// Two shapes, with B × T fixed here and in the peers (benchmarks/peers/train_pytorch.py takes the
// same values; benchmarks/README.md, "Training", has the table):
//   stories260k: the shipped preset (dim 64, hidden 172, 5 layers, 8/4 heads, vocab 512), 8 × 256
//   stories15m:  llama2.c's stories15M (dim 288, hidden 768, 6 layers, 6/6 heads, vocab 32000,
//                classifier tied), 4 × 256
// The peers run in other processes (PyTorch eager, llm.c), so benchmarks/peers/run_train_peers.sh
// interleaves them with this program and divides the medians. Threads: OMP_NUM_THREADS.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include <forma/models/presets.hpp>
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

template <forma::LlamaConfig C, std::size_t B, std::size_t T>
void BM_train_step(benchmark::State& state) {
  static_assert(forma::train::state_bytes<C, B, T>() <= std::size_t{2} << 30,
                "bench_train: a shape's trainer state should stay under 2 GiB on a shared machine");
  auto trainer = std::make_unique<forma::train::LlamaTrainer<C, B, T>>();
  trainer->init(1234);
  // Random ids: a step's cost does not depend on the text, and every row differs.
  std::mt19937 rng(42);
  std::uniform_int_distribution<std::int32_t> id(0, static_cast<std::int32_t>(C.vocab) - 1);
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

}  // namespace

BENCHMARK(BM_train_step<forma::presets::stories260k, 8, 256>)
    ->Name("train_step/stories260k/B8xT256")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_train_step<stories15m, 4, 256>)
    ->Name("train_step/stories15m/B4xT256")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
