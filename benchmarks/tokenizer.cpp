// benchmarks/tokenizer.cpp — encoding text with the Llama 2 tokenizer (32,000 pieces).
//
// Peer in the same run: a transcription of llama2.c run.c's encode loop (tests/support/
// runc_encode.hpp), which rescans every adjacent pair after each merge. forma gives the same ids
// (tests/unit/text/tokenizer.cpp) with a heap of candidate pairs: O(n log n) instead of O(n²), so
// the ratio grows with the text. The peer stops at 16 KiB (it needs seconds per call there).
// Counter: input bytes per second.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <forma/text/tokenizer.hpp>

#include "runc_encode.hpp"

namespace {

const forma::text::Tokenizer& llama2() {
  static const forma::text::Tokenizer t = forma::text::Tokenizer::load(FORMA_LLAMA2_TOKENIZER).value();
  return t;
}

// Story-like English with numbers and a little non-ASCII, `bytes` long.
std::string text_of(std::size_t bytes) {
  const char* const sentences[] = {
      "Once upon a time, there was a little girl named Lily. ", "She loved to play outside in the park. ",
      "One day, she saw a big, red ball under a tree. ", "\"Can I play with you?\" asked the dog. ",
      "They played together until the sun went down at 7:45 pm. ", "Lily's mom made caf\xC3\xA9 au lait. "};
  std::string text;
  for (std::size_t i = 0; text.size() < bytes; ++i) text += sentences[(i * 5 + i / 6) % 6];
  text.resize(bytes);
  return text;
}

void report(benchmark::State& state, std::size_t bytes) {
  state.counters["bytes/s"] =
      benchmark::Counter(static_cast<double>(bytes) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_encode_forma(benchmark::State& state) {
  const std::string text = text_of(static_cast<std::size_t>(state.range(0)));
  std::vector<std::int32_t> tokens;
  for (auto _ : state) {
    if (!llama2().encode(text, true, false, tokens)) state.SkipWithError("encode failed");
    benchmark::DoNotOptimize(tokens.data());
  }
  report(state, text.size());
}

void BM_encode_runc_loop(benchmark::State& state) {
  const std::string text = text_of(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    auto tokens = forma_test::runc_encode(llama2(), text, true, false);
    benchmark::DoNotOptimize(tokens.data());
  }
  report(state, text.size());
}

}  // namespace

BENCHMARK(BM_encode_forma)->Arg(256)->Arg(4096)->Arg(16384)->Arg(1 << 20)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_encode_runc_loop)->Arg(256)->Arg(4096)->Arg(16384)->Unit(benchmark::kMicrosecond);
