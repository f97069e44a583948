// forma/text/sampler.hpp — choosing the next token from logits, as llama2.c's run.c does.
//
//   logits (vocab) => token id
//   temperature 0        greedy: the first index of the largest logit (the logits are left alone)
//   otherwise            logits / temperature → softmax in place (float: the max subtracted, expf,
//                        the sum in index order, then divisions) → one coin from the generator →
//                        top-k when 0 < k < vocab → top-p when 0 < p < 1 → the draw
// With top_k off the arithmetic and the generator's stream are run.c's, so a seed gives run.c's
// tokens for the same logits: the xorshift* generator, the (1 − p)/(n − 1) cut-off before sorting,
// a descending sort whose ties keep index order (glibc's qsort is a stable merge sort), the
// truncation where the cumulative mass first exceeds p, and the coin scaled to the kept mass.
//
// top-k (forma's addition; run.c has none): keep the k most probable tokens (equal probabilities
// in index order), then, if top-p is on, the smallest prefix of them whose mass exceeds p times
// their mass (top-p over the renormalised top-k distribution); the coin is scaled to the kept
// mass, as in top-p. k = 0 or k ≥ vocab turns it off.
//
// The logits are overwritten with probabilities, like run.c. The candidate buffer is allocated
// once, by the constructor: sampling allocates nothing.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "forma/core/contract.hpp"
#include "forma/kernels/cpu/softmax.hpp"

namespace forma::text {

// run.c's xorshift* generator. A state of 0 stays 0 forever (run.c replaces a 0 seed with the
// time before it gets here; so does forma-run).
class XorShiftRng {
 public:
  explicit XorShiftRng(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint32_t next_u32() noexcept {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return static_cast<std::uint32_t>((state_ * 0x2545F4914F6CDD1Dull) >> 32);
  }
  // A float in [0, 1) from the top 24 bits, as run.c's random_f32().
  float next_f32() noexcept { return static_cast<float>(next_u32() >> 8) / 16777216.0f; }
  float operator()() noexcept { return next_f32(); }
  std::uint64_t state() const noexcept { return state_; }

 private:
  std::uint64_t state_;
};

// What a caller may drive the sampler with: a callable returning a float coin in [0, 1), or a
// standard random bit generator (std::mt19937, ...), whose coin is std::generate_canonical.
template <class G>
concept coin_source = std::uniform_random_bit_generator<std::remove_cvref_t<G>> ||
                      requires(G& g) {
                        { g() } -> std::floating_point;
                      };

struct SamplerOptions {
  float temperature = 1.0f;  // 0 = greedy
  float top_p = 0.9f;        // nucleus; ≤ 0 or ≥ 1 turns it off
  std::size_t top_k = 0;     // the k most probable tokens first; 0 = off (forma's addition)
  std::uint64_t seed = 1;    // the state of the built-in xorshift* generator
};

class Sampler {
 public:
  Sampler(std::size_t vocab_size, SamplerOptions options)
      : options_(options), rng_(options.seed), candidates_(vocab_size) {}

  std::size_t vocab_size() const noexcept { return candidates_.size(); }
  const SamplerOptions& options() const noexcept { return options_; }
  const XorShiftRng& rng() const noexcept { return rng_; }

  // The next token from logits of exactly vocab_size() entries, with the built-in generator.
  std::int32_t sample(std::span<float> logits) { return sample(logits, rng_); }

  // The same with the caller's generator (see coin_source). Exactly one coin is drawn unless the
  // temperature is 0.
  template <coin_source Rng>
  std::int32_t sample(std::span<float> logits, Rng&& rng) {
    // Checked in every build: the candidate buffer is sized by the vocabulary.
    if (logits.size() != vocab_size()) {
      contract::fail_shape(contract::describe_mismatch(
          "Sampler::sample: the logits' length differs from the sampler's vocabulary", logits.size(),
          "!=", vocab_size()));
    }
    const std::size_t n = logits.size();
    if (n == 0) contract::fail_shape("Sampler::sample: no logits to sample from");
    if (options_.temperature == 0.0f) return argmax(logits);
    for (float& logit : logits) logit /= options_.temperature;
    kernels::cpu::softmax_row(logits.data(), n, n);
    const float coin = draw_coin(rng);
    if (options_.top_k > 0 && options_.top_k < n) return sample_top_k(logits, coin);
    if (options_.top_p <= 0.0f || options_.top_p >= 1.0f) return multinomial(logits, coin);
    return sample_top_p(logits, coin);
  }

  // The first index of the largest value (run.c's sample_argmax; 0 for an empty span).
  static std::int32_t argmax(std::span<const float> values) noexcept {
    std::size_t best = 0;
    for (std::size_t i = 1; i < values.size(); ++i) {
      if (values[i] > values[best]) best = i;
    }
    return static_cast<std::int32_t>(best);
  }

  // Walks the cumulative distribution until it passes the coin (the last index when rounding
  // leaves the total below it): run.c's sample_mult.
  static std::int32_t multinomial(std::span<const float> probabilities, float coin) noexcept {
    float cdf = 0.0f;
    for (std::size_t i = 0; i < probabilities.size(); ++i) {
      cdf += probabilities[i];
      if (coin < cdf) return static_cast<std::int32_t>(i);
    }
    return static_cast<std::int32_t>(probabilities.size()) - 1;
  }

 private:
  struct candidate {
    float probability;
    std::int32_t index;
  };

  template <class Rng>
  static float draw_coin(Rng& rng) {
    if constexpr (std::uniform_random_bit_generator<std::remove_cvref_t<Rng>>) {
      return std::generate_canonical<float, 24>(rng);
    } else {
      return static_cast<float>(rng());
    }
  }

  // Descending probability, ties in index order: the order glibc's stable qsort gives run.c,
  // without the allocation std::stable_sort may make. A NaN sorts last, so the order stays strict.
  static bool more_likely(const candidate& a, const candidate& b) noexcept {
    const bool a_nan = std::isnan(a.probability), b_nan = std::isnan(b.probability);
    if (a_nan != b_nan) return b_nan;
    if (!a_nan && a.probability != b.probability) return a.probability > b.probability;
    return a.index < b.index;
  }

  // run.c's sample_topp: the smallest most-probable prefix whose mass exceeds top_p.
  std::int32_t sample_top_p(std::span<const float> probabilities, float coin) {
    const std::size_t n = probabilities.size();
    // A token below (1 − p)/(n − 1) can never be in the nucleus: dropped before sorting. (With one
    // token the cut-off is infinite and nothing is kept; forma then returns 0 where run.c would
    // read before its buffer.)
    const float cutoff = (1.0f - options_.top_p) / static_cast<float>(n - 1);
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (probabilities[i] >= cutoff) candidates_[kept++] = {probabilities[i], static_cast<std::int32_t>(i)};
    }
    std::sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(kept), more_likely);
    return draw_from_prefix(kept, options_.top_p, coin);
  }

  std::int32_t sample_top_k(std::span<const float> probabilities, float coin) {
    const std::size_t n = probabilities.size();
    for (std::size_t i = 0; i < n; ++i) candidates_[i] = {probabilities[i], static_cast<std::int32_t>(i)};
    const auto k = static_cast<std::ptrdiff_t>(options_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + k,
                      candidates_.begin() + static_cast<std::ptrdiff_t>(n), more_likely);
    float mass = 0.0f;
    for (std::size_t i = 0; i < options_.top_k; ++i) mass += candidates_[i].probability;
    const bool nucleus = options_.top_p > 0.0f && options_.top_p < 1.0f;
    return draw_from_prefix(options_.top_k, nucleus ? options_.top_p * mass : mass, coin);
  }

  // Among the first `count` sorted candidates: truncate where the cumulative mass first exceeds
  // `limit` (keep them all if rounding never gets there), then draw with the coin scaled to the
  // kept mass (the last kept one if rounding leaves the coin uncovered).
  std::int32_t draw_from_prefix(std::size_t count, float limit, float coin) const noexcept {
    if (count == 0) return 0;
    float cumulative = 0.0f;
    std::size_t last = count - 1;
    for (std::size_t i = 0; i < count; ++i) {
      cumulative += candidates_[i].probability;
      if (cumulative > limit) {
        last = i;
        break;
      }
    }
    const float r = coin * cumulative;
    float cdf = 0.0f;
    for (std::size_t i = 0; i <= last; ++i) {
      cdf += candidates_[i].probability;
      if (r < cdf) return candidates_[i].index;
    }
    return candidates_[last].index;
  }

  SamplerOptions options_;
  XorShiftRng rng_;
  std::vector<candidate> candidates_;
};

}  // namespace forma::text
