// benchmarks/matmul.cpp — forma's matmul and matmul_nt against a naive triple loop (the peer
// measured in the same run), reporting GFLOP/s.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <random>
#include <vector>

#include <forma/forma.hpp>

namespace {

template <class M>
void fill_random(M& m, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& x : m) x = dist(rng);
}

void set_flops(benchmark::State& state, std::size_t m, std::size_t n, std::size_t k) {
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * static_cast<double>(m * n * k) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

template <std::size_t M, std::size_t N, std::size_t K>
void BM_matmul_static(benchmark::State& state) {
  forma::Matrix<float, M, K> a;
  forma::Matrix<float, K, N> b;
  forma::Matrix<float, M, N> c;
  fill_random(a, 1);
  fill_random(b, 2);
  for (auto _ : state) {
    forma::matmul(a, b, c);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, M, N, K);
}

template <std::size_t M, std::size_t N, std::size_t K>
void BM_matmul_nt_static(benchmark::State& state) {
  forma::Matrix<float, M, K> a;
  forma::Matrix<float, N, K> b;
  forma::Matrix<float, M, N> c;
  fill_random(a, 1);
  fill_random(b, 2);
  for (auto _ : state) {
    forma::matmul_nt(a, b, c);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, M, N, K);
}

void BM_matmul_dynamic(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  forma::Matrix<float, forma::dyn, forma::dyn> a(n, n), b(n, n), c(n, n);
  fill_random(a, 1);
  fill_random(b, 2);
  for (auto _ : state) {
    forma::matmul(a, b, c);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, n, n, n);
}

// The peer: the textbook i-j-k loop over std::vector, what a hand-written loop looks like.
void BM_naive_loop(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<float> a(n * n), b(n * n), c(n * n);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& x : a) x = dist(rng);
  for (float& x : b) x = dist(rng);
  for (auto _ : state) {
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < n; ++j) {
        float acc = 0;
        for (std::size_t k = 0; k < n; ++k) acc += a[i * n + k] * b[k * n + j];
        c[i * n + j] = acc;
      }
    }
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, n, n, n);
}

}  // namespace

BENCHMARK(BM_matmul_static<64, 64, 64>);
BENCHMARK(BM_matmul_static<256, 256, 256>);
BENCHMARK(BM_matmul_nt_static<256, 256, 256>);
BENCHMARK(BM_matmul_dynamic)->Arg(64)->Arg(256);
BENCHMARK(BM_naive_loop)->Arg(64)->Arg(256);

namespace {

// matvec is the decode loop's hot spot: y (M) = W (M, K) · x (K), W stored (out, in).
template <std::size_t M, std::size_t K>
void BM_matvec(benchmark::State& state) {
  forma::Matrix<float, M, K> w;
  forma::Vector<float, K> x;
  forma::Vector<float, M> y;
  fill_random(w, 1);
  fill_random(x, 2);
  for (auto _ : state) {
    forma::matvec(w, x, y);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, M, 1, K);
}

// The peer: llama2.c's matmul loop (one float accumulator per row, in order).
template <std::size_t M, std::size_t K>
void BM_matvec_llama2c_loop(benchmark::State& state) {
  std::vector<float> w(M * K), x(K), y(M);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& v : w) v = dist(rng);
  for (float& v : x) v = dist(rng);
  for (auto _ : state) {
    for (std::size_t i = 0; i < M; ++i) {
      float val = 0.0f;
      for (std::size_t j = 0; j < K; ++j) val += w[i * K + j] * x[j];
      y[i] = val;
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, M, 1, K);
}

}  // namespace

BENCHMARK(BM_matvec<288, 288>);
BENCHMARK(BM_matvec_llama2c_loop<288, 288>);
BENCHMARK(BM_matvec<768, 288>);
BENCHMARK(BM_matvec_llama2c_loop<768, 288>);
BENCHMARK(BM_matvec<32000, 288>);
BENCHMARK(BM_matvec_llama2c_loop<32000, 288>);
