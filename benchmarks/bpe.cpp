// benchmarks/bpe.cpp — GPT-2 byte-level BPE (forma::text::BpeTokenizer, 50,257 tokens, 50,000
// merges) encoding and decoding text up to 1 MiB.
//
// Cases: story-like English with numbers and some non-ASCII (many short pieces); one 1 MiB "word"
// of letters and one of CJK characters (a single pre-split piece each, where merging by rank with
// a heap over a linked list costs O(n log n); the reference loop rescans every pair after each
// merge, O(n²)); decode of the story's ids. Counter: input bytes per second. Time per byte should
// stay flat as the size grows.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <forma/text/bpe.hpp>

namespace {

const forma::text::BpeTokenizer& gpt2() {
  static const forma::text::BpeTokenizer t = forma::text::BpeTokenizer::load(FORMA_GPT2_TOKENIZER).value();
  return t;
}

std::string story_of(std::size_t bytes) {
  const char* const sentences[] = {
      "Once upon a time, there was a little girl named Lily. ", "She loved to play outside in the park.\n",
      "One day, she saw a big, red ball under a tree. ", "\"Can I play with you?\" asked the dog. ",
      "They played together until the sun went down at 7:45 pm. ", "Lily's mom made caf\xC3\xA9 au lait \xF0\x9F\x98\x80. "};
  std::string text;
  for (std::size_t i = 0; text.size() < bytes; ++i) text += sentences[(i * 5 + i / 6) % 6];
  text.resize(bytes);
  return text;
}

std::string repeated(const std::string& unit, std::size_t bytes) {
  std::string text;
  while (text.size() + unit.size() <= bytes) text += unit;
  return text;
}

void report(benchmark::State& state, std::size_t bytes) {
  state.counters["bytes/s"] = benchmark::Counter(static_cast<double>(bytes) * static_cast<double>(state.iterations()),
                                                 benchmark::Counter::kIsRate);
}

void encode_case(benchmark::State& state, const std::string& text) {
  std::vector<std::int32_t> ids;
  for (auto _ : state) {
    gpt2().encode(text, ids);
    benchmark::DoNotOptimize(ids.data());
  }
  state.counters["tokens"] = static_cast<double>(ids.size());
  report(state, text.size());
}

void BM_bpe_encode_story(benchmark::State& state) { encode_case(state, story_of(static_cast<std::size_t>(state.range(0)))); }
void BM_bpe_encode_one_word(benchmark::State& state) {
  encode_case(state, repeated("abcdefgh", static_cast<std::size_t>(state.range(0))));
}
void BM_bpe_encode_one_cjk_word(benchmark::State& state) {
  encode_case(state, repeated("\xE4\xB8\xAD\xE6\x96\x87\xE5\xAD\x97", static_cast<std::size_t>(state.range(0))));
}

void BM_bpe_decode_story(benchmark::State& state) {
  const std::string text = story_of(static_cast<std::size_t>(state.range(0)));
  const std::vector<std::int32_t> ids = gpt2().encode(text);
  for (auto _ : state) {
    auto decoded = gpt2().decode(ids);
    if (!decoded || decoded->size() != text.size()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(decoded->data());
  }
  report(state, text.size());
}

}  // namespace

BENCHMARK(BM_bpe_encode_story)->Arg(1024)->Arg(64 << 10)->Arg(1 << 20)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_bpe_encode_one_word)->Arg(1024)->Arg(64 << 10)->Arg(1 << 20)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_bpe_encode_one_cjk_word)->Arg(1023)->Arg(64 << 10)->Arg(1 << 20)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_bpe_decode_story)->Arg(1 << 20)->Unit(benchmark::kMillisecond);
