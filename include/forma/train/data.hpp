// forma/train/data.hpp — batches of training tokens from one token stream.
//
//   TokenLoader loader(tokens, B, T, batch_order::sequential, seed);
//   loader.next(inputs, targets);    // (B·T) int32 each: row b = inputs[b·T .. b·T + T)
//
// sequential, as llm.c's DataLoader: batch i reads the B·T + 1 tokens from position p_i; the
// inputs are the first B·T (row b = tokens p_i + b·T ...), the targets the same shifted by one;
// p_0 = 0, p_{i+1} = p_i + B·T, and when p_{i+1} + B·T + 1 would run past the end, p_{i+1} = 0.
// random: B windows of T + 1 tokens (inputs the first T, targets the last T), each starting at
// rng() mod (n − T) with rng a std::mt19937_64 seeded with `seed` (the standard fixes its output
// sequence, so the windows are the same on every platform); one draw per row, in row order.
// position() and rng_state() are what a checkpoint saves to continue the same stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <sstream>
#include <string>

namespace forma::train {

enum class batch_order : unsigned char { sequential, random };

class TokenLoader {
 public:
  // tokens.size() must be at least B·T + 1 (the caller checks and reports it).
  TokenLoader(std::span<const std::int32_t> tokens, std::size_t batch, std::size_t seq,
              batch_order order, std::uint64_t seed)
      : tokens_(tokens), B_(batch), T_(seq), order_(order), rng_(seed) {}

  static constexpr std::size_t needed(std::size_t batch, std::size_t seq) noexcept {
    return batch * seq + 1;
  }

  // Fills inputs and targets (B·T each) with the next batch.
  void next(std::span<std::int32_t> inputs, std::span<std::int32_t> targets) {
    const std::size_t n = B_ * T_;
    if (order_ == batch_order::sequential) {
      for (std::size_t i = 0; i < n; ++i) {
        inputs[i] = tokens_[position_ + i];
        targets[i] = tokens_[position_ + i + 1];
      }
      position_ += n;
      if (position_ + n + 1 > tokens_.size()) position_ = 0;
      return;
    }
    const std::uint64_t range = tokens_.size() - T_;
    for (std::size_t b = 0; b < B_; ++b) {
      const auto start = static_cast<std::size_t>(rng_() % range);
      for (std::size_t t = 0; t < T_; ++t) {
        inputs[b * T_ + t] = tokens_[start + t];
        targets[b * T_ + t] = tokens_[start + t + 1];
      }
    }
  }

  std::size_t position() const noexcept { return position_; }
  void set_position(std::size_t p) noexcept { position_ = p; }

  // The generator's state as the standard's text form (operator<<), and back.
  std::string rng_state() const {
    std::ostringstream out;
    out << rng_;
    return out.str();
  }
  bool set_rng_state(const std::string& text) {
    std::istringstream in(text);
    std::mt19937_64 rng;
    in >> rng;
    if (!in) return false;
    rng_ = rng;
    return true;
  }

 private:
  std::span<const std::int32_t> tokens_;
  std::size_t B_, T_;
  batch_order order_;
  std::mt19937_64 rng_;
  std::size_t position_ = 0;
};

}  // namespace forma::train
