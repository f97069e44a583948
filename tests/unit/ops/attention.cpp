// Unit tests: causal attention over cached keys and values (MHA, GQA, MQA), plain and tiled
// (flash), on static and dynamic shapes.
#include <doctest/doctest.h>

#include <cstddef>
#include <vector>

#include <forma/forma.hpp>

#include "test_support.hpp"
#include "transformer_reference.hpp"

using forma::dyn;
using forma::extents;
using forma::Matrix;
using forma::Tensor;
namespace ref = forma::testing::reference;

namespace {

template <std::size_t H, std::size_t KVH, std::size_t Dh, std::size_t S>
struct Shapes {
  static constexpr std::size_t heads = H, kv_heads = KVH, head_dim = Dh, capacity = S;
};

// Runs plain and flash attention for T queries ending at position length − 1 and compares both
// with the double-precision reference; returns the largest difference flash vs plain.
template <class QE, class KE, std::size_t Block>
double check_attention(std::size_t T, std::size_t H, std::size_t KVH, std::size_t Dh, std::size_t S,
                       std::size_t length, unsigned seed) {
  Tensor<float, QE> q(QE(std::array{T, H, Dh}));
  Tensor<float, KE> keys(KE(std::array{S, KVH, Dh})), values(KE(std::array{S, KVH, Dh}));
  forma::testing::fill_uniform(q, seed, -2.0, 2.0);
  forma::testing::fill_uniform(keys, seed + 1, -2.0, 2.0);
  forma::testing::fill_uniform(values, seed + 2);
  Tensor<float, QE> plain(QE(std::array{T, H, Dh})), flash(QE(std::array{T, H, Dh}));
  Matrix<float, dyn, dyn> scores(H, S);
  forma::attention(q, keys, values, length, scores, plain);
  forma::flash_attention<Block>(q, keys, values, length, flash);
  std::vector<double> k_used(ref::to_doubles(keys)), v_used(ref::to_doubles(values));
  k_used.resize(length * KVH * Dh);
  v_used.resize(length * KVH * Dh);
  const auto expected =
      ref::attention(ref::to_doubles(q), k_used, v_used, T, H, KVH, Dh, length - T);
  CHECK(ref::max_abs_diff(plain, expected) <= 1e-5);
  CHECK(ref::max_abs_diff(flash, expected) <= 1e-5);
  return forma::max_abs_diff(flash, plain);
}

}  // namespace

TEST_CASE_TEMPLATE("attention: MHA, GQA 8/4 and MQA 8/1 against the reference, plain and flash",
                   Cfg, Shapes<8, 8, 9, 16>, Shapes<8, 4, 8, 16>, Shapes<8, 1, 8, 16>) {
  constexpr std::size_t H = Cfg::heads, KVH = Cfg::kv_heads, Dh = Cfg::head_dim, S = Cfg::capacity;
  using QS = extents<dyn, H, Dh>;
  using KS = extents<S, KVH, Dh>;
  using QD = extents<dyn, dyn, dyn>;
  using KD = extents<dyn, dyn, dyn>;
  // Decode (T = 1) at several positions, a prefill from 0, a prefill at an offset, full capacity.
  struct Case { std::size_t T, length; };
  for (const Case c : {Case{1, 1}, Case{1, 5}, Case{7, 7}, Case{4, 11}, Case{16, 16}, Case{3, 16}}) {
    CAPTURE(c.T);
    CAPTURE(c.length);
    CHECK(check_attention<QS, KS, 4>(c.T, H, KVH, Dh, S, c.length, 17) <= 1e-5);
    CHECK(check_attention<QD, KD, 3>(c.T, H, KVH, Dh, S, c.length, 29) <= 1e-5);
    CHECK(check_attention<QS, KD, 1>(c.T, H, KVH, Dh, S, c.length, 31) <= 1e-5);
    CHECK(check_attention<QD, KS, 64>(c.T, H, KVH, Dh, S, c.length, 37) <= 1e-5);
  }
}

TEST_CASE("attention of one query (H, Dh) equals the last row of a prefill") {
  Tensor<float, extents<4, 6, 8>> q;
  Tensor<float, extents<10, 2, 8>> keys, values;
  forma::testing::fill_uniform(q, 1);
  forma::testing::fill_uniform(keys, 2);
  forma::testing::fill_uniform(values, 3);
  Tensor<float, extents<4, 6, 8>> all;
  Matrix<float, 6, 10> scores;
  forma::attention(q, keys, values, 9, scores, all);
  Tensor<float, extents<6, 8>> last, last_flash;
  forma::attention(q[3], keys, values, 9, scores, last);
  forma::flash_attention<4>(q[3], keys, values, 9, last_flash);
  for (std::size_t h = 0; h < 6; ++h) {
    for (std::size_t i = 0; i < 8; ++i) {
      CHECK(last(h, i) == all(3, h, i));
      CHECK(std::fabs(last_flash(h, i) - all(3, h, i)) <= 1e-6);
    }
  }
}

TEST_CASE("flash attention's scratch is reused across calls and lengths") {
  Tensor<float, extents<dyn, 4, 8>> q(extents<dyn, 4, 8>(5));
  Tensor<float, extents<32, 2, 8>> keys, values;
  forma::testing::fill_uniform(q, 4);
  forma::testing::fill_uniform(keys, 5);
  forma::testing::fill_uniform(values, 6);
  forma::FlashScratch<8> scratch(8);
  CHECK(scratch.size_bytes() == scratch.workers() * (8 * 8 + 3 * 8) * sizeof(float));
  for (const std::size_t length : {std::size_t{5}, std::size_t{20}, std::size_t{32}}) {
    Tensor<float, extents<dyn, 4, 8>> a(extents<dyn, 4, 8>(5)), b(extents<dyn, 4, 8>(5));
    Matrix<float, 4, 32> scores;
    forma::flash_attention<8>(q, keys, values, length, scratch, a);
    forma::attention(q, keys, values, length, scores, b);
    CHECK(forma::max_abs_diff(a, b) <= 1e-6);
  }
  forma::FlashScratch<8> wrong(16);
  Tensor<float, extents<dyn, 4, 8>> out(extents<dyn, 4, 8>(5));
  CHECK_THROWS_WITH_AS(forma::flash_attention<8>(q, keys, values, 6, wrong, out),
                       "flash_attention: the scratch was sized for another head_dim: 16 != 8",
                       forma::shape_error);
}

TEST_CASE("attention rejects lengths that do not fit and kv heads that do not divide heads") {
  Tensor<float, extents<dyn, dyn, dyn>> q(extents<dyn, dyn, dyn>(3, 6, 4));
  Tensor<float, extents<dyn, dyn, dyn>> keys(extents<dyn, dyn, dyn>(8, 4, 4));
  Tensor<float, extents<dyn, dyn, dyn>> out(extents<dyn, dyn, dyn>(3, 6, 4));
  Matrix<float, dyn, dyn> scores(6, 8);
  CHECK_THROWS_WITH_AS(forma::attention(q, keys, keys, 5, scores, out),
                       "attention: kv heads must divide heads (q is (..., H, Dh), keys are (S, KVH, "
                       "Dh)): 4 does not divide 6",
                       forma::shape_error);
  CHECK_THROWS_WITH_AS(forma::flash_attention<4>(q, keys, keys, 5, out),
                       "flash_attention: kv heads must divide heads (q is (..., H, Dh), keys are (S, "
                       "KVH, Dh)): 4 does not divide 6",
                       forma::shape_error);
  Tensor<float, extents<dyn, dyn, dyn>> k2(extents<dyn, dyn, dyn>(8, 2, 4));
  CHECK_THROWS_WITH_AS(forma::flash_attention<4>(q, k2, k2, 9, out),
                       "flash_attention: length exceeds the cached positions (length <= S fails): 8 >= 8",
                       forma::shape_error);
  CHECK_THROWS_WITH_AS(forma::flash_attention<4>(q, k2, k2, 2, out),
                       "flash_attention: more queries than positions (T <= length fails): 2 >= 2",
                       forma::shape_error);
}
