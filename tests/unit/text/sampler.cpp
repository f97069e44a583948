// Unit tests: run.c's RNG and sampling rules, and forma's top-k.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <initializer_list>
#include <cstdint>
#include <vector>

#include <forma/text/sampler.hpp>

using forma::text::Sampler;
using forma::text::XorShiftRng;

TEST_CASE("xorshift* gives run.c's stream (reference values from Python's exact integers)") {
  // /usr/bin/python3: s ^= s >> 12; s ^= (s << 25) mod 2^64; s ^= s >> 27; (s * 0x2545F4914F6CDD1D mod 2^64) >> 32
  const std::array<std::pair<std::uint64_t, std::array<std::uint32_t, 5>>, 3> reference{{
      {1, {1206177355u, 2882512552u, 3117485455u, 1303648416u, 241277360u}},
      {42, {1456360119u, 3359763283u, 3393612768u, 4054632243u, 3283045847u}},
      {133742, {3033531262u, 2674377904u, 2312864567u, 2287415643u, 1408443089u}},
  }};
  for (const auto& [seed, values] : reference) {
    XorShiftRng rng(seed);
    for (const std::uint32_t expected : values) CHECK(rng.next_u32() == expected);
  }
  XorShiftRng rng(42);
  CHECK(rng.next_f32() == static_cast<float>(1456360119u >> 8) / 16777216.0f);
}

TEST_CASE("temperature 0 is greedy: the first of equal maxima") {
  Sampler sampler(5, {.temperature = 0.0f});
  std::vector<float> logits{1.0f, 3.0f, -2.0f, 3.0f, 0.5f};
  CHECK(sampler.sample(logits) == 1);
  CHECK(logits[1] == 3.0f);  // greedy leaves the logits alone
}

TEST_CASE("multinomial walks the cumulative distribution") {
  const std::array<float, 4> p{0.25f, 0.25f, 0.5f, 0.0f};
  CHECK(Sampler::multinomial(p, 0.0f) == 0);
  CHECK(Sampler::multinomial(p, 0.24f) == 0);
  CHECK(Sampler::multinomial(p, 0.25f) == 1);
  CHECK(Sampler::multinomial(p, 0.5f) == 2);
  CHECK(Sampler::multinomial(p, 0.9999f) == 2);
  const std::array<float, 2> short_mass{0.25f, 0.25f};
  CHECK(Sampler::multinomial(short_mass, 0.75f) == 1);  // rounding fallback: the last index
}

namespace {
// Logits whose softmax is exactly the given probabilities (log p; temperature 1).
std::vector<float> logits_of(std::initializer_list<float> probabilities) {
  std::vector<float> logits;
  for (float p : probabilities) logits.push_back(std::log(p));
  return logits;
}
// A generator that always returns the same coin.
struct fixed_coin {
  float value;
  float operator()() const { return value; }
};
}  // namespace

TEST_CASE("top-p keeps the smallest most-likely prefix whose mass exceeds p") {
  // Sorted: 0.5 (idx 2), 0.25 (idx 0), 0.125 (idx 1), 0.125 (idx 3). With p = 0.7 the nucleus
  // is {2, 0} (0.75 > 0.7), and the coin is scaled to its mass 0.75.
  Sampler sampler(4, {.temperature = 1.0f, .top_p = 0.7f});
  auto logits = logits_of({0.25f, 0.125f, 0.5f, 0.125f});
  CHECK(sampler.sample(logits, fixed_coin{0.0f}) == 2);
  logits = logits_of({0.25f, 0.125f, 0.5f, 0.125f});
  CHECK(sampler.sample(logits, fixed_coin{0.66f}) == 2);  // 0.66 · 0.75 = 0.495 < 0.5
  logits = logits_of({0.25f, 0.125f, 0.5f, 0.125f});
  CHECK(sampler.sample(logits, fixed_coin{0.67f}) == 0);  // 0.5025 ≥ 0.5
  logits = logits_of({0.25f, 0.125f, 0.5f, 0.125f});
  CHECK(sampler.sample(logits, fixed_coin{0.9999f}) == 0);  // never beyond the nucleus
  // Ties keep index order (run.c's qsort on glibc is a stable merge sort): with p = 0.8 the
  // nucleus is {2, 0, 1}, not {2, 0, 3}.
  Sampler wider(4, {.temperature = 1.0f, .top_p = 0.8f});
  logits = logits_of({0.25f, 0.125f, 0.5f, 0.125f});
  CHECK(wider.sample(logits, fixed_coin{0.9999f}) == 1);
}

TEST_CASE("top-p of 1 (or 0) samples from the whole distribution") {
  Sampler sampler(4, {.temperature = 1.0f, .top_p = 1.0f});
  auto logits = logits_of({0.25f, 0.125f, 0.5f, 0.125f});
  CHECK(sampler.sample(logits, fixed_coin{0.99f}) == 3);
}

TEST_CASE("temperature divides the logits before the softmax") {
  Sampler sampler(2, {.temperature = 0.5f, .top_p = 0.0f});
  std::vector<float> logits{0.0f, std::log(3.0f) / 2.0f};  // /0.5 → {0, log 3}: p = {0.25, 0.75}
  CHECK(sampler.sample(logits, fixed_coin{0.2f}) == 0);
  CHECK(logits[0] == doctest::Approx(0.25f));
  CHECK(logits[1] == doctest::Approx(0.75f));
}

TEST_CASE("top-k samples among the k most likely, in proportion") {
  // k = 2 keeps {2 (0.5), 0 (0.25)}: mass 0.75.
  Sampler sampler(4, {.temperature = 1.0f, .top_p = 0.0f, .top_k = 2});
  auto logits = logits_of({0.25f, 0.125f, 0.5f, 0.125f});
  CHECK(sampler.sample(logits, fixed_coin{0.6f}) == 2);  // 0.45 < 0.5
  logits = logits_of({0.25f, 0.125f, 0.5f, 0.125f});
  CHECK(sampler.sample(logits, fixed_coin{0.7f}) == 0);  // 0.525
  logits = logits_of({0.25f, 0.125f, 0.5f, 0.125f});
  CHECK(sampler.sample(logits, fixed_coin{0.9999f}) == 0);
  // k = 1 is greedy.
  Sampler one(4, {.temperature = 1.0f, .top_k = 1});
  logits = logits_of({0.25f, 0.125f, 0.5f, 0.125f});
  CHECK(one.sample(logits, fixed_coin{0.9999f}) == 2);
}

TEST_CASE("a seed gives the same tokens every time") {
  std::vector<std::int32_t> first, second;
  for (auto* out : {&first, &second}) {
    Sampler sampler(64, {.temperature = 1.0f, .top_p = 0.9f, .seed = 7});
    for (int step = 0; step < 50; ++step) {
      std::vector<float> logits(64);
      for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(static_cast<float>(i * 7 + step));
      out->push_back(sampler.sample(logits));
    }
  }
  CHECK(first == second);
}
