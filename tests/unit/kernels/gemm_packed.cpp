// Unit tests: the packed GEMM (kernels/cpu/gemm_packed.hpp), NN, NT and TN, against a float64 product
// (within the error bound of a K-term sum) and against the exact arithmetic it promises — one
// std::fma chain per element in k order — bit for bit, on shapes that hit every edge of its
// blocking; 1 thread against 2 threads; no allocation once warm. This file is built three times
// (tests/CMakeLists.txt): with the suite's flags (the scalar path), with AVX2+FMA and with
// AVX-512 (where the CPU has them), so each dispatch path is checked.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <forma/kernels/cpu/gemm_packed.hpp>

#include <forma/core/parallel.hpp>

#include "allocation_counter.hpp"

namespace gp = forma::kernels::cpu::packed;

namespace {

struct Shape {
  std::size_t m, n, k;
};

// Which operand is given transposed: NN A (M, K), B (K, N); NT B stored (N, K); TN A stored (K, M).
enum class Op { nn, nt, tn };
constexpr Op all_ops[] = {Op::nn, Op::nt, Op::tn};
const char* name(Op op) { return op == Op::nn ? "NN " : op == Op::nt ? "NT " : "TN "; }

// Operands with padding beyond each row (pad_* extra columns, filled with NaN so that a kernel
// reading them would show).
struct Problem {
  std::size_t m, n, k, lda, ldb, ldc;
  Op op;
  std::vector<float> a, b, c;

  Problem(Shape s, Op op_, std::size_t pad, unsigned seed)
      : m(s.m), n(s.n), k(s.k), lda((op_ == Op::tn ? s.m : s.k) + pad),
        ldb((op_ == Op::nt ? s.k : s.n) + pad), ldc(s.n + pad), op(op_) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    const float nan = std::nanf("");
    const bool ta = op == Op::tn, nt = op == Op::nt;
    a.assign((ta ? k : m) * lda + 1, nan);
    b.assign((nt ? n : k) * ldb + 1, nan);
    c.assign(m * ldc + 1, nan);
    const std::size_t a_rows = ta ? k : m, a_cols = ta ? m : k;
    for (std::size_t i = 0; i < a_rows; ++i) {
      for (std::size_t p = 0; p < a_cols; ++p) a[i * lda + p] = dist(rng);
    }
    const std::size_t b_rows = nt ? n : k, b_cols = nt ? k : n;
    for (std::size_t i = 0; i < b_rows; ++i) {
      for (std::size_t j = 0; j < b_cols; ++j) b[i * ldb + j] = dist(rng);
    }
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t j = 0; j < n; ++j) c[i * ldc + j] = dist(rng);
    }
  }

  float A(std::size_t i, std::size_t p) const {
    return op == Op::tn ? a[p * lda + i] : a[i * lda + p];
  }
  float B(std::size_t p, std::size_t j) const {
    return op == Op::nt ? b[j * ldb + p] : b[p * ldb + j];
  }

  void run(std::vector<float>& out, bool accumulate) const {
    switch (op) {
      case Op::nn: gp::gemm_nn(m, n, k, a.data(), lda, b.data(), ldb, out.data(), ldc, accumulate); break;
      case Op::nt: gp::gemm_nt(m, n, k, a.data(), lda, b.data(), ldb, out.data(), ldc, accumulate); break;
      case Op::tn: gp::gemm_tn(m, n, k, a.data(), lda, b.data(), ldb, out.data(), ldc, accumulate); break;
    }
  }
};

// Checks `got` (the product of p, accumulated onto p.c or not) element by element.
void check(const Problem& p, const std::vector<float>& got, bool accumulate) {
  std::size_t bad_exact = 0, bad_close = 0;
  std::string first;
  for (std::size_t i = 0; i < p.m; ++i) {
    for (std::size_t j = 0; j < p.n; ++j) {
      const float c0 = accumulate ? p.c[i * p.ldc + j] : 0.0f;
      float chain = c0;
      double exact = c0, magnitude = std::fabs(static_cast<double>(c0));
      for (std::size_t q = 0; q < p.k; ++q) {
        chain = std::fma(p.A(i, q), p.B(q, j), chain);
        const double term = static_cast<double>(p.A(i, q)) * static_cast<double>(p.B(q, j));
        exact += term;
        magnitude += std::fabs(term);
      }
      const float value = got[i * p.ldc + j];
      // A K-term fma chain errs by at most about K·u·Σ|terms| (u = 2⁻²⁴).
      const double bound = static_cast<double>(p.k + 2) * 0x1p-24 * magnitude + 1e-30;
      const bool same_bits = std::memcmp(&value, &chain, sizeof(float)) == 0;
      const bool close = std::fabs(static_cast<double>(value) - exact) <= bound;
      if (!same_bits) ++bad_exact;
      if (!close) ++bad_close;
      if ((!same_bits || !close) && first.empty()) {
        first = "C(" + std::to_string(i) + ", " + std::to_string(j) + ") = " +
                std::to_string(value) + ", fma chain " + std::to_string(chain) + ", float64 " +
                std::to_string(exact);
      }
    }
    // Padding after each row of C is untouched (still NaN from construction).
    for (std::size_t j = p.n; j < p.ldc && i + 1 < p.m; ++j) {
      if (!std::isnan(got[i * p.ldc + j])) ++bad_exact;
    }
  }
  INFO(gp::isa, " ", name(p.op), p.m, "x", p.n, "x", p.k, " lda ", p.lda, " ldb ",
       p.ldb, " ldc ", p.ldc, (accumulate ? " accumulate" : ""), ": ", first);
  CHECK(bad_close == 0);
  CHECK(bad_exact == 0);
}

void check_shape(Shape s, Op op, std::size_t pad, bool accumulate, unsigned seed) {
  const Problem p(s, op, pad, seed);
  std::vector<float> out = p.c;
  p.run(out, accumulate);
  check(p, out, accumulate);
}

const std::vector<Shape>& edge_shapes() {
  static const std::vector<Shape> shapes = {
      {1, 1, 1},     {1, 1, 7},     {7, 1, 1},     {1, 17, 1},    {2, 3, 5},    {3, 5, 7},
      {4, 4, 4},     {5, 5, 5},     {13, 17, 19},  {14, 32, 16},  {15, 33, 17}, {1, 129, 67},
      {1, 300, 33},  {2, 257, 31},  {3, 127, 129}, {4, 200, 70},  {29, 1, 37},  {31, 2, 41},
      {17, 64, 1},   {64, 1, 64},   {127, 127, 127}, {129, 129, 129}, {128, 129, 127},
      {37, 1031, 3}, {6, 16, 300},  {45, 97, 513}, {337, 41, 23}, {16, 768, 64}, {1, 1100, 40},
  };
  return shapes;
}

}  // namespace

TEST_CASE("gemm_packed: NN, NT and TN against float64 and the fma chain, edge shapes") {
  unsigned seed = 1;
  for (const Shape& s : edge_shapes()) {
    for (Op op : all_ops) check_shape(s, op, 0, false, seed++);
  }
}

TEST_CASE("gemm_packed: leading dimensions larger than the rows") {
  unsigned seed = 100;
  for (const Shape& s : edge_shapes()) {
    for (Op op : all_ops) {
      const std::size_t pad = 3 + seed % 17;
      check_shape(s, op, pad, false, seed++);
    }
  }
}

TEST_CASE("gemm_packed: accumulate adds onto C") {
  unsigned seed = 200;
  for (const Shape& s : edge_shapes()) {
    for (Op op : all_ops) {
      const std::size_t pad = seed % 2 ? 5 : 0;
      check_shape(s, op, pad, true, seed++);
    }
  }
}

TEST_CASE("gemm_packed: more than one k block and more than one row block") {
  // K > KC (256) and M > MC, N > NC: C is reloaded between k blocks, A repacked per row block.
  const Shape shapes[] = {{30, 40, 600}, {400, 35, 20}, {9, 1100, 20}, {3, 140, 530}};
  unsigned seed = 300;
  for (const Shape& s : shapes) {
    for (Op op : all_ops) {
      check_shape(s, op, 0, false, seed++);
      check_shape(s, op, 7, true, seed++);
    }
  }
}

TEST_CASE("gemm_packed: TN at weight-gradient shapes: few rows, long K, both A paths") {
  // dw (out, in) += dy (rows, out)ᵀ · x (rows, in): K is the row count, often > 2·KC and not a
  // multiple of it. M ≤ 4 reads A's columns in place; N ≤ 4 panels reads them in place within
  // the packed path; wider N packs them.
  const Shape shapes[] = {{1, 200, 600}, {2, 129, 777}, {3, 33, 520}, {4, 64, 1030},
                          {5, 17, 515},  {29, 300, 530}, {70, 150, 513}, {15, 97, 1100}};
  unsigned seed = 350;
  for (const Shape& s : shapes) {
    for (bool accumulate : {false, true}) {
      check_shape(s, Op::tn, 0, accumulate, seed++);
      const std::size_t pad = 3 + seed % 11;
      check_shape(s, Op::tn, pad, accumulate, seed++);
    }
  }
}

TEST_CASE("gemm_packed: K = 0 writes zeros, or leaves C when accumulating") {
  std::vector<float> a(1), b(1), c(6, 2.0f);
  gp::gemm_nn(2, 3, 0, a.data(), 1, b.data(), 3, c.data(), 3, true);
  for (float x : c) CHECK(x == 2.0f);
  gp::gemm_nt(2, 3, 0, a.data(), 1, b.data(), 1, c.data(), 3);
  for (float x : c) CHECK(x == 0.0f);
  std::fill(c.begin(), c.end(), 2.0f);
  gp::gemm_tn(2, 3, 0, a.data(), 2, b.data(), 3, c.data(), 3, true);
  for (float x : c) CHECK(x == 2.0f);
  gp::gemm_tn(2, 3, 0, a.data(), 2, b.data(), 3, c.data(), 3);
  for (float x : c) CHECK(x == 0.0f);
}

TEST_CASE("gemm_packed: the static-shape forms give the run-time forms' bits") {
  const Problem nn({13, 40, 33}, Op::nn, 0, 7), nt({13, 40, 33}, Op::nt, 0, 8);
  std::vector<float> dynamic_nn(nn.c.size()), static_nn(nn.c.size());
  std::vector<float> dynamic_nt(nt.c.size()), static_nt(nt.c.size());
  nn.run(dynamic_nn, false);
  nt.run(dynamic_nt, false);
  gp::gemm_nn<13, 40, 33>(nn.a.data(), nn.b.data(), static_nn.data());
  gp::gemm_nt<13, 40, 33>(nt.a.data(), nt.b.data(), static_nt.data());
  CHECK(std::memcmp(dynamic_nn.data(), static_nn.data(), 13 * 40 * sizeof(float)) == 0);
  CHECK(std::memcmp(dynamic_nt.data(), static_nt.data(), 13 * 40 * sizeof(float)) == 0);
  check(nn, static_nn, false);
  check(nt, static_nt, false);
}

TEST_CASE("gemm_packed: 1 thread and 2 threads give the same bits") {
  // Big enough to be split (M·N·K ≥ parallel_min_flops): by columns, and by rows (N narrow).
  const Shape shapes[] = {{64, 300, 100}, {3, 2000, 200}, {300, 20, 300}, {100, 100, 150}};
  const int saved = forma::parallel_threads();
  unsigned seed = 400;
  for (const Shape& s : shapes) {
    for (Op op : all_ops) {
      const Problem p(s, op, 1, seed++);
      std::vector<float> one = p.c, two = p.c;
      forma::set_parallel_threads(1);
      p.run(one, true);
      forma::set_parallel_threads(2);
      p.run(two, true);
      INFO(name(op), s.m, "x", s.n, "x", s.k);
      CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);
      check(p, two, true);
    }
  }
  forma::set_parallel_threads(saved);
}

TEST_CASE("gemm_packed: no allocation once warm") {
  const Shape shapes[] = {{1, 768, 288}, {4, 100, 50}, {64, 300, 100}, {200, 200, 300}};
  for (const Shape& s : shapes) {
    for (Op op : all_ops) {
      const Problem p(s, op, 0, 500);
      std::vector<float> out = p.c;
      p.run(out, false);  // warm: each thread's packing buffers
      const auto before = forma::testing::allocations_now();
      for (int rep = 0; rep < 3; ++rep) p.run(out, false);
      const auto after = forma::testing::allocations_now();
      INFO(name(op), s.m, "x", s.n, "x", s.k);
      CHECK(after.count == before.count);
    }
  }
}
