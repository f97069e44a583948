// Unit tests: run.c's RNG and sampling rules (against values computed independently), forma's
// top-k, and callers' generators.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include <forma/core/contract.hpp>
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
  XorShiftRng zero(0);
  CHECK(zero.next_u32() == 0u);  // why run.c (and forma-run) never seed with 0
}

TEST_CASE("temperature 0 is greedy: the first of equal maxima, no coin drawn") {
  Sampler sampler(5, {.temperature = 0.0f});
  std::vector<float> logits{1.0f, 3.0f, -2.0f, 3.0f, 0.5f};
  CHECK(sampler.sample(logits) == 1);
  CHECK(logits[1] == 3.0f);  // greedy leaves the logits alone
  CHECK(sampler.rng().state() == 1u);
  CHECK(Sampler::argmax(std::vector<float>{-1.0f, -0.5f, -0.5f}) == 1);
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

TEST_CASE("top-p over equal probabilities: the nucleus takes them in index order") {
  // n = 5, p = 0.75 (cut-off 0.0625 drops token 4): sorted 0.3 (0), 0.3 (1), 0.2 (2), 0.15 (3);
  // the cumulative 0.8 first exceeds 0.75 at token 2, so the nucleus is {0, 1, 2}, mass 0.8.
  Sampler sampler(5, {.temperature = 1.0f, .top_p = 0.75f});
  auto logits = logits_of({0.3f, 0.3f, 0.2f, 0.15f, 0.05f});
  CHECK(sampler.sample(logits, fixed_coin{0.999f}) == 2);
  logits = logits_of({0.3f, 0.3f, 0.2f, 0.15f, 0.05f});
  CHECK(sampler.sample(logits, fixed_coin{0.5f}) == 1);  // 0.4 ∈ [0.3, 0.6)
  logits = logits_of({0.3f, 0.3f, 0.2f, 0.15f, 0.05f});
  CHECK(sampler.sample(logits, fixed_coin{0.2f}) == 0);
}

TEST_CASE("top-p of 1 (or 0) samples from the whole distribution") {
  Sampler sampler(4, {.temperature = 1.0f, .top_p = 1.0f});
  auto logits = logits_of({0.25f, 0.125f, 0.5f, 0.125f});
  CHECK(sampler.sample(logits, fixed_coin{0.99f}) == 3);
  Sampler off(4, {.temperature = 1.0f, .top_p = 0.0f});
  logits = logits_of({0.25f, 0.125f, 0.5f, 0.125f});
  CHECK(off.sample(logits, fixed_coin{0.3f}) == 1);
}

TEST_CASE("temperature divides the logits before the softmax") {
  Sampler sampler(2, {.temperature = 0.5f, .top_p = 0.0f});
  std::vector<float> logits{0.0f, std::log(3.0f) / 2.0f};  // /0.5 → {0, log 3}: p = {0.25, 0.75}
  CHECK(sampler.sample(logits, fixed_coin{0.2f}) == 0);
  CHECK(logits[0] == doctest::Approx(0.25f));
  CHECK(logits[1] == doctest::Approx(0.75f));
}

TEST_CASE("the softmax is run.c's float arithmetic, bit for bit") {
  // run.c: max, then x = expf(x - max) with the sum in order, then x /= sum — computed here
  // with the C library directly.
  std::vector<float> logits(97);
  for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(static_cast<float>(i) * 0.7f) * 9.0f;
  std::vector<float> expected = logits;
  const float temperature = 0.8f;
  for (float& x : expected) x /= temperature;
  float max_value = expected[0];
  for (float x : expected) max_value = x > max_value ? x : max_value;
  float sum = 0.0f;
  for (float& x : expected) {
    x = ::expf(x - max_value);
    sum += x;
  }
  for (float& x : expected) x /= sum;
  Sampler sampler(logits.size(), {.temperature = temperature, .top_p = 0.0f});
  (void)sampler.sample(logits, fixed_coin{0.5f});
  CHECK(logits == expected);
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
  // Equal probabilities: the lower index is among the k.
  Sampler tie(4, {.temperature = 1.0f, .top_p = 0.0f, .top_k = 3});
  logits = logits_of({0.25f, 0.125f, 0.5f, 0.125f});
  CHECK(tie.sample(logits, fixed_coin{0.9999f}) == 1);
  // k ≥ vocab is off: run.c's path (here p = 0.9 over everything).
  Sampler all(4, {.temperature = 1.0f, .top_p = 0.0f, .top_k = 4});
  logits = logits_of({0.25f, 0.125f, 0.5f, 0.125f});
  CHECK(all.sample(logits, fixed_coin{0.99f}) == 3);
}

TEST_CASE("top-k then top-p: the nucleus of the renormalised k") {
  // k = 3 keeps 0.5 (2), 0.25 (0), 0.125 (1): mass 0.875. p = 0.5 of that is 0.4375: the
  // cumulative 0.5 already exceeds it, so only token 2 remains.
  Sampler sampler(4, {.temperature = 1.0f, .top_p = 0.5f, .top_k = 3});
  auto logits = logits_of({0.25f, 0.125f, 0.5f, 0.125f});
  CHECK(sampler.sample(logits, fixed_coin{0.9999f}) == 2);
  // p = 0.9 of 0.875 = 0.7875: {2, 0, 1} (0.875 > 0.7875), coin scaled to 0.875.
  Sampler wider(4, {.temperature = 1.0f, .top_p = 0.9f, .top_k = 3});
  logits = logits_of({0.25f, 0.125f, 0.5f, 0.125f});
  CHECK(wider.sample(logits, fixed_coin{0.9999f}) == 1);
}

TEST_CASE("a seed gives the same tokens every time, and its stream is run.c's coins") {
  const auto draw = [](std::uint64_t seed) {
    std::vector<std::int32_t> tokens;
    Sampler sampler(64, {.temperature = 1.0f, .top_p = 0.9f, .seed = seed});
    for (int step = 0; step < 50; ++step) {
      std::vector<float> logits(64);
      for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(static_cast<float>(i * 7 + step));
      tokens.push_back(sampler.sample(logits));
    }
    return tokens;
  };
  CHECK(draw(7) == draw(7));
  CHECK(draw(7) != draw(8));
  // The built-in generator and an explicit XorShiftRng with the same seed draw the same coins.
  Sampler builtin(64, {.temperature = 1.0f, .top_p = 0.9f, .seed = 99});
  Sampler external(64, {.temperature = 1.0f, .top_p = 0.9f, .seed = 12345});
  XorShiftRng rng(99);
  for (int step = 0; step < 20; ++step) {
    std::vector<float> a(64), b(64);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = b[i] = std::cos(static_cast<float>(i * 3 + step));
    CHECK(builtin.sample(a) == external.sample(b, rng));
  }
  CHECK(builtin.rng().state() == rng.state());
}

TEST_CASE("a standard generator drives the sampler through generate_canonical") {
  std::mt19937 engine(5);
  std::mt19937 copy = engine;
  Sampler sampler(4, {.temperature = 1.0f, .top_p = 0.0f});
  auto logits = logits_of({0.25f, 0.125f, 0.5f, 0.125f});
  const std::int32_t token = sampler.sample(logits, engine);
  const float coin = std::generate_canonical<float, 24>(copy);
  CHECK(token == Sampler::multinomial(logits, coin));
  const bool one_coin = engine == copy;  // exactly one coin drawn
  CHECK(one_coin);
}

TEST_CASE("the logits must match the vocabulary, and NaNs do not break the order") {
  Sampler sampler(4, {.temperature = 1.0f});
  std::vector<float> short_logits(3, 0.0f);
  CHECK_THROWS_AS(sampler.sample(short_logits), forma::shape_error);
  CHECK_THROWS_WITH(sampler.sample(short_logits),
                    "Sampler::sample: the logits' length differs from the sampler's vocabulary: 3 != 4");
  Sampler top_k(4, {.temperature = 1.0f, .top_p = 0.0f, .top_k = 2});
  std::vector<float> with_nan{0.0f, std::numeric_limits<float>::quiet_NaN(), 1.0f, 0.5f};
  const std::int32_t token = top_k.sample(with_nan, fixed_coin{0.5f});
  CHECK(token >= 0);
  CHECK(token < 4);
}
