// benchmarks/bench_gemm.cpp — the packed f32 GEMM (kernels/cpu/gemm_packed.hpp) against OpenBLAS
// (cblas_sgemm) and Eigen 3.4 (dynamic-size products) in the same process, each when CMake found
// it, reporting GFLOP/s. Row-major operands throughout; NN: C = A·B with B (K, N), NT: C = A·Bᵀ
// with B (N, K), TN: C = Aᵀ·B with A (K, M). Threads: OMP_NUM_THREADS for all three (OpenBLAS is
// set to the same count). Also the Linear layer's backward (kernels/cpu/linear_backward.hpp, the
// packed GEMM for float) against the generic loops it replaced (linear_backward/reference).
//
//   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 build/release/benchmarks/bench_gemm
#include <benchmark/benchmark.h>

#include <cstddef>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <forma/core/config.hpp>
#include <forma/core/parallel.hpp>
#include <forma/kernels/cpu/gemm.hpp>
#include <forma/kernels/cpu/gemm_packed.hpp>
#include <forma/kernels/cpu/linear_backward.hpp>

#if defined(FORMA_BENCH_OPENBLAS)
#include <cblas.h>
#endif
#if defined(FORMA_BENCH_EIGEN)
#include <Eigen/Core>
#endif

namespace {

namespace gp = forma::kernels::cpu::packed;

// Which operand is given transposed: NN A (M, K), B (K, N); NT B stored (N, K); TN A stored (K, M).
enum class Op { nn, nt, tn };

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

template <Op O>
void BM_forma(benchmark::State& state) {
  Operands o(state);
  for (auto _ : state) {
    if constexpr (O == Op::nt) {
      gp::gemm_nt(o.m, o.n, o.k, o.a.data(), o.k, o.b.data(), o.k, o.c.data(), o.n);
    } else if constexpr (O == Op::tn) {
      gp::gemm_tn(o.m, o.n, o.k, o.a.data(), o.m, o.b.data(), o.n, o.c.data(), o.n);
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
template <Op O>
void BM_openblas(benchmark::State& state) {
  Operands o(state);
  const int m = static_cast<int>(o.m), n = static_cast<int>(o.n), k = static_cast<int>(o.k);
  constexpr bool ta = O == Op::tn, tb = O == Op::nt;
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
                n, k, 1.0f, o.a.data(), ta ? m : k, o.b.data(), tb ? k : n, 0.0f, o.c.data(), n);
    benchmark::DoNotOptimize(o.c.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, o.m, o.n, o.k);
}
#endif

#if defined(FORMA_BENCH_EIGEN)
template <Op O>
void BM_eigen(benchmark::State& state) {
  using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Operands o(state);
  const auto m = static_cast<Eigen::Index>(o.m), n = static_cast<Eigen::Index>(o.n),
             k = static_cast<Eigen::Index>(o.k);
  constexpr bool ta = O == Op::tn, tb = O == Op::nt;
  Eigen::Map<const Mat> a(o.a.data(), ta ? k : m, ta ? m : k);
  Eigen::Map<const Mat> b(o.b.data(), tb ? n : k, tb ? k : n);
  Eigen::Map<Mat> c(o.c.data(), m, n);
  for (auto _ : state) {
    if constexpr (tb) {
      c.noalias() = a * b.transpose();
    } else if constexpr (ta) {
      c.noalias() = a.transpose() * b;
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

// TN at the weight-gradient shapes: dw (out, in) += dy (rows, out)ᵀ · x (rows, in), M × N × K =
// out × in × rows (stories15M: dim 288, hidden 768, vocab 32000; GPT-2 small: 768, 3072).
void tn_shapes(benchmark::internal::Benchmark* b) {
  for (long s : {64, 256, 1024}) b->Args({s, s, s});
  for (long rows : {512L, 2048L}) {
    for (auto out_in : {std::pair{288L, 288L}, std::pair{768L, 288L}, std::pair{288L, 768L},
                        std::pair{32000L, 288L}, std::pair{768L, 768L}, std::pair{3072L, 768L}}) {
      b->Args({out_in.first, out_in.second, rows});
    }
  }
  b->ArgNames({"M", "N", "K"})->UseRealTime()->MinTime(0.2);
}

// The generic loops kernels::cpu::linear_backward ran for float before it used the packed GEMM
// (and still runs for double): dx by gemm.hpp's gemm_nn, each row of dw by one thread over the
// rows in order, a multiply then an add per term.
void linear_backward_reference(const float* x, const float* w, const float* dy, float* dx,
                               float* dw, float* db, std::size_t rows, std::size_t in,
                               std::size_t out) {
  forma::kernels::cpu::gemm_nn(rows, in, out, dy, out, w, in, dx, in);
  forma::parallel_for(out, rows * in, [&](std::size_t o) {
    float* FORMA_RESTRICT g = dw + o * in;
    for (std::size_t r = 0; r < rows; ++r) {
      const float a = dy[r * out + o];
      const float* FORMA_RESTRICT xr = x + r * in;
      for (std::size_t i = 0; i < in; ++i) g[i] += a * xr[i];
    }
    float sum = db[o];
    for (std::size_t r = 0; r < rows; ++r) sum += dy[r * out + o];
    db[o] = sum;
  });
}

// dx, dw and db of one Linear layer, (rows, in, out) from the arguments. GFLOP/s counts both
// products: 4·rows·in·out.
template <bool Reference>
void BM_linear_backward(benchmark::State& state) {
  const auto rows = static_cast<std::size_t>(state.range(0));
  const auto in = static_cast<std::size_t>(state.range(1));
  const auto out = static_cast<std::size_t>(state.range(2));
  const std::vector<float> x = random_floats(rows * in, 1), w = random_floats(out * in, 2),
                           dy = random_floats(rows * out, 3);
  std::vector<float> dx(rows * in), dw(out * in), db(out);
  for (auto _ : state) {
    if constexpr (Reference) {
      linear_backward_reference(x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(),
                                rows, in, out);
    } else {
      forma::kernels::cpu::linear_backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(),
                                           db.data(), rows, in, out);
    }
    benchmark::DoNotOptimize(dw.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, 2 * rows, in, out);
}

// A llama2.c-style model's Linear layers, rows = B·T tokens: stories15M (dim 288, hidden 768,
// vocab 32000) and GPT-2 small (768, 3072).
void linear_shapes(benchmark::internal::Benchmark* b) {
  for (long rows : {512L, 2048L}) {
    for (auto in_out : {std::pair{288L, 288L}, std::pair{288L, 768L}, std::pair{768L, 288L},
                        std::pair{288L, 32000L}, std::pair{768L, 768L}, std::pair{768L, 3072L}}) {
      b->Args({rows, in_out.first, in_out.second});
    }
  }
  b->ArgNames({"rows", "in", "out"})->UseRealTime()->MinTime(0.2);
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

BENCHMARK(BM_forma<Op::nn>)->Name("nn/forma")->Apply(shapes);
BENCHMARK(BM_forma<Op::nt>)->Name("nt/forma")->Apply(shapes);
BENCHMARK(BM_forma<Op::tn>)->Name("tn/forma")->Apply(tn_shapes);
#if defined(FORMA_BENCH_OPENBLAS)
BENCHMARK(BM_openblas<Op::nn>)->Name("nn/openblas")->Apply(shapes);
BENCHMARK(BM_openblas<Op::nt>)->Name("nt/openblas")->Apply(shapes);
BENCHMARK(BM_openblas<Op::tn>)->Name("tn/openblas")->Apply(tn_shapes);
#endif
#if defined(FORMA_BENCH_EIGEN)
BENCHMARK(BM_eigen<Op::nn>)->Name("nn/eigen")->Apply(shapes);
BENCHMARK(BM_eigen<Op::nt>)->Name("nt/eigen")->Apply(shapes);
BENCHMARK(BM_eigen<Op::tn>)->Name("tn/eigen")->Apply(tn_shapes);
#endif
BENCHMARK(BM_linear_backward<false>)->Name("linear_backward/forma")->Apply(linear_shapes);
BENCHMARK(BM_linear_backward<true>)->Name("linear_backward/reference")->Apply(linear_shapes);

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
