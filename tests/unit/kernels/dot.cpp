// dot_rows and the kernels built on it: the same bits as one dot() per row, in both orders
// (Lanes = 1, run.c's, whose rows are interleaved; Lanes = 16, fast_sum's), including row counts
// that leave a remainder and lengths that are not a multiple of the lanes.
#include <doctest/doctest.h>

#include <cstddef>
#include <cstring>
#include <random>
#include <vector>

#include <forma/kernels/cpu/dot.hpp>
#include <forma/kernels/cpu/gemm.hpp>

namespace {

std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

template <std::size_t Lanes>
void check_gemv_and_gemm_nt(std::size_t M, std::size_t N, std::size_t K, unsigned seed) {
  CAPTURE(Lanes);
  CAPTURE(M);
  CAPTURE(N);
  CAPTURE(K);
  const auto a = random_floats(M * K, seed), b = random_floats(N * K, seed + 1), x = random_floats(K, seed + 2);
  std::vector<float> y(M), expected_y(M);
  forma::kernels::cpu::gemv<float, Lanes>(M, K, a.data(), K, x.data(), y.data());
  for (std::size_t i = 0; i < M; ++i) expected_y[i] = forma::kernels::cpu::dot<float, Lanes>(a.data() + i * K, x.data(), K);
  CHECK(std::memcmp(y.data(), expected_y.data(), M * sizeof(float)) == 0);

  std::vector<float> c(M * N), expected_c(M * N);
  forma::kernels::cpu::gemm_nt<float, Lanes>(M, N, K, a.data(), K, b.data(), K, c.data(), N);
  for (std::size_t i = 0; i < M; ++i) {
    for (std::size_t j = 0; j < N; ++j) {
      expected_c[i * N + j] = forma::kernels::cpu::dot<float, Lanes>(b.data() + j * K, a.data() + i * K, K);
    }
  }
  CHECK(std::memcmp(c.data(), expected_c.data(), M * N * sizeof(float)) == 0);
}

}  // namespace

TEST_CASE("dot_rows: four rows at once give each row's dot() bits, in order and with partial sums") {
  for (const std::size_t count : {0u, 1u, 3u, 15u, 16u, 17u, 64u, 100u, 289u}) {
    CAPTURE(count);
    const auto rows = random_floats(4 * count, 7), b = random_floats(count, 8);
    const float* const a[4] = {rows.data(), rows.data() + count, rows.data() + 2 * count, rows.data() + 3 * count};
    float ordered[4], fast[4];
    forma::kernels::cpu::dot_rows<float, 1, 4>(a, b.data(), count, ordered);
    forma::kernels::cpu::dot_rows<float, 16, 4>(a, b.data(), count, fast);
    for (std::size_t r = 0; r < 4; ++r) {
      const float one = forma::kernels::cpu::dot<float, 1>(a[r], b.data(), count);
      const float sixteen = forma::kernels::cpu::dot<float, 16>(a[r], b.data(), count);
      CHECK(std::memcmp(&ordered[r], &one, sizeof(float)) == 0);
      CHECK(std::memcmp(&fast[r], &sixteen, sizeof(float)) == 0);
    }
  }
}

TEST_CASE("gemv and gemm_nt: the same bits as a dot() per output element, for every row remainder") {
  unsigned seed = 20;
  for (const std::size_t M : {1u, 3u, 4u, 5u, 7u, 64u, 301u}) {
    for (const std::size_t K : {1u, 17u, 288u}) {
      check_gemv_and_gemm_nt<1>(M, 6, K, seed);
      check_gemv_and_gemm_nt<16>(M, 6, K, seed);
      seed += 3;
    }
  }
  // Big enough to be split over the pool's threads.
  check_gemv_and_gemm_nt<1>(512, 13, 288, 99);
  check_gemv_and_gemm_nt<16>(512, 13, 288, 99);
}
