// benchmarks/llama.cpp — decoding and prefilling the shipped stories260K model.
//
// Peers in the same run: the ordered_sum arithmetic is llama2.c's run.c loop structure (one
// accumulator per dot product, in order), so "fast vs ordered" is forma's kernels against
// run.c's arithmetic on identical model code; static vs dynamic extents measures what the
// static shape buys; prefill vs decode, what batching the prompt buys.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include <forma/io/llama2c.hpp>
#include <forma/models/llama.hpp>
#include <forma/models/presets.hpp>

namespace {

const char* const checkpoint_path = FORMA_MODEL_DIR "/stories260K.bin";

template <forma::LlamaConfig C, class Sum>
void BM_decode(benchmark::State& state) {
  auto checkpoint = forma::io::llama2c::load<C>(checkpoint_path).value();
  forma::Llama<C, 32, Sum> model(checkpoint.weights());
  std::size_t pos = 0;
  std::int32_t token = 1;
  for (auto _ : state) {
    if (pos == 256) pos = 0;  // stay within a realistic context
    auto logits = model.forward(token, pos++).value();
    token = static_cast<std::int32_t>(pos % 500) + 3;
    benchmark::DoNotOptimize(logits.data());
  }
  state.counters["tok/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

template <class Sum>
void BM_prefill(benchmark::State& state) {
  auto checkpoint = forma::io::llama2c::load<forma::presets::stories260k>(checkpoint_path).value();
  forma::Llama<forma::presets::stories260k, 32, Sum> model(checkpoint.weights());
  std::vector<std::int32_t> tokens(static_cast<std::size_t>(state.range(0)));
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<std::int32_t>(3 + (i * 131) % 509);
  for (auto _ : state) {
    auto logits = model.prefill(tokens, 0).value();
    benchmark::DoNotOptimize(logits.data());
  }
  state.counters["tok/s"] = benchmark::Counter(static_cast<double>(state.iterations() * tokens.size()),
                                               benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_decode<forma::presets::stories260k, forma::fast_sum_t>)->Name("decode/static/fast_sum");
BENCHMARK(BM_decode<forma::presets::stories260k, forma::ordered_sum_t>)->Name("decode/static/ordered_sum(llama2.c)");
BENCHMARK(BM_decode<forma::presets::any_llama, forma::fast_sum_t>)->Name("decode/dynamic/fast_sum");
BENCHMARK(BM_decode<forma::presets::any_llama, forma::ordered_sum_t>)->Name("decode/dynamic/ordered_sum(llama2.c)");
BENCHMARK(BM_prefill<forma::fast_sum_t>)->Name("prefill/fast_sum")->Arg(128);
BENCHMARK(BM_prefill<forma::ordered_sum_t>)->Name("prefill/ordered_sum(llama2.c)")->Arg(128);
