// benchmarks/bench_gemm.cpp — the packed f32 GEMM (kernels/cpu/gemm_packed.hpp) against OpenBLAS
// (cblas_sgemm) and Eigen 3.4 (dynamic-size products) in the same process, each when CMake found
// it, reporting GFLOP/s. Row-major operands throughout; NN: C = A·B with B (K, N), NT: C = A·Bᵀ
// with B (N, K). Threads: OMP_NUM_THREADS for all three (OpenBLAS is set to the same count).
//
//   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 build/release/benchmarks/bench_gemm
#include <benchmark/benchmark.h>

#include <cstddef>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <forma/core/parallel.hpp>
#include <forma/kernels/cpu/gemm_packed.hpp>

#if defined(FORMA_BENCH_OPENBLAS)
#include <cblas.h>
#endif
#if defined(FORMA_BENCH_EIGEN)
#include <Eigen/Core>
#endif

namespace {

namespace gp = forma::kernels::cpu::packed;

std::vector<float> random_floats(std::size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (float& x : v) x = dist(rng);
  return v;
}

void set_flops(benchmark::State& state, std::size_t m, std::size_t n, std::size_t k) {
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) *
          static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

struct Operands {
  std::size_t m, n, k;
  std::vector<float> a, b, c;
  explicit Operands(const benchmark::State& state)
      : m(static_cast<std::size_t>(state.range(0))), n(static_cast<std::size_t>(state.range(1))),
        k(static_cast<std::size_t>(state.range(2))), a(random_floats(m * k, 1)),
        b(random_floats(k * n, 2)), c(m * n) {}
};

template <bool NT>
void BM_forma(benchmark::State& state) {
  Operands o(state);
  for (auto _ : state) {
    if constexpr (NT) {
      gp::gemm_nt(o.m, o.n, o.k, o.a.data(), o.k, o.b.data(), o.k, o.c.data(), o.n);
    } else {
      gp::gemm_nn(o.m, o.n, o.k, o.a.data(), o.k, o.b.data(), o.n, o.c.data(), o.n);
    }
    benchmark::DoNotOptimize(o.c.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, o.m, o.n, o.k);
}

// The compile-time-shape forms.
template <bool NT, std::size_t M, std::size_t N, std::size_t K>
void BM_forma_static(benchmark::State& state) {
  const std::vector<float> a = random_floats(M * K, 1), b = random_floats(K * N, 2);
  std::vector<float> c(M * N);
  for (auto _ : state) {
    if constexpr (NT) {
      gp::gemm_nt<M, N, K>(a.data(), b.data(), c.data());
    } else {
      gp::gemm_nn<M, N, K>(a.data(), b.data(), c.data());
    }
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, M, N, K);
}

#if defined(FORMA_BENCH_OPENBLAS)
template <bool NT>
void BM_openblas(benchmark::State& state) {
  Operands o(state);
  const int m = static_cast<int>(o.m), n = static_cast<int>(o.n), k = static_cast<int>(o.k);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, NT ? CblasTrans : CblasNoTrans, m, n, k, 1.0f,
                o.a.data(), k, o.b.data(), NT ? k : n, 0.0f, o.c.data(), n);
    benchmark::DoNotOptimize(o.c.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, o.m, o.n, o.k);
}
#endif

#if defined(FORMA_BENCH_EIGEN)
template <bool NT>
void BM_eigen(benchmark::State& state) {
  using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Operands o(state);
  const auto m = static_cast<Eigen::Index>(o.m), n = static_cast<Eigen::Index>(o.n),
             k = static_cast<Eigen::Index>(o.k);
  Eigen::Map<const Mat> a(o.a.data(), m, k);
  Eigen::Map<const Mat> b(o.b.data(), NT ? n : k, NT ? k : n);
  Eigen::Map<Mat> c(o.c.data(), m, n);
  for (auto _ : state) {
    if constexpr (NT) {
      c.noalias() = a * b.transpose();
    } else {
      c.noalias() = a * b;
    }
    benchmark::DoNotOptimize(o.c.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, o.m, o.n, o.k);
}
#endif

// Squares and the transformer's shapes: M tokens × (N, K) = (out, in) of its projections.
void shapes(benchmark::internal::Benchmark* b) {
  for (long s : {16, 32, 64, 128, 256, 512, 1024, 2048}) b->Args({s, s, s});
  for (long m : {1, 16, 64, 256}) {
    for (auto nk : {std::pair{768L, 768L}, std::pair{3072L, 768L}, std::pair{768L, 3072L},
                    std::pair{32000L, 288L}, std::pair{288L, 288L}}) {
      b->Args({m, nk.first, nk.second});
    }
  }
  b->ArgNames({"M", "N", "K"})->UseRealTime()->MinTime(0.2);
}

const bool context = [] {
  benchmark::AddCustomContext("forma_isa", gp::isa);
  benchmark::AddCustomContext("threads", std::to_string(forma::parallel_threads()));
#if defined(FORMA_BENCH_OPENBLAS)
  openblas_set_num_threads(forma::parallel_threads());
  benchmark::AddCustomContext("openblas_core", openblas_get_corename());
  benchmark::AddCustomContext("openblas_config", openblas_get_config());
#else
  benchmark::AddCustomContext("openblas", "not found at configure time");
#endif
#if defined(FORMA_BENCH_EIGEN)
  benchmark::AddCustomContext("eigen", std::to_string(EIGEN_WORLD_VERSION) + "." +
                                           std::to_string(EIGEN_MAJOR_VERSION) + "." +
                                           std::to_string(EIGEN_MINOR_VERSION) + ", " +
                                           std::to_string(Eigen::nbThreads()) + " threads");
#else
  benchmark::AddCustomContext("eigen", "not found at configure time");
#endif
  return true;
}();

}  // namespace

BENCHMARK(BM_forma<false>)->Name("nn/forma")->Apply(shapes);
BENCHMARK(BM_forma<true>)->Name("nt/forma")->Apply(shapes);
#if defined(FORMA_BENCH_OPENBLAS)
BENCHMARK(BM_openblas<false>)->Name("nn/openblas")->Apply(shapes);
BENCHMARK(BM_openblas<true>)->Name("nt/openblas")->Apply(shapes);
#endif
#if defined(FORMA_BENCH_EIGEN)
BENCHMARK(BM_eigen<false>)->Name("nn/eigen")->Apply(shapes);
BENCHMARK(BM_eigen<true>)->Name("nt/eigen")->Apply(shapes);
#endif

// Static shapes, named like the dynamic ones so that the tables line up.
#define FORMA_BENCH_STATIC(S)                                                                 \
  BENCHMARK(BM_forma_static<false, S, S, S>)                                                  \
      ->Name("nn/forma_static/M:" #S "/N:" #S "/K:" #S)                                       \
      ->UseRealTime()                                                                         \
      ->MinTime(0.2);                                                                         \
  BENCHMARK(BM_forma_static<true, S, S, S>)                                                   \
      ->Name("nt/forma_static/M:" #S "/N:" #S "/K:" #S)                                       \
      ->UseRealTime()                                                                         \
      ->MinTime(0.2)
FORMA_BENCH_STATIC(16);
FORMA_BENCH_STATIC(32);
FORMA_BENCH_STATIC(64);
FORMA_BENCH_STATIC(128);
