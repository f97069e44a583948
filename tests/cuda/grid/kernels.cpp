// Every hand-written CUDA kernel body, run over its whole grid on the CPU (grid.hpp's runner),
// against its CPU twin in kernels/cpu over several shapes, edges included. f32 results agree to
// 1e-5 relative; where the bits are identical the test says so and checks it.
#include <cstdint>
#include <numeric>
#include <vector>

#include <doctest/doctest.h>

#include <forma/kernels/cpu/activation.hpp>
#include <forma/kernels/cpu/attention.hpp>
#include <forma/kernels/cpu/elementwise.hpp>
#include <forma/kernels/cpu/flash_attention.hpp>
#include <forma/kernels/cpu/gemm.hpp>
#include <forma/kernels/cpu/norm.hpp>
#include <forma/kernels/cpu/reduce.hpp>
#include <forma/kernels/cpu/rope.hpp>
#include <forma/kernels/cpu/softmax.hpp>
#include <forma/kernels/cuda/activation.hpp>
#include <forma/kernels/cuda/attention.hpp>
#include <forma/kernels/cuda/elementwise.hpp>
#include <forma/kernels/cuda/flash_attention.hpp>
#include <forma/kernels/cuda/gemm.hpp>
#include <forma/kernels/cuda/norm.hpp>
#include <forma/kernels/cuda/reduce.hpp>
#include <forma/kernels/cuda/rope.hpp>
#include <forma/kernels/cuda/sampling.hpp>
#include <forma/kernels/cuda/softmax.hpp>
#include <forma/io/gguf.hpp>
#include <forma/ops/embedding.hpp>
#include <forma/text/sampler.hpp>

#include "grid_test.hpp"

namespace kc = forma::kernels::cuda;
namespace cpu = forma::kernels::cpu;
using forma::testing::max_relative_error;
using forma::testing::run_grid_both_orders;
using forma::testing::same_bits;
using forma::testing::uniform_values;

namespace {
constexpr double f32_tolerance = 1e-5;
// Row widths around the block sizes (32 ... 256) and the strided loops' edges.
constexpr unsigned widths[] = {1, 2, 7, 31, 32, 33, 64, 100, 255, 256, 257, 1000, 4096};
}  // namespace

TEST_CASE("rmsnorm_body equals kernels::cpu::rmsnorm_rows to 1e-5") {
  for (unsigned n : widths) {
    for (unsigned rows : {1u, 3u}) {
      CAPTURE(n);
      CAPTURE(rows);
      const auto x = uniform_values(rows * n, n + rows, -3.0f, 3.0f);
      const auto weight = uniform_values(n, n * 7 + 1, 0.5f, 1.5f);
      std::vector<float> want(rows * n), out(rows * n);
      cpu::rmsnorm_rows(x.data(), weight.data(), want.data(), rows, n, 1e-5f);
      const kc::rmsnorm_body body{x.data(), weight.data(), out.data(), n, 1e-5f};
      const auto got = run_grid_both_orders(body, kc::rows_launch(rows, n), out.data(), out.size(),
                                            [&] { std::fill(out.begin(), out.end(), -7.0f); });
      CHECK(max_relative_error(got.data(), want.data(), got.size(), 1e-6) <= f32_tolerance);
    }
  }
}

TEST_CASE("rmsnorm_body in place (out aliases x)") {
  const unsigned rows = 2, n = 300;
  const auto x0 = uniform_values(rows * n, 11);
  const auto weight = uniform_values(n, 12);
  std::vector<float> want(rows * n), x(x0);
  cpu::rmsnorm_rows(x0.data(), weight.data(), want.data(), rows, n, 1e-5f);
  const kc::rmsnorm_body body{x.data(), weight.data(), x.data(), n, 1e-5f};
  const auto got = run_grid_both_orders(body, kc::rows_launch(rows, n), x.data(), x.size(),
                                        [&] { x = x0; });
  CHECK(max_relative_error(got.data(), want.data(), got.size(), 1e-6) <= f32_tolerance);
}

TEST_CASE("layernorm_body equals kernels::cpu::layernorm_rows to 1e-5") {
  for (unsigned n : widths) {
    for (unsigned rows : {1u, 4u}) {
      CAPTURE(n);
      CAPTURE(rows);
      // An offset mean, so the two-pass variance matters.
      const auto x = uniform_values(rows * n, n + 5 * rows, 9.0f, 11.0f);
      const auto weight = uniform_values(n, n + 2, 0.5f, 1.5f);
      const auto bias = uniform_values(n, n + 3);
      std::vector<float> want(rows * n), out(rows * n);
      cpu::layernorm_rows(x.data(), weight.data(), bias.data(), want.data(), rows, n, 1e-5f);
      const kc::layernorm_body body{x.data(), weight.data(), bias.data(), out.data(), n, 1e-5f};
      const auto got = run_grid_both_orders(body, kc::rows_launch(rows, n), out.data(), out.size(),
                                            [&] { std::fill(out.begin(), out.end(), -7.0f); });
      // Scale: a row's outputs are O(1); a bias near 0 makes a single output small.
      CHECK(max_relative_error(got.data(), want.data(), got.size(), 1e-3) <= f32_tolerance);
    }
  }
}

TEST_CASE("softmax_body equals kernels::cpu::softmax (all, valid, causal) to 1e-5") {
  for (unsigned n : widths) {
    CAPTURE(n);
    const unsigned rows = 5;
    const auto x = uniform_values(rows * n, n, -20.0f, 20.0f);
    std::vector<float> out(rows * n);
    auto reset = [&] { std::fill(out.begin(), out.end(), -7.0f); };
    {
      std::vector<float> want(x);
      cpu::softmax_rows(want.data(), rows, n);
      const kc::softmax_body body{x.data(), out.data(), n, n, false, 0};
      const auto got = run_grid_both_orders(body, kc::rows_launch(rows, n), out.data(), out.size(), reset);
      CHECK(max_relative_error(got.data(), want.data(), got.size(), 1e-30) <= f32_tolerance);
    }
    for (unsigned offset : {0u, 2u, n}) {
      CAPTURE(offset);
      std::vector<float> want(x);
      cpu::softmax_rows_causal(want.data(), rows, n, offset);
      const kc::softmax_body body{x.data(), out.data(), n, n, true, offset};
      const auto got = run_grid_both_orders(body, kc::rows_launch(rows, n), out.data(), out.size(), reset);
      CHECK(max_relative_error(got.data(), want.data(), got.size(), 1e-30) <= f32_tolerance);
    }
    for (unsigned valid : {0u, 1u, n / 2}) {
      CAPTURE(valid);
      std::vector<float> want(x);
      for (unsigned r = 0; r < rows; ++r) cpu::softmax_row(want.data() + r * n, n, valid);
      const kc::softmax_body body{x.data(), out.data(), n, valid, false, 0};
      const auto got = run_grid_both_orders(body, kc::rows_launch(rows, n), out.data(), out.size(), reset);
      CHECK(max_relative_error(got.data(), want.data(), got.size(), 1e-30) <= f32_tolerance);
    }
  }
}

TEST_CASE("softmax_body keeps large logits finite and masks with exact zeros") {
  const std::vector<float> x = {1e4f, -1e4f, 0.0f, 3.0f};
  std::vector<float> out(4);
  const kc::softmax_body body{x.data(), out.data(), 4, 3, false, 0};
  const auto got = run_grid_both_orders(body, kc::rows_launch(1, 4), out.data(), 4, [] {});
  CHECK(got[0] == 1.0f);
  CHECK(got[1] == 0.0f);
  CHECK(got[2] == 0.0f);
  CHECK(got[3] == 0.0f);
}

TEST_CASE("rope_body equals kernels::cpu::rope_row bit for bit, both layouts") {
  struct shape {
    unsigned rows, heads, head_dim, first_position;
  };
  for (const shape s : {shape{1, 1, 2, 0}, shape{1, 8, 8, 5}, shape{3, 4, 64, 100},
                        shape{7, 2, 128, 4000}, shape{2, 14, 64, 0}}) {
    CAPTURE(s.rows);
    CAPTURE(s.heads);
    CAPTURE(s.head_dim);
    const std::size_t width = std::size_t{s.heads} * s.head_dim, count = s.rows * width;
    const auto x0 = uniform_values(count, s.head_dim + s.rows);
    std::vector<float> x(x0);
    const auto launch = kc::elementwise_launch(std::size_t{s.rows} * s.heads * (s.head_dim / 2));
    auto reset = [&] { x = x0; };
    {
      std::vector<float> want(x0);
      for (unsigned r = 0; r < s.rows; ++r) {
        cpu::rope_row<cpu::rope_layout::interleaved>(want.data() + r * width, s.heads, s.head_dim,
                                                     s.first_position + r, 10000.0f);
      }
      const kc::rope_body<cpu::rope_layout::interleaved> body{x.data(), s.rows, s.heads, s.head_dim,
                                                              s.first_position, 10000.0f};
      const auto got = run_grid_both_orders(body, launch, x.data(), count, reset);
      CHECK(same_bits(got.data(), want.data(), count));
    }
    {
      std::vector<float> want(x0);
      for (unsigned r = 0; r < s.rows; ++r) {
        cpu::rope_row<cpu::rope_layout::half>(want.data() + r * width, s.heads, s.head_dim,
                                              s.first_position + r, 1e6f);
      }
      const kc::rope_body<cpu::rope_layout::half> body{x.data(), s.rows, s.heads, s.head_dim,
                                                       s.first_position, 1e6f};
      const auto got = run_grid_both_orders(body, launch, x.data(), count, reset);
      CHECK(same_bits(got.data(), want.data(), count));
    }
  }
}

TEST_CASE("activation bodies equal the CPU maps bit for bit (silu, gelu, swiglu)") {
  for (std::size_t count : {std::size_t{1}, std::size_t{255}, std::size_t{256}, std::size_t{257},
                            std::size_t{5000}}) {
    CAPTURE(count);
    const auto x = uniform_values(count, static_cast<unsigned>(count), -8.0f, 8.0f);
    const auto up = uniform_values(count, static_cast<unsigned>(count) + 1);
    std::vector<float> out(count), want(count);
    auto reset = [&] { std::fill(out.begin(), out.end(), -7.0f); };
    const auto launch = kc::elementwise_launch(count);
    cpu::map(x.data(), want.data(), count, [](float v) { return forma::math::silu(v); });
    auto got = run_grid_both_orders(kc::activation_body{x.data(), out.data(), count, kc::activation::silu},
                                    launch, out.data(), count, reset);
    CHECK(same_bits(got.data(), want.data(), count));
    cpu::map(x.data(), want.data(), count, [](float v) { return forma::math::gelu_erf(v); });
    got = run_grid_both_orders(kc::activation_body{x.data(), out.data(), count, kc::activation::gelu_erf},
                               launch, out.data(), count, reset);
    CHECK(same_bits(got.data(), want.data(), count));
    cpu::map(x.data(), want.data(), count, [](float v) { return forma::math::gelu_tanh(v); });
    got = run_grid_both_orders(kc::activation_body{x.data(), out.data(), count, kc::activation::gelu_tanh},
                               launch, out.data(), count, reset);
    CHECK(same_bits(got.data(), want.data(), count));
    cpu::swiglu(x.data(), up.data(), want.data(), count);
    got = run_grid_both_orders(kc::swiglu_body{x.data(), up.data(), out.data(), count}, launch,
                               out.data(), count, reset);
    CHECK(same_bits(got.data(), want.data(), count));
  }
}

TEST_CASE("residual add equals kernels::cpu::binary bit for bit") {
  for (std::size_t count : {std::size_t{1}, std::size_t{256}, std::size_t{1000}}) {
    CAPTURE(count);
    const auto a = uniform_values(count, 1), b = uniform_values(count, 2);
    std::vector<float> out(count), want(count);
    cpu::binary(a.data(), b.data(), want.data(), count, forma::math::add{});
    const kc::binary_body<float, forma::math::add> body{a.data(), b.data(), out.data(), count, {}};
    const auto got = run_grid_both_orders(body, kc::elementwise_launch(count), out.data(), count,
                                          [&] { std::fill(out.begin(), out.end(), -7.0f); });
    CHECK(same_bits(got.data(), want.data(), count));
  }
}

TEST_CASE("embedding_body equals forma::embedding bit for bit") {
  const unsigned vocab = 50, width = 24;
  const auto table_values = uniform_values(vocab * width, 3);
  forma::Matrix<float, forma::dyn, forma::dyn> table(vocab, width);
  std::copy(table_values.begin(), table_values.end(), table.data());
  const std::vector<std::int32_t> ids = {0, 49, 7, 7, 13};
  forma::Matrix<float, forma::dyn, forma::dyn> want(ids.size(), width);
  REQUIRE(forma::embedding(table, std::span<const std::int32_t>(ids), want));
  std::vector<float> out(ids.size() * width);
  const kc::embedding_body body{table.data(), ids.data(), out.data(),
                                static_cast<unsigned>(ids.size()), width};
  const auto got = run_grid_both_orders(body, kc::elementwise_launch(body.count()), out.data(),
                                        out.size(), [&] { std::fill(out.begin(), out.end(), -7.0f); });
  CHECK(same_bits(got.data(), want.data(), out.size()));
}

TEST_CASE("gemv_body equals kernels::cpu::gemv to 1e-5 of the products' magnitude") {
  for (unsigned k : widths) {
    for (unsigned m : {1u, 5u, 64u}) {
      CAPTURE(k);
      CAPTURE(m);
      const std::size_t lda = k + 3;  // a leading dimension wider than the row
      const auto a = uniform_values(m * lda, k + m);
      const auto x = uniform_values(k, k);
      std::vector<float> want(m), out(m);
      cpu::gemv(m, k, a.data(), lda, x.data(), want.data());
      const kc::gemv_body body{a.data(), lda, x.data(), out.data(), k};
      const auto got = run_grid_both_orders(body, kc::rows_launch(m, k), out.data(), m,
                                            [&] { std::fill(out.begin(), out.end(), -7.0f); });
      // Relative to Σ|a_j x_j|: a dot product may cancel to near zero.
      for (unsigned i = 0; i < m; ++i) {
        double magnitude = 0;
        for (unsigned j = 0; j < k; ++j) magnitude += std::fabs(double(a[i * lda + j]) * x[j]);
        CHECK(std::fabs(double(got[i]) - want[i]) <= f32_tolerance * magnitude);
      }
    }
  }
}

TEST_CASE("argmax_body equals kernels::cpu::argmax exactly (ties, NaN)") {
  for (unsigned count : {1u, 2u, 31u, 256u, 257u, 32000u}) {
    CAPTURE(count);
    auto x = uniform_values(count, count);
    std::int64_t got = -1;
    auto run = [&] {
      return run_grid_both_orders(kc::argmax_body{x.data(), count, &got}, kc::launch_shape{1, 256},
                                  &got, 1, [&] { got = -1; })[0];
    };
    CHECK(run() == static_cast<std::int64_t>(cpu::argmax(x.data(), count)));
    // Ties: the first index wins.
    std::fill(x.begin(), x.end(), 0.5f);
    CHECK(run() == 0);
    if (count > 3) {
      x[count - 1] = 2.0f;
      x[1] = 2.0f;
      CHECK(run() == 1);
      x[count - 2] = std::nanf("");
      x[2] = std::nanf("");
      CHECK(run() == static_cast<std::int64_t>(cpu::argmax(x.data(), count)));
      CHECK(run() == 2);
    }
  }
}

TEST_CASE("decode_attention_body equals kernels::cpu::attend to 1e-5") {
  struct shape {
    unsigned heads, kv_heads, head_dim, length;
  };
  for (const shape s : {shape{1, 1, 2, 1}, shape{8, 4, 8, 1}, shape{8, 4, 8, 37},
                        shape{6, 2, 64, 300}, shape{4, 4, 128, 256}, shape{14, 2, 64, 513}}) {
    CAPTURE(s.heads);
    CAPTURE(s.kv_heads);
    CAPTURE(s.head_dim);
    CAPTURE(s.length);
    const std::size_t kv_stride = std::size_t{s.kv_heads} * s.head_dim, max_seq = s.length + 5;
    const std::size_t score_stride = max_seq;
    const auto q = uniform_values(std::size_t{s.heads} * s.head_dim, 1, -2.0f, 2.0f);
    const auto keys = uniform_values(max_seq * kv_stride, 2, -2.0f, 2.0f);
    const auto values = uniform_values(max_seq * kv_stride, 3);
    std::vector<float> want(std::size_t{s.heads} * s.head_dim), out(want.size());
    std::vector<float> cpu_scores(s.heads * score_stride), scores(s.heads * score_stride);
    const cpu::attention_shape cpu_shape{s.heads, s.kv_heads, s.head_dim, kv_stride, score_stride};
    cpu::attend(q.data(), keys.data(), values.data(), s.length, cpu_shape, cpu_scores.data(), want.data());
    const kc::decode_attention_body body{q.data(), keys.data(), values.data(), scores.data(),
                                         out.data(), s.length, s.heads, s.kv_heads, s.head_dim,
                                         kv_stride, score_stride};
    const auto got = run_grid_both_orders(body, kc::rows_launch(s.heads, s.length), out.data(),
                                          out.size(), [&] {
                                            std::fill(out.begin(), out.end(), -7.0f);
                                            std::fill(scores.begin(), scores.end(), -7.0f);
                                          });
    // Outputs are weighted means of values in [-1, 1): measured against 1.
    CHECK(max_relative_error(got.data(), want.data(), got.size(), 1.0) <= f32_tolerance);
  }
}

TEST_CASE("flash_attention_body equals kernels::cpu::flash_attention<32> bit for bit") {
  struct shape {
    unsigned heads, kv_heads, head_dim, queries, length;
  };
  for (const shape s : {shape{1, 1, 2, 1, 1}, shape{2, 1, 8, 5, 5}, shape{8, 4, 8, 37, 37},
                        shape{4, 2, 64, 33, 100}, shape{6, 2, 128, 64, 64}, shape{3, 3, 16, 1, 70},
                        shape{14, 2, 64, 70, 70}}) {
    CAPTURE(s.heads);
    CAPTURE(s.kv_heads);
    CAPTURE(s.head_dim);
    CAPTURE(s.queries);
    CAPTURE(s.length);
    const std::size_t kv_stride = std::size_t{s.kv_heads} * s.head_dim;
    const std::size_t row = std::size_t{s.heads} * s.head_dim;
    const auto q = uniform_values(s.queries * row, 1, -2.0f, 2.0f);
    const auto keys = uniform_values(s.length * kv_stride, 2, -2.0f, 2.0f);
    const auto values = uniform_values(s.length * kv_stride, 3);
    std::vector<float> want(s.queries * row), out(want.size());
    std::vector<float> scratch(cpu::flash_scratch_floats(32, s.head_dim));
    const cpu::attention_shape cpu_shape{s.heads, s.kv_heads, s.head_dim, kv_stride, 0};
    cpu::flash_attention<32>(q.data(), keys.data(), values.data(), s.queries, s.length, cpu_shape,
                             scratch.data(), 1, want.data());
    const kc::flash_attention_body body{q.data(), keys.data(), values.data(), out.data(), s.queries,
                                        s.length, s.heads, s.kv_heads, s.head_dim, kv_stride};
    const kc::launch_shape launch{s.heads * ((s.queries + 31) / 32), kc::flash_tile};
    const auto got = run_grid_both_orders(body, launch, out.data(), out.size(),
                                          [&] { std::fill(out.begin(), out.end(), -7.0f); });
    CHECK(same_bits(got.data(), want.data(), got.size()));
    // And the decode kernel's answer for the last query, to rounding.
    std::vector<float> decode(row), scores(s.heads * s.length);
    const cpu::attention_shape decode_shape{s.heads, s.kv_heads, s.head_dim, kv_stride, s.length};
    cpu::attend(q.data() + (s.queries - 1) * row, keys.data(), values.data(), s.length, decode_shape,
                scores.data(), decode.data());
    CHECK(max_relative_error(got.data() + (s.queries - 1) * row, decode.data(), row, 1.0) <= f32_tolerance);
  }
}

namespace {
// M rows of K / 32 Q8_0 blocks (ggml's layout: f16 scale, little-endian, then 32 int8).
std::vector<std::uint8_t> random_q8_0(unsigned m, unsigned k, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> q(-128, 127);
  std::uniform_real_distribution<float> scale(0.001f, 0.02f);
  std::vector<std::uint8_t> bytes(std::size_t{m} * (k / 32) * 34);
  for (std::size_t b = 0; b < bytes.size() / 34; ++b) {
    const std::uint16_t bits = forma::f16(scale(rng)).bits();
    bytes[b * 34] = static_cast<std::uint8_t>(bits & 0xFF);
    bytes[b * 34 + 1] = static_cast<std::uint8_t>(bits >> 8);
    for (int i = 0; i < 32; ++i) bytes[b * 34 + 2 + i] = static_cast<std::uint8_t>(static_cast<std::int8_t>(q(rng)));
  }
  return bytes;
}
}  // namespace

TEST_CASE("gemv_bf16_body and gemv_q8_0_body equal cpu::gemv of the dequantized rows to 1e-5") {
  for (unsigned k : {32u, 64u, 288u, 768u, 2048u}) {
    for (unsigned m : {1u, 5u, 64u}) {
      CAPTURE(k);
      CAPTURE(m);
      const auto x = uniform_values(k, k);
      std::vector<float> want(m), out(m), dequantized(std::size_t{m} * k);
      auto magnitude_check = [&](const std::vector<float>& got) {
        for (unsigned i = 0; i < m; ++i) {
          double magnitude = 0;
          for (unsigned j = 0; j < k; ++j) magnitude += std::fabs(double(dequantized[i * k + j]) * x[j]);
          CHECK(std::fabs(double(got[i]) - want[i]) <= f32_tolerance * magnitude);
        }
      };
      // bf16
      const auto values = uniform_values(std::size_t{m} * k, k + m);
      std::vector<forma::bf16> a16(values.size());
      for (std::size_t i = 0; i < values.size(); ++i) {
        a16[i] = forma::bf16(values[i]);
        dequantized[i] = static_cast<float>(a16[i]);
      }
      cpu::gemv(m, k, dequantized.data(), k, x.data(), want.data());
      auto got = run_grid_both_orders(kc::gemv_bf16_body{a16.data(), k, x.data(), out.data(), k},
                                      kc::rows_launch(m, k), out.data(), m,
                                      [&] { std::fill(out.begin(), out.end(), -7.0f); });
      magnitude_check(got);
      // Q8_0, dequantized by io/gguf.hpp's reference kernel (ggml's arithmetic).
      const auto q8 = random_q8_0(m, k, k * 3 + m);
      for (std::size_t b = 0; b < q8.size() / 34; ++b) {
        forma::io::gguf::kernels::q8_0(reinterpret_cast<const std::byte*>(q8.data() + b * 34),
                                      dequantized.data() + b * 32);
      }
      cpu::gemv(m, k, dequantized.data(), k, x.data(), want.data());
      got = run_grid_both_orders(kc::gemv_q8_0_body{q8.data(), x.data(), out.data(), k},
                                 kc::rows_launch(m, k / 32), out.data(), m,
                                 [&] { std::fill(out.begin(), out.end(), -7.0f); });
      magnitude_check(got);
    }
  }
}

TEST_CASE("top_p_body draws text::Sampler's token exactly (top-p, ties, one token)") {
  for (unsigned n : {1u, 2u, 7u, 512u, 4096u}) {
    for (float top_p : {0.5f, 0.9f, 0.99f}) {
      for (float spread : {0.0f, 1.0f, 6.0f}) {  // 0: every probability equal (ties)
        CAPTURE(n);
        CAPTURE(top_p);
        CAPTURE(spread);
        auto logits = uniform_values(n, n + static_cast<unsigned>(spread), -spread, spread);
        std::vector<float> probabilities(logits);
        cpu::softmax_row(probabilities.data(), n, n);
        std::vector<kc::top_p_candidate> scratch(2 * n);
        std::int32_t token = -1;
        for (float coin : {0.0f, 0.3f, 0.77f, 0.999f}) {
          CAPTURE(coin);
          forma::text::Sampler sampler(n, {.temperature = 1.0f, .top_p = top_p, .top_k = 0, .seed = 1});
          std::vector<float> sampler_logits(logits);
          const std::int32_t want = sampler.sample(sampler_logits, [coin] { return coin; });
          const kc::top_p_body body{probabilities.data(), n, top_p, coin, scratch.data(),
                                    scratch.data() + n, &token};
          const auto got = run_grid_both_orders(body, kc::launch_shape{1, 256}, &token, 1,
                                                [&] { token = -1; });
          CHECK(got[0] == want);
        }
      }
    }
  }
}
