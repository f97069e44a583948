// benchmarks/bench_decode.cpp — decode tokens per second of llama2.c checkpoints at 1 and 2
// threads, the weight bandwidth that reaches, and a STREAM-style triad measured in the same run;
// prefill of 256 tokens (the model's max_seq when smaller) with its GFLOP/s, next to the packed
// GEMM's GFLOP/s on the model's largest projection shape (256 × hidden × dim) in the same run.
//
//   build/release/benchmarks/bench_decode                      # the shipped stories260K only
//   /usr/bin/python3 benchmarks/peers/make_llama2c_checkpoint.py /tmp/forma-bench
//   FORMA_BENCH_MODELS=/tmp/forma-bench build/release/benchmarks/bench_decode
//
// FORMA_BENCH_MODELS names a folder holding stories{15m,42m,110m}_random.bin (random weights with
// the stories models' shapes: values do not change speed); each one found is benchmarked too.
// Counters: tok/s, weight GB/s (every matrix read once a token: the layers' projections and the
// classifier, 4 bytes a weight; the KV cache is not counted) and, for the triad, GB/s of
// a[i] = b[i] + s·c[i] over 3 × 64 MiB (three arrays counted, as STREAM does). Prefill GFLOP/s
// counts 2 flops per weight per token for the layers' projections, the attention's QKᵀ and PV
// (causal: T·(T+1)/2 pairs per head) and the last row's classifier.
// Threads: forma::set_parallel_threads(1 or 2) per case, whatever OMP/FORMA_NUM_THREADS say.
// benchmarks/peers/run_decode_peers.sh times llama2.c's run on the same files, interleaved.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <forma/core/parallel.hpp>
#include <forma/kernels/cpu/gemm_packed.hpp>
#include <forma/io/llama2c.hpp>
#include <forma/models/llama.hpp>
#include <forma/models/presets.hpp>

namespace {

// Bytes of weights one decode step reads: every projection of every layer and the classifier.
double weight_bytes(const forma::LlamaShape& s) {
  const double dim = static_cast<double>(s.dim), hidden = static_cast<double>(s.hidden);
  const double kv_dim = static_cast<double>(s.kv_heads) * dim / static_cast<double>(s.heads);
  const double per_layer = 2 * dim * dim + 2 * dim * kv_dim + 3 * dim * hidden;
  return 4.0 * (static_cast<double>(s.layers) * per_layer + static_cast<double>(s.vocab) * dim);
}

template <forma::LlamaConfig C>
void decode(benchmark::State& state, const std::string& path, int threads) {
  auto checkpoint = forma::io::llama2c::load<C>(path);
  if (!checkpoint) {
    state.SkipWithError(checkpoint.error().to_string().c_str());
    return;
  }
  forma::set_parallel_threads(threads);
  forma::Llama<C, 32, forma::fast_sum_t> model(checkpoint->weights());
  const auto shape = checkpoint->weights().shape;
  const std::size_t context = shape.max_seq < 256 ? shape.max_seq : 256;
  std::size_t pos = 0;
  std::int32_t token = 1;
  for (auto _ : state) {
    if (pos == context) pos = 0;  // a realistic context, the cache reused
    auto logits = model.forward(token, pos++).value();
    token = static_cast<std::int32_t>((pos * 131) % (shape.vocab - 3)) + 3;
    benchmark::DoNotOptimize(logits.data());
  }
  const double tokens = static_cast<double>(state.iterations());
  state.counters["tok/s"] = benchmark::Counter(tokens, benchmark::Counter::kIsRate);
  state.counters["weight_GB/s"] = benchmark::Counter(tokens * weight_bytes(shape) / 1e9, benchmark::Counter::kIsRate);
  state.counters["threads"] = threads;
}

template <forma::LlamaConfig C>
void prefill(benchmark::State& state, const std::string& path, int threads) {
  auto checkpoint = forma::io::llama2c::load<C>(path);
  if (!checkpoint) {
    state.SkipWithError(checkpoint.error().to_string().c_str());
    return;
  }
  forma::set_parallel_threads(threads);
  forma::Llama<C, 256, forma::fast_sum_t> model(checkpoint->weights());
  const auto s = checkpoint->weights().shape;
  const std::size_t count = s.max_seq < 256 ? s.max_seq : 256;
  std::vector<std::int32_t> tokens(count);
  for (std::size_t i = 0; i < count; ++i) tokens[i] = static_cast<std::int32_t>((i * 131) % (s.vocab - 3)) + 3;
  for (auto _ : state) {
    auto logits = model.prefill(tokens, 0).value();
    benchmark::DoNotOptimize(logits.data());
  }
  const double t = static_cast<double>(count), dim = static_cast<double>(s.dim);
  const double layer_weights = (weight_bytes(s) / 4.0 - static_cast<double>(s.vocab) * dim) /
                               static_cast<double>(s.layers);
  const double attention = 2.0 * 2.0 * (t * (t + 1) / 2.0) * dim;  // QKᵀ and PV over all heads
  const double flops = static_cast<double>(s.layers) * (2.0 * layer_weights * t + attention) +
                       2.0 * static_cast<double>(s.vocab) * dim;
  const double runs = static_cast<double>(state.iterations());
  state.counters["tok/s"] = benchmark::Counter(runs * t, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(runs * flops / 1e9, benchmark::Counter::kIsRate);
  state.counters["threads"] = threads;
}

// The packed GEMM alone on (M, N, K): prefill's yardstick.
void gemm_nt(benchmark::State& state, std::size_t M, std::size_t N, std::size_t K, int threads) {
  forma::set_parallel_threads(threads);
  std::vector<float> a(M * K), b(N * K), c(M * N);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 7) * 0.25f - 0.75f;
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i % 5) * 0.125f - 0.25f;
  for (auto _ : state) {
    forma::kernels::cpu::packed::gemm_nt(M, N, K, a.data(), K, b.data(), K, c.data(), N);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * 2.0 *
                                                     static_cast<double>(M * N * K) / 1e9,
                                                 benchmark::Counter::kIsRate);
  state.counters["threads"] = threads;
}

void triad(benchmark::State& state, int threads) {
  forma::set_parallel_threads(threads);
  constexpr std::size_t n = std::size_t{1} << 24;  // 64 MiB per array
  std::vector<float> a(n, 0.0f), b(n, 1.0f), c(n, 2.0f);
  constexpr std::size_t chunk = 1 << 16;
  for (auto _ : state) {
    forma::parallel_for(n / chunk, chunk * 12, [&](std::size_t k) {
      float* __restrict pa = a.data() + k * chunk;
      const float* __restrict pb = b.data() + k * chunk;
      const float* __restrict pc = c.data() + k * chunk;
      for (std::size_t i = 0; i < chunk; ++i) pa[i] = pb[i] + 3.0f * pc[i];
    });
    benchmark::DoNotOptimize(a.data());
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * 3.0 * n * sizeof(float) / 1e9,
                                              benchmark::Counter::kIsRate);
  state.counters["threads"] = threads;
}

const bool registered = [] {
  for (const int threads : {1, 2}) {
    const std::string t = "/threads:" + std::to_string(threads);
    benchmark::RegisterBenchmark(("triad" + t).c_str(), triad, threads)->UseRealTime()->MinTime(0.5);
    benchmark::RegisterBenchmark(("decode/stories260K" + t).c_str(), decode<forma::presets::stories260k>,
                                 std::string(FORMA_MODEL_DIR "/stories260K.bin"), threads)
        ->UseRealTime()
        ->MinTime(1.0);
    benchmark::RegisterBenchmark(("prefill256/stories260K" + t).c_str(), prefill<forma::presets::stories260k>,
                                 std::string(FORMA_MODEL_DIR "/stories260K.bin"), threads)
        ->UseRealTime()
        ->MinTime(1.0);
    if (const char* dir = std::getenv("FORMA_BENCH_MODELS")) {
      for (const char* name : {"15m", "42m", "110m"}) {
        const std::string path = std::string(dir) + "/stories" + name + "_random.bin";
        if (!std::filesystem::exists(path)) continue;
        benchmark::RegisterBenchmark(("decode/stories" + std::string(name) + "_random" + t).c_str(),
                                     decode<forma::presets::any_llama>, path, threads)
            ->UseRealTime()
            ->MinTime(2.0);
        benchmark::RegisterBenchmark(("prefill256/stories" + std::string(name) + "_random" + t).c_str(),
                                     prefill<forma::presets::any_llama>, path, threads)
            ->UseRealTime()
            ->MinTime(2.0);
        // The model's w1/w3 shape, (256 tokens) × hidden × dim, from the file's header.
        std::int32_t header[2] = {0, 0};
        std::ifstream(path, std::ios::binary).read(reinterpret_cast<char*>(header), sizeof header);
        if (header[0] <= 0 || header[1] <= 0) continue;
        const auto dim = static_cast<std::size_t>(header[0]), hidden = static_cast<std::size_t>(header[1]);
        benchmark::RegisterBenchmark(("gemm_nt/256x" + std::to_string(hidden) + "x" + std::to_string(dim) + t).c_str(),
                                     gemm_nt, std::size_t{256}, hidden, dim, threads)
            ->UseRealTime()
            ->MinTime(1.0);
      }
    }
  }
  return true;
}();

}  // namespace
