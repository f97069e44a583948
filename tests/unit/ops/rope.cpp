// Unit tests: RoPE in both layouts (interleaved pairs as Meta / llama2.c, halves as Hugging Face).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include <forma/forma.hpp>

#include "test_support.hpp"
#include "transformer_reference.hpp"

using forma::dyn;
using forma::Tensor;
using forma::rope_layout;
namespace ref = forma::testing::reference;

namespace {
// llama2.c run.c's RoPE of q (dim floats) at `pos`, heads of head_size.
void run_c_rope(float* q, int dim, int head_size, int pos) {
  for (int i = 0; i < dim; i += 2) {
    int head_dim = i % head_size;
    float freq = 1.0f / powf(10000.0f, head_dim / (float)head_size);
    float val = pos * freq;
    float fcr = cosf(val);
    float fci = sinf(val);
    float v0 = q[i];
    float v1 = q[i + 1];
    q[i] = v0 * fcr - v1 * fci;
    q[i + 1] = v0 * fci + v1 * fcr;
  }
}
}  // namespace

using HeadsStatic = Tensor<float, forma::extents<3, 16>>;
using HeadsDynamic = Tensor<float, forma::extents<dyn, dyn>>;

TEST_CASE_TEMPLATE("RoPE at position 0 is the identity, in both layouts", X, HeadsStatic, HeadsDynamic) {
  X x = forma::testing::make<X>(3, 16);
  forma::testing::fill_uniform(x, 8);
  X a = x, b = x;
  forma::rope<rope_layout::interleaved>(a, 0);
  forma::rope<rope_layout::half>(b, 0, 500000.0f);
  CHECK(std::memcmp(a.data(), x.data(), x.size_bytes()) == 0);
  CHECK(std::memcmp(b.data(), x.data(), x.size_bytes()) == 0);
}

TEST_CASE_TEMPLATE("interleaved RoPE is run.c's arithmetic bit for bit and the rotation formula",
                   X, HeadsStatic, HeadsDynamic) {
  for (const std::size_t pos : {std::size_t{1}, std::size_t{7}, std::size_t{100}, std::size_t{511}}) {
    X x = forma::testing::make<X>(3, 16);
    forma::testing::fill_uniform(x, static_cast<unsigned>(pos));
    std::vector<float> expected(x.begin(), x.end());
    run_c_rope(expected.data(), 48, 16, static_cast<int>(pos));
    const auto exact = ref::rope(ref::to_doubles(x), 3, 16, pos, 10000.0, true);
    forma::rope(x, pos);
    CHECK(std::memcmp(expected.data(), x.data(), x.size_bytes()) == 0);
    CHECK(ref::max_abs_diff(x, exact) <= 2e-7 * static_cast<double>(pos + 1));
  }
}

TEST_CASE_TEMPLATE("half-layout RoPE rotates (x[i], x[i + Dh/2]) with a configurable theta", X,
                   HeadsStatic, HeadsDynamic) {
  X x = forma::testing::make<X>(3, 16);
  forma::testing::fill_uniform(x, 9);
  const auto exact = ref::rope(ref::to_doubles(x), 3, 16, 13, 500000.0, false);
  // The same rotation applied to the pairs laid out interleaved gives the same numbers.
  X interleaved = x;
  for (std::size_t h = 0; h < 3; ++h) {
    for (std::size_t i = 0; i < 8; ++i) {
      interleaved(h, 2 * i) = x(h, i);
      interleaved(h, 2 * i + 1) = x(h, i + 8);
    }
  }
  forma::rope<rope_layout::half>(x, 13, 500000.0f);
  forma::rope<rope_layout::interleaved>(interleaved, 13, 500000.0f);
  CHECK(ref::max_abs_diff(x, exact) <= 1e-6);
  for (std::size_t h = 0; h < 3; ++h) {
    for (std::size_t i = 0; i < 8; ++i) {
      CHECK(x(h, i) == interleaved(h, 2 * i));
      CHECK(x(h, i + 8) == interleaved(h, 2 * i + 1));
    }
  }
}

TEST_CASE("RoPE of (T, H, Dh) rotates row t at position p + t") {
  Tensor<float, forma::extents<dyn, 2, 8>> x(forma::extents<dyn, 2, 8>(4));
  forma::testing::fill_uniform(x, 10);
  auto rows = x;
  forma::rope(x, 5);
  for (std::size_t t = 0; t < 4; ++t) {
    auto row = rows[t];
    forma::rope(row, 5 + t);
    for (std::size_t h = 0; h < 2; ++h) {
      for (std::size_t i = 0; i < 8; ++i) CHECK(x(t, h, i) == rows(t, h, i));
    }
  }
}

TEST_CASE("RoPE of an odd dynamic head_dim is a shape_error") {
  Tensor<float, forma::extents<dyn, dyn>> x(forma::extents<dyn, dyn>(2, 7));
  CHECK_THROWS_WITH_AS(forma::rope(x, 1),
                       "rope: head_dim must be even (RoPE rotates pairs; x is (..., H, Dh)): 2 does "
                       "not divide 7",
                       forma::shape_error);
}
