// forma/text/sampler.hpp — choosing the next token from logits, as llama2.c's run.c does.
//
//   temperature 0          greedy: the first index of the largest logit
//   otherwise              logits / temperature → softmax (float, run.c's order) → one coin from
//                          the RNG → top-k (if k > 0) → top-p (if 0 < p < 1) → multinomial
// With top_k = 0 the arithmetic and the RNG stream are run.c's, so a seed gives run.c's tokens:
// the xorshift generator, the (1 − p)/(n − 1) cut-off before sorting, a descending sort whose
// ties keep index order (glibc's qsort is a stable merge sort at these sizes), the cumulative
// truncation and the scaled coin. The logits are overwritten with probabilities, like run.c.
// Buffers are allocated once: sampling allocates nothing.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "forma/kernels/cpu/softmax.hpp"

namespace forma::text {

// run.c's xorshift* generator; a state of 0 would stay 0, so 0 is not a valid seed.
class XorShiftRng {
 public:
  explicit XorShiftRng(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint32_t next_u32() noexcept {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return static_cast<std::uint32_t>((state_ * 0x2545F4914F6CDD1Dull) >> 32);
  }
  // A float in [0, 1) with 24 random bits.
  float next_f32() noexcept { return static_cast<float>(next_u32() >> 8) / 16777216.0f; }
  float operator()() noexcept { return next_f32(); }
  std::uint64_t state() const noexcept { return state_; }

 private:
  std::uint64_t state_;
};

struct SamplerOptions {
  float temperature = 1.0f;  // 0 = greedy
  float top_p = 0.9f;        // nucleus; ≤ 0 or ≥ 1 turns it off
  std::size_t top_k = 0;     // keep the k most likely tokens first; 0 = off (forma's addition)
  std::uint64_t seed = 1;
};

class Sampler {
 public:
  Sampler(std::size_t vocab_size, SamplerOptions options)
      : options_(options), rng_(options.seed), candidates_(vocab_size) {}

  std::size_t vocab_size() const noexcept { return candidates_.size(); }
  const SamplerOptions& options() const noexcept { return options_; }

  // The next token, drawing the coin from the sampler's own xorshift generator.
  std::int32_t sample(std::span<float> logits) { return sample(logits, rng_); }

  // The same with a caller's generator: any callable returning a float in [0, 1).
  template <class Rng>
  std::int32_t sample(std::span<float> logits, Rng&& rng) {
    const std::size_t n = std::min(logits.size(), candidates_.size());
    if (options_.temperature == 0.0f) return argmax(logits.first(n));
    for (std::size_t i = 0; i < n; ++i) logits[i] /= options_.temperature;
    kernels::cpu::softmax_row(logits.data(), n, n);
    const float coin = rng();
    if (options_.top_k > 0 && options_.top_k < n) return sample_top_k(logits.first(n), coin);
    if (options_.top_p <= 0.0f || options_.top_p >= 1.0f) return multinomial(logits.first(n), coin);
    return sample_top_p(logits.first(n), coin);
  }

  // The first index of the largest value.
  static std::int32_t argmax(std::span<const float> values) noexcept {
    std::size_t best = 0;
    for (std::size_t i = 1; i < values.size(); ++i) {
      if (values[i] > values[best]) best = i;
    }
    return static_cast<std::int32_t>(best);
  }

  // Walks the cumulative distribution until it passes the coin (the last index on rounding).
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
  // Descending probability, ties in index order: the order a stable sort would give, without
  // the allocation std::stable_sort may make.
  static bool more_likely(const candidate& a, const candidate& b) noexcept {
    return a.probability > b.probability || (a.probability == b.probability && a.index < b.index);
  }

  // Nucleus sampling over the smallest prefix of the sorted tokens whose mass exceeds top_p.
  std::int32_t sample_top_p(std::span<const float> probabilities, float coin) {
    const std::size_t n = probabilities.size();
    // Tokens below (1 − p)/(n − 1) can never be in the nucleus: drop them before sorting.
    const float cutoff = (1.0f - options_.top_p) / static_cast<float>(n - 1);
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (probabilities[i] >= cutoff) candidates_[kept++] = {probabilities[i], static_cast<std::int32_t>(i)};
    }
    std::sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(kept), more_likely);
    return draw_from_prefix(kept, options_.top_p, coin);
  }

  // Top-k, then top-p within those k when it is on.
  std::int32_t sample_top_k(std::span<const float> probabilities, float coin) {
    const std::size_t n = probabilities.size();
    for (std::size_t i = 0; i < n; ++i) candidates_[i] = {probabilities[i], static_cast<std::int32_t>(i)};
    const auto k = static_cast<std::ptrdiff_t>(options_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + k,
                      candidates_.begin() + static_cast<std::ptrdiff_t>(n), more_likely);
    float mass = 0.0f;
    for (std::ptrdiff_t i = 0; i < k; ++i) mass += candidates_[static_cast<std::size_t>(i)].probability;
    const bool nucleus = options_.top_p > 0.0f && options_.top_p < 1.0f;
    return draw_from_prefix(options_.top_k, nucleus ? options_.top_p * mass : mass, coin);
  }

  // Among the first `count` sorted candidates: truncate where the cumulative mass first exceeds
  // `limit`, then draw with the coin scaled to the kept mass.
  std::int32_t draw_from_prefix(std::size_t count, float limit, float coin) const noexcept {
    if (count == 0) return 0;
    float cumulative = 0.0f;
    std::size_t last = count - 1;  // if rounding keeps the sum ≤ limit, keep everything
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
