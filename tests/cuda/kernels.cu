// The hand-written CUDA kernels on a GPU against their CPU twins (kernels/cpu), over the shapes of
// the CPU grid-runner tests (tests/cuda/grid). f32: 1e-5 relative. On the GPU even the
// element-wise kernels are compared with a tolerance: nvcc contracts a·b + c into FMAs and the
// device's expf/erff/tanhf/sinf/cosf/powf are not glibc's (a few ulps, CUDA Programming Guide,
// "Mathematical Functions").
#include <cstdint>
#include <vector>

#include <forma/kernels/cpu/activation.hpp>
#include <forma/kernels/cpu/attention.hpp>
#include <forma/kernels/cpu/elementwise.hpp>
#include <forma/kernels/cpu/flash_attention.hpp>
#include <forma/kernels/cpu/gemm.hpp>
#include <forma/kernels/cpu/norm.hpp>
#include <forma/kernels/cpu/reduce.hpp>
#include <forma/kernels/cpu/rope.hpp>
#include <forma/kernels/cpu/softmax.hpp>
#include <forma/kernels/cuda/activation.cuh>
#include <forma/kernels/cuda/attention.cuh>
#include <forma/kernels/cuda/elementwise.cuh>
#include <forma/kernels/cuda/flash_attention.cuh>
#include <forma/kernels/cuda/gemm.cuh>
#include <forma/kernels/cuda/norm.cuh>
#include <forma/kernels/cuda/reduce.cuh>
#include <forma/kernels/cuda/rope.cuh>
#include <forma/kernels/cuda/sampling.cuh>
#include <forma/kernels/cuda/softmax.cuh>

#include "cuda_test.hpp"

namespace kc = forma::kernels::cuda;
namespace cpu = forma::kernels::cpu;
using forma_cuda_test::download;
using forma_cuda_test::uniform_values;
using forma_cuda_test::upload;

namespace {
constexpr double f32_tolerance = 1e-5;
// Per-element device math (exp, erf, tanh, sin, cos, pow) against glibc's: a few ulps.
constexpr double math_tolerance = 1e-5;
constexpr unsigned widths[] = {1, 2, 7, 31, 32, 33, 64, 100, 255, 256, 257, 1000, 4096};
}  // namespace

FORMA_CUDA_TEST(rmsnorm_rows) {
  for (unsigned n : widths) {
    for (unsigned rows : {1u, 3u}) {
      const auto x = uniform_values(rows * n, n + rows, -3.0f, 3.0f);
      const auto weight = uniform_values(n, n * 7 + 1, 0.5f, 1.5f);
      std::vector<float> want(rows * n);
      cpu::rmsnorm_rows(x.data(), weight.data(), want.data(), rows, n, 1e-5f);
      auto dx = upload(x), dw = upload(weight), dout = upload(std::vector<float>(rows * n));
      kc::rmsnorm_rows(dx.data(), dw.data(), dout.data(), rows, n, 1e-5f);
      const auto got = download(dout);
      FORMA_EXPECT_ALL_CLOSE(got, want, want.size(), f32_tolerance, 1e-6);
    }
  }
}

FORMA_CUDA_TEST(layernorm_rows) {
  for (unsigned n : widths) {
    for (unsigned rows : {1u, 4u}) {
      const auto x = uniform_values(rows * n, n + 5 * rows, 9.0f, 11.0f);
      const auto weight = uniform_values(n, n + 2, 0.5f, 1.5f);
      const auto bias = uniform_values(n, n + 3);
      std::vector<float> want(rows * n);
      cpu::layernorm_rows(x.data(), weight.data(), bias.data(), want.data(), rows, n, 1e-5f);
      auto dx = upload(x), dw = upload(weight), db = upload(bias);
      kc::layernorm_rows(dx.data(), dw.data(), db.data(), dx.data(), rows, n, 1e-5f);  // in place
      const auto got = download(dx);
      FORMA_EXPECT_ALL_CLOSE(got, want, want.size(), f32_tolerance, 1e-3);
    }
  }
}

FORMA_CUDA_TEST(softmax_rows) {
  for (unsigned n : widths) {
    const unsigned rows = 5;
    const auto x = uniform_values(rows * n, n, -20.0f, 20.0f);
    std::vector<float> want(x);
    cpu::softmax_rows(want.data(), rows, n);
    auto dx = upload(x);
    kc::softmax_rows(dx.data(), rows, n);
    auto got = download(dx);
    FORMA_EXPECT_ALL_CLOSE(got, want, want.size(), math_tolerance, 1e-30);
    for (unsigned offset : {0u, 2u}) {
      want = x;
      cpu::softmax_rows_causal(want.data(), rows, n, offset);
      dx = upload(x);
      kc::softmax_rows_causal(dx.data(), rows, n, offset);
      got = download(dx);
      FORMA_EXPECT_ALL_CLOSE(got, want, want.size(), math_tolerance, 1e-30);
    }
    want = x;
    for (unsigned r = 0; r < rows; ++r) cpu::softmax_row(want.data() + r * n, n, n / 2);
    dx = upload(x);
    kc::softmax_rows_valid(dx.data(), rows, n, n / 2);
    got = download(dx);
    FORMA_EXPECT_ALL_CLOSE(got, want, want.size(), math_tolerance, 1e-30);
  }
}

FORMA_CUDA_TEST(rope_rows) {
  struct shape {
    unsigned rows, heads, head_dim, first_position;
  };
  for (const shape s : {shape{1, 1, 2, 0}, shape{1, 8, 8, 5}, shape{3, 4, 64, 100},
                        shape{7, 2, 128, 4000}}) {
    const std::size_t width = std::size_t{s.heads} * s.head_dim, count = s.rows * width;
    const auto x = uniform_values(count, s.head_dim + s.rows);
    std::vector<float> want(x);
    for (unsigned r = 0; r < s.rows; ++r) {
      cpu::rope_row<cpu::rope_layout::interleaved>(want.data() + r * width, s.heads, s.head_dim,
                                                   s.first_position + r, 10000.0f);
    }
    auto dx = upload(x);
    kc::rope_rows<kc::rope_layout::interleaved>(dx.data(), s.rows, s.heads, s.head_dim,
                                                s.first_position, 10000.0f);
    auto got = download(dx);
    // The rotated values are O(1); a large angle's sin/cos carry the device's few-ulp error.
    FORMA_EXPECT_ALL_CLOSE(got, want, count, math_tolerance, 1.0);
    want = x;
    for (unsigned r = 0; r < s.rows; ++r) {
      cpu::rope_row<cpu::rope_layout::half>(want.data() + r * width, s.heads, s.head_dim,
                                            s.first_position + r, 1e6f);
    }
    dx = upload(x);
    kc::rope_rows<kc::rope_layout::half>(dx.data(), s.rows, s.heads, s.head_dim, s.first_position, 1e6f);
    got = download(dx);
    FORMA_EXPECT_ALL_CLOSE(got, want, count, math_tolerance, 1.0);
  }
}

FORMA_CUDA_TEST(activations_and_residual_add) {
  for (std::size_t count : {std::size_t{1}, std::size_t{257}, std::size_t{5000}}) {
    const auto x = uniform_values(count, static_cast<unsigned>(count), -8.0f, 8.0f);
    const auto up = uniform_values(count, static_cast<unsigned>(count) + 1);
    auto dx = upload(x), dup = upload(up), dout = upload(std::vector<float>(count));
    std::vector<float> want(count);
    cpu::map(x.data(), want.data(), count, [](float v) { return forma::math::silu(v); });
    kc::silu(dx.data(), dout.data(), count);
    auto got = download(dout);
    FORMA_EXPECT_ALL_CLOSE(got, want, count, math_tolerance, 1e-6);
    cpu::map(x.data(), want.data(), count, [](float v) { return forma::math::gelu_erf(v); });
    kc::gelu_erf(dx.data(), dout.data(), count);
    got = download(dout);
    FORMA_EXPECT_ALL_CLOSE(got, want, count, math_tolerance, 1e-6);
    cpu::map(x.data(), want.data(), count, [](float v) { return forma::math::gelu_tanh(v); });
    kc::gelu_tanh(dx.data(), dout.data(), count);
    got = download(dout);
    FORMA_EXPECT_ALL_CLOSE(got, want, count, math_tolerance, 1e-6);
    cpu::swiglu(x.data(), up.data(), want.data(), count);
    kc::swiglu(dx.data(), dup.data(), dout.data(), count);
    got = download(dout);
    FORMA_EXPECT_ALL_CLOSE(got, want, count, math_tolerance, 1e-6);
    // The residual add is one IEEE addition: the same bits.
    cpu::binary(x.data(), up.data(), want.data(), count, forma::math::add{});
    kc::binary(dx.data(), dup.data(), dout.data(), count, forma::math::add{});
    got = download(dout);
    FORMA_EXPECT_ALL_CLOSE(got, want, count, 0.0, 1e-30);
  }
}

FORMA_CUDA_TEST(embedding) {
  const std::size_t vocab = 50, width = 24;
  const auto table = uniform_values(vocab * width, 3);
  const std::vector<std::int32_t> ids = {0, 49, 7, 7, 13};
  auto dtable = upload(table);
  auto dids = upload(std::vector<std::int32_t>(ids.size()));
  auto dout = upload(std::vector<float>(ids.size() * width));
  FORMA_EXPECT(kc::embedding(dtable.data(), vocab, width, ids, dids.data(), dout.data()).has_value());
  const auto got = download(dout);
  for (std::size_t r = 0; r < ids.size(); ++r) {
    for (std::size_t j = 0; j < width; ++j) FORMA_EXPECT(got[r * width + j] == table[ids[r] * width + j]);
  }
  const std::vector<std::int32_t> bad = {3, 50};
  const auto refused = kc::embedding(dtable.data(), vocab, width, bad, dids.data(), dout.data());
  FORMA_EXPECT(!refused.has_value());
}

FORMA_CUDA_TEST(gemv) {
  for (unsigned k : widths) {
    for (unsigned m : {1u, 5u, 64u}) {
      const std::size_t lda = k + 3;
      const auto a = uniform_values(m * lda, k + m);
      const auto x = uniform_values(k, k);
      std::vector<float> want(m);
      cpu::gemv(m, k, a.data(), lda, x.data(), want.data());
      auto da = upload(a), dx = upload(x), dy = upload(std::vector<float>(m));
      kc::gemv(m, k, da.data(), lda, dx.data(), dy.data());
      const auto got = download(dy);
      for (unsigned i = 0; i < m; ++i) {
        double magnitude = 0;
        for (unsigned j = 0; j < k; ++j) magnitude += std::fabs(double(a[i * lda + j]) * x[j]);
        FORMA_EXPECT(std::fabs(double(got[i]) - want[i]) <= f32_tolerance * magnitude);
      }
    }
  }
}

FORMA_CUDA_TEST(gemv_bf16_and_q8_0) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> q(-128, 127);
  for (unsigned k : {32u, 288u, 2048u}) {
    for (unsigned m : {1u, 64u, 1000u}) {
      const auto x = uniform_values(k, k);
      std::vector<float> want(m), dequantized(std::size_t{m} * k);
      const auto values = uniform_values(std::size_t{m} * k, k + m);
      std::vector<forma::bf16> a16(values.size());
      for (std::size_t i = 0; i < values.size(); ++i) {
        a16[i] = forma::bf16(values[i]);
        dequantized[i] = static_cast<float>(a16[i]);
      }
      auto check = [&](const std::vector<float>& got) {
        for (unsigned i = 0; i < m; ++i) {
          double magnitude = 0;
          for (unsigned j = 0; j < k; ++j) magnitude += std::fabs(double(dequantized[i * k + j]) * x[j]);
          FORMA_EXPECT(std::fabs(double(got[i]) - want[i]) <= f32_tolerance * magnitude);
        }
      };
      cpu::gemv(m, k, dequantized.data(), k, x.data(), want.data());
      auto da16 = upload(a16);
      auto dx = upload(x), dy = upload(std::vector<float>(m));
      kc::gemv(m, k, da16.data(), k, dx.data(), dy.data());
      check(download(dy));
      // Q8_0 blocks: f16 scale, 32 int8; weight = float(q) · scale.
      std::vector<std::uint8_t> q8(std::size_t{m} * (k / 32) * 34);
      for (std::size_t b = 0; b < q8.size() / 34; ++b) {
        const forma::f16 scale(0.001f + 0.0001f * static_cast<float>(b % 97));
        q8[b * 34] = static_cast<std::uint8_t>(scale.bits() & 0xFF);
        q8[b * 34 + 1] = static_cast<std::uint8_t>(scale.bits() >> 8);
        for (int i = 0; i < 32; ++i) {
          const auto value = static_cast<std::int8_t>(q(rng));
          q8[b * 34 + 2 + i] = static_cast<std::uint8_t>(value);
          dequantized[b * 32 + i] = static_cast<float>(value) * static_cast<float>(scale);
        }
      }
      cpu::gemv(m, k, dequantized.data(), k, x.data(), want.data());
      auto dq8 = upload(q8);
      kc::gemv_q8_0(m, k, dq8.data(), dx.data(), dy.data());
      check(download(dy));
    }
  }
}

FORMA_CUDA_TEST(argmax) {
  auto scratch = upload(std::vector<std::int64_t>(1));
  for (unsigned count : {1u, 31u, 257u, 32000u, 151936u}) {
    auto x = uniform_values(count, count);
    auto dx = upload(x);
    FORMA_EXPECT(kc::argmax(dx.data(), count, scratch.data()) == cpu::argmax(x.data(), count));
    if (count > 3) {
      std::fill(x.begin(), x.end(), 0.5f);
      x[count - 1] = 2.0f;
      x[1] = 2.0f;
      dx = upload(x);
      FORMA_EXPECT(kc::argmax(dx.data(), count, scratch.data()) == 1);
    }
  }
}

// The device's top-p draw against the same walk on the host (text::Sampler's, written out in
// kernels/cuda/sampling.hpp and checked against text::Sampler on the CPU grid runner): the same
// token for the same probabilities (softmax computed on the host, so the inputs are identical).
FORMA_CUDA_TEST(sample_top_p) {
  for (unsigned n : {1u, 7u, 512u, 32000u}) {
    for (float top_p : {0.5f, 0.9f}) {
      auto probabilities = uniform_values(n, n, -6.0f, 6.0f);
      cpu::softmax_row(probabilities.data(), n, n);
      std::vector<kc::top_p_candidate> scratch(2 * n);
      for (float coin : {0.0f, 0.3f, 0.999f}) {
        std::int32_t want = -1;
        const kc::top_p_body host_body{probabilities.data(), n, top_p, coin, scratch.data(),
                                       scratch.data() + n, &want};
        kc::run_on_cpu_grid(host_body, kc::launch_shape{1, 256});
        auto dp = upload(probabilities);
        // Candidates are not a tensor element type: their scratch is bytes (cudaMalloc aligns).
        auto dscratch = upload(std::vector<std::uint8_t>(2 * n * sizeof(kc::top_p_candidate)));
        auto dtoken = upload(std::vector<std::int32_t>(1));
        kc::sample_top_p(dp.data(), n, top_p, coin,
                         reinterpret_cast<kc::top_p_candidate*>(dscratch.data()), dtoken.data());
        FORMA_EXPECT(download(dtoken)[0] == want);
      }
    }
  }
}

FORMA_CUDA_TEST(decode_attention) {
  struct shape {
    unsigned heads, kv_heads, head_dim, length;
  };
  for (const shape s : {shape{1, 1, 2, 1}, shape{8, 4, 8, 37}, shape{6, 2, 64, 300},
                        shape{12, 12, 64, 1024}, shape{14, 2, 64, 513}}) {
    const std::size_t kv_stride = std::size_t{s.kv_heads} * s.head_dim, max_seq = s.length + 5;
    const auto q = uniform_values(std::size_t{s.heads} * s.head_dim, 1, -2.0f, 2.0f);
    const auto keys = uniform_values(max_seq * kv_stride, 2, -2.0f, 2.0f);
    const auto values = uniform_values(max_seq * kv_stride, 3);
    std::vector<float> want(std::size_t{s.heads} * s.head_dim), scores(s.heads * max_seq);
    const cpu::attention_shape shape_{s.heads, s.kv_heads, s.head_dim, kv_stride, max_seq};
    cpu::attend(q.data(), keys.data(), values.data(), s.length, shape_, scores.data(), want.data());
    auto dq = upload(q), dk = upload(keys), dv = upload(values);
    auto dscores = upload(scores), dout = upload(std::vector<float>(want.size()));
    kc::attend(dq.data(), dk.data(), dv.data(), s.length, shape_, dscores.data(), dout.data());
    const auto got = download(dout);
    FORMA_EXPECT_ALL_CLOSE(got, want, want.size(), math_tolerance, 1.0);
  }
}

FORMA_CUDA_TEST(flash_attention) {
  struct shape {
    unsigned heads, kv_heads, head_dim, queries, length;
  };
  for (const shape s : {shape{1, 1, 2, 1, 1}, shape{8, 4, 8, 37, 37}, shape{4, 2, 64, 33, 100},
                        shape{6, 2, 128, 64, 64}, shape{12, 12, 64, 256, 256}}) {
    const std::size_t kv_stride = std::size_t{s.kv_heads} * s.head_dim;
    const std::size_t row = std::size_t{s.heads} * s.head_dim;
    const auto q = uniform_values(s.queries * row, 1, -2.0f, 2.0f);
    const auto keys = uniform_values(s.length * kv_stride, 2, -2.0f, 2.0f);
    const auto values = uniform_values(s.length * kv_stride, 3);
    std::vector<float> want(s.queries * row);
    std::vector<float> scratch(cpu::flash_scratch_floats(32, s.head_dim));
    const cpu::attention_shape shape_{s.heads, s.kv_heads, s.head_dim, kv_stride, 0};
    cpu::flash_attention<32>(q.data(), keys.data(), values.data(), s.queries, s.length, shape_,
                             scratch.data(), 1, want.data());
    auto dq = upload(q), dk = upload(keys), dv = upload(values);
    auto dout = upload(std::vector<float>(want.size()));
    kc::flash_attention(dq.data(), dk.data(), dv.data(), s.queries, s.length, shape_, dout.data());
    const auto got = download(dout);
    FORMA_EXPECT_ALL_CLOSE(got, want, want.size(), math_tolerance, 1.0);
  }
}
