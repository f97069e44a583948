// cuBLAS matrix products on a GPU against kernels/cpu/gemm.hpp: f32 to 1e-5 of the products'
// magnitude (CUBLAS_COMPUTE_32F, no TF32); bf16 and f16 inputs with f32 accumulation against a
// double-precision product of the same rounded inputs, to 1e-5 of the magnitude (each product of
// two 16-bit values is exact in f32; only the f32 sums round).
#include <cmath>
#include <vector>

#include <forma/core/dtype.hpp>
#include <forma/kernels/cpu/gemm.hpp>
#include <forma/kernels/cuda/gemm.cuh>

#include "cuda_test.hpp"

namespace kc = forma::kernels::cuda;
namespace cpu = forma::kernels::cpu;
using forma_cuda_test::download;
using forma_cuda_test::uniform_values;
using forma_cuda_test::upload;

namespace {
struct gemm_shape {
  std::size_t M, N, K;
};
constexpr gemm_shape shapes[] = {{1, 1, 1}, {1, 768, 768}, {7, 33, 65}, {64, 64, 64},
                                 {128, 2048, 768}, {3, 32000, 64}};

// |got − want| ≤ 1e-5 · Σ_k |a_ik · b_kj| for every element.
void expect_close_to_magnitude(const std::vector<float>& got, const std::vector<double>& want,
                               const std::vector<double>& magnitude) {
  int shown = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::fabs(got[i] - want[i]) > 1e-5 * magnitude[i] + 1e-30 && shown++ < 5) {
      forma_cuda_test::fail(__FILE__, __LINE__,
                            "element " + std::to_string(i) + ": " + std::to_string(got[i]) +
                                " vs " + std::to_string(want[i]));
    }
  }
}
}  // namespace

FORMA_CUDA_TEST(gemm_f32) {
  for (const gemm_shape s : shapes) {
    const auto a = uniform_values(s.M * s.K, 1), b = uniform_values(s.K * s.N, 2);
    const auto b_nt = uniform_values(s.N * s.K, 3);
    auto da = upload(a), db = upload(b), db_nt = upload(b_nt);
    auto dc = upload(std::vector<float>(s.M * s.N));
    std::vector<float> want(s.M * s.N);
    std::vector<double> want_d(want.size()), magnitude(want.size());

    cpu::gemm_nn(s.M, s.N, s.K, a.data(), s.K, b.data(), s.N, want.data(), s.N);
    for (std::size_t i = 0; i < s.M; ++i) {
      for (std::size_t j = 0; j < s.N; ++j) {
        double m = 0;
        for (std::size_t k = 0; k < s.K; ++k) m += std::fabs(double(a[i * s.K + k]) * b[k * s.N + j]);
        magnitude[i * s.N + j] = m;
        want_d[i * s.N + j] = want[i * s.N + j];
      }
    }
    kc::gemm_nn(s.M, s.N, s.K, da.data(), s.K, db.data(), s.N, dc.data(), s.N);
    expect_close_to_magnitude(download(dc), want_d, magnitude);

    cpu::gemm_nt(s.M, s.N, s.K, a.data(), s.K, b_nt.data(), s.K, want.data(), s.N);
    for (std::size_t i = 0; i < s.M; ++i) {
      for (std::size_t j = 0; j < s.N; ++j) {
        double m = 0;
        for (std::size_t k = 0; k < s.K; ++k) m += std::fabs(double(a[i * s.K + k]) * b_nt[j * s.K + k]);
        magnitude[i * s.N + j] = m;
        want_d[i * s.N + j] = want[i * s.N + j];
      }
    }
    kc::gemm_nt(s.M, s.N, s.K, da.data(), s.K, db_nt.data(), s.K, dc.data(), s.N);
    expect_close_to_magnitude(download(dc), want_d, magnitude);
  }
}

template <class Half>
void check_half_gemm_nt() {
  for (const gemm_shape s : shapes) {
    const auto a = uniform_values(s.M * s.K, 4), b = uniform_values(s.N * s.K, 5);
    std::vector<Half> a16(a.size()), b16(b.size());
    for (std::size_t i = 0; i < a.size(); ++i) a16[i] = Half(a[i]);
    for (std::size_t i = 0; i < b.size(); ++i) b16[i] = Half(b[i]);
    std::vector<double> want(s.M * s.N), magnitude(want.size());
    for (std::size_t i = 0; i < s.M; ++i) {
      for (std::size_t j = 0; j < s.N; ++j) {
        double sum = 0, m = 0;
        for (std::size_t k = 0; k < s.K; ++k) {
          const double product = double(static_cast<float>(a16[i * s.K + k])) *
                                 double(static_cast<float>(b16[j * s.K + k]));
          sum += product;
          m += std::fabs(product);
        }
        want[i * s.N + j] = sum;
        magnitude[i * s.N + j] = m;
      }
    }
    auto da = upload(a16), db = upload(b16);
    auto dc = upload(std::vector<float>(s.M * s.N));
    kc::gemm_nt(s.M, s.N, s.K, da.data(), s.K, db.data(), s.K, dc.data(), s.N);
    expect_close_to_magnitude(download(dc), want, magnitude);
  }
}

FORMA_CUDA_TEST(gemm_nt_bf16_f32_accumulate) { check_half_gemm_nt<forma::bf16>(); }

FORMA_CUDA_TEST(gemm_nt_f16_f32_accumulate) { check_half_gemm_nt<forma::f16>(); }
