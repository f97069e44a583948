// forma/train/data.hpp (forma-train's batches) and continuing a LlamaTrainer from saved state
// (parameters, AdamW moments, step count), as forma-train's --resume does: in memory, and through
// forma/train/checkpoint.hpp's save_checkpoint / load_checkpoint files.
#include <doctest/doctest.h>

#include <cstdint>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <vector>

#include <filesystem>
#include <fstream>
#include <string>

#include <forma/train/checkpoint.hpp>
#include <forma/train/data.hpp>
#include <forma/train/llama_trainer.hpp>

#include "test_support.hpp"

using forma::train::batch_order;
using forma::train::TokenLoader;

TEST_CASE("TokenLoader sequential: llm.c's positions, targets shifted by one, wrap to 0") {
  std::vector<std::int32_t> tokens(23);
  std::iota(tokens.begin(), tokens.end(), 100);
  TokenLoader loader(tokens, 2, 4, batch_order::sequential, 0);  // B·T = 8: batches at 0, 8, then 0
  std::vector<std::int32_t> x(8), y(8);
  const std::size_t expected_start[] = {0, 8, 0, 8};
  for (const std::size_t start : expected_start) {
    CHECK(loader.position() == start);
    loader.next(x, y);
    for (std::size_t i = 0; i < 8; ++i) {
      CHECK(x[i] == static_cast<std::int32_t>(100 + start + i));
      CHECK(y[i] == static_cast<std::int32_t>(101 + start + i));
    }
  }
  // 16 + 8 + 1 = 25 > 23: after the batch at 8 the next is at 0. With 25 tokens it would be 16.
  std::vector<std::int32_t> longer(25);
  TokenLoader loader25(longer, 2, 4, batch_order::sequential, 0);
  loader25.next(x, y);
  loader25.next(x, y);
  CHECK(loader25.position() == 16);
  CHECK(TokenLoader::needed(2, 4) == 9);
}

TEST_CASE("TokenLoader random: seeded windows of T+1 tokens, reproducible from the saved RNG state") {
  std::vector<std::int32_t> tokens(50);
  std::iota(tokens.begin(), tokens.end(), 0);
  TokenLoader a(tokens, 3, 5, batch_order::random, 42);
  std::vector<std::int32_t> x(15), y(15);
  a.next(x, y);
  for (std::size_t b = 0; b < 3; ++b) {
    const std::int32_t start = x[b * 5];
    CHECK(start >= 0);
    CHECK(start <= 44);  // the window start + T stays inside: at most n - T - 1 = 44
    for (std::size_t t = 0; t < 5; ++t) {
      CHECK(x[b * 5 + t] == start + static_cast<std::int32_t>(t));
      CHECK(y[b * 5 + t] == start + static_cast<std::int32_t>(t) + 1);
    }
  }
  const std::string state = a.rng_state();
  std::vector<std::int32_t> x1(15), y1(15), x2(15), y2(15);
  a.next(x1, y1);
  TokenLoader b(tokens, 3, 5, batch_order::random, 7);
  REQUIRE(b.set_rng_state(state));
  b.next(x2, y2);
  CHECK(x1 == x2);
  CHECK(y1 == y2);
  CHECK_FALSE(b.set_rng_state("not a state"));
}

namespace {
constexpr forma::LlamaConfig Small{.dim = 16, .hidden = 32, .layers = 1, .heads = 2, .kv_heads = 1,
                                   .vocab = 32, .max_seq = 8, .classifier = forma::classifier_kind::shared};
}

TEST_CASE("LlamaTrainer continued from saved parameters, moments and step equals the uninterrupted run") {
  using Trainer = forma::train::LlamaTrainer<Small, 1, 8>;
  auto whole = std::make_unique<Trainer>();
  auto first = std::make_unique<Trainer>();
  whole->init(5);
  first->init(5);
  std::vector<std::int32_t> tokens(9);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<std::int32_t>((i * 7 + 3) % 32);
  const Trainer::tokens_view x(tokens.data()), y(tokens.data() + 1);
  auto step = [&](Trainer& t) {
    REQUIRE(t.forward_backward(x, y));
    t.clip_grad_norm(1.0f);
    t.adamw_step(1e-2);
  };
  for (int s = 0; s < 4; ++s) step(*whole);
  for (int s = 0; s < 2; ++s) step(*first);
  auto second = std::make_unique<Trainer>();
  const auto copy = [](std::span<float> to, std::span<const float> from) {
    std::memcpy(to.data(), from.data(), from.size() * sizeof(float));
  };
  copy(second->parameters(), first->parameters());
  copy(second->first_moments(), first->first_moments());
  copy(second->second_moments(), first->second_moments());
  second->set_steps_taken(first->steps_taken());
  for (int s = 0; s < 2; ++s) step(*second);
  CHECK(second->steps_taken() == 4);
  CHECK(std::memcmp(second->parameters().data(), whole->parameters().data(),
                    whole->parameter_count() * sizeof(float)) == 0);
}

TEST_CASE("A row padded at its end (input 0, target ignored) gives the unpadded row's loss and gradients") {
  // Rows of different lengths can share a trainer this way: causal attention keeps the padding
  // out of the first positions, and ignored targets add no loss or gradient.
  auto exact = std::make_unique<forma::train::LlamaTrainer<Small, 1, 6>>();
  auto padded = std::make_unique<forma::train::LlamaTrainer<Small, 1, 8>>();
  exact->init(9);
  padded->init(9);
  REQUIRE(std::memcmp(exact->parameters().data(), padded->parameters().data(),
                      exact->parameters().size() * sizeof(float)) == 0);
  const std::int32_t x6[6] = {1, 5, 9, 30, 2, 17}, y6[6] = {5, 9, 30, 2, 17, 4};
  const std::int32_t x8[8] = {1, 5, 9, 30, 2, 17, 0, 0}, y8[8] = {5, 9, 30, 2, 17, 4, -100, -100};
  auto l6 = exact->forward_backward(decltype(exact)::element_type::tokens_view(x6),
                                    decltype(exact)::element_type::tokens_view(y6));
  auto l8 = padded->forward_backward(decltype(padded)::element_type::tokens_view(x8),
                                     decltype(padded)::element_type::tokens_view(y8));
  REQUIRE(l6);
  REQUIRE(l8);
  CHECK(*l8 == doctest::Approx(*l6).epsilon(1e-6));
  const auto g6 = exact->gradients(), g8 = padded->gradients();
  float largest = 0, worst = 0;
  for (std::size_t i = 0; i < g6.size(); ++i) {
    largest = std::max(largest, std::abs(g6[i]));
    worst = std::max(worst, std::abs(g6[i] - g8[i]));
  }
  MESSAGE("padded vs exact: largest gradient ", largest, ", largest difference ", worst);
  CHECK(worst <= 1e-6f * largest);
}

TEST_CASE("save_checkpoint / load_checkpoint: the run continues bit for bit, a damaged or mismatched file is an Error that changes nothing") {
  using Trainer = forma::train::LlamaTrainer<Small, 1, 8>;
  const std::int32_t x[8] = {1, 5, 9, 30, 2, 17, 4, 8}, y[8] = {5, 9, 30, 2, 17, 4, 8, 3};
  const auto step = [&](Trainer& t) {
    REQUIRE(t.forward_backward(Trainer::tokens_view(x), Trainer::tokens_view(y)));
    t.clip_grad_norm(1.0f);
    t.adamw_step(1e-2);
  };
  const std::string dir = (std::filesystem::temp_directory_path() / "forma_unit_train_checkpoint").string();
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/state.safetensors";
  auto whole = std::make_unique<Trainer>();
  whole->init(5);
  for (int s = 0; s < 2; ++s) step(*whole);
  REQUIRE(forma::train::save_checkpoint(*whole, path, {{"note", "two steps"}}));
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  for (int s = 0; s < 3; ++s) step(*whole);

  auto resumed = std::make_unique<Trainer>();
  resumed->init(99);  // other parameters: the load must replace all of them
  auto metadata = forma::train::load_checkpoint(*resumed, path);
  REQUIRE_MESSAGE(metadata, forma::testing::error_text(metadata));
  CHECK(resumed->steps_taken() == 2);
  bool noted = false;
  for (const auto& [k, v] : *metadata) noted = noted || (k == "note" && v == "two steps");
  CHECK(noted);
  for (int s = 0; s < 3; ++s) step(*resumed);
  CHECK(std::memcmp(resumed->parameters().data(), whole->parameters().data(),
                    whole->parameter_count() * sizeof(float)) == 0);

  // Reserved keys.
  CHECK_FALSE(forma::train::save_checkpoint(*whole, dir + "/x.safetensors", {{"step", "1"}}));

  // One flipped byte in the data: checksum mismatch; the trainer keeps its state.
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::vector<float> before(resumed->parameters().begin(), resumed->parameters().end());
  const auto rewrite = [&](const std::string& b) {
    std::ofstream out(dir + "/bad.safetensors", std::ios::binary | std::ios::trunc);
    out.write(b.data(), static_cast<std::streamsize>(b.size()));
  };
  std::string flipped = bytes;
  flipped[flipped.size() - 5] = static_cast<char>(flipped[flipped.size() - 5] ^ 0x10);
  rewrite(flipped);
  auto damaged = forma::train::load_checkpoint(*resumed, dir + "/bad.safetensors");
  REQUIRE_FALSE(damaged);
  CHECK(damaged.error().to_string().find("checksum mismatch") != std::string::npos);
  CHECK(damaged.error().to_string().find("bad.safetensors") != std::string::npos);
  // Truncated.
  rewrite(bytes.substr(0, bytes.size() / 2));
  CHECK_FALSE(forma::train::load_checkpoint(*resumed, dir + "/bad.safetensors"));
  // Another shape: a trainer of 2 layers reads the 1-layer file.
  constexpr forma::LlamaConfig Deeper = [] {
    forma::LlamaConfig c = Small;
    c.layers = 2;
    return c;
  }();
  auto deeper = std::make_unique<forma::train::LlamaTrainer<Deeper, 1, 8>>();
  auto other = forma::train::load_checkpoint(*deeper, path);
  REQUIRE_FALSE(other);
  CHECK(other.error().to_string().find("another model shape") != std::string::npos);
  CHECK(resumed->steps_taken() == 5);
  CHECK(std::memcmp(resumed->parameters().data(), before.data(), before.size() * sizeof(float)) == 0);
  std::filesystem::remove_all(dir);
}
