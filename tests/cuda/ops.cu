// The ops dispatch on the device in the type: forma::rmsnorm / layernorm / softmax (_causal,
// _valid) / matmul / matmul_nt / matvec / add on cuda tensors run the CUDA kernels, and give the
// host ops' results to 1e-5.
#include <cmath>
#include <vector>

#include <forma/ops/elementwise.hpp>
#include <forma/ops/matmul.hpp>
#include <forma/ops/norm.hpp>
#include <forma/ops/softmax.hpp>

#include "cuda_test.hpp"

using forma::dyn;

namespace {
template <class HostTensor>
void fill(HostTensor& t, unsigned seed) {
  const auto values = forma_cuda_test::uniform_values(t.size(), seed);
  std::copy(values.begin(), values.end(), t.data());
}

template <class Got, class Want>
void expect_close(const Got& got_device, const Want& want, double tolerance, double scale) {
  const auto got = forma::to_host(got_device);
  FORMA_EXPECT(got.size() == want.size());
  FORMA_EXPECT_ALL_CLOSE(got.data(), want.data(), want.size(), tolerance, scale);
}

// The ops compile for cuda tensors here (nvcc), and their concepts say so.
static_assert(forma::matmul_compatible<forma::Matrix<float, 2, 3, forma::cuda>,
                                       forma::Matrix<float, 3, 4, forma::cuda>>);
static_assert(!forma::matmul_compatible<forma::Matrix<float, 2, 3>,
                                        forma::Matrix<float, 3, 4, forma::cuda>>);
}  // namespace

FORMA_CUDA_TEST(ops_rmsnorm_softmax_on_device) {
  forma::Matrix<float, 3, 288> x;
  forma::Vector<float, 288> weight;
  fill(x, 1);
  fill(weight, 2);
  const auto dx = forma::to_device(x);
  const auto dweight = forma::to_device(weight);
  const forma::Matrix<float, 3, 288, forma::cuda> dnorm = forma::rmsnorm(dx, dweight);
  expect_close(dnorm, forma::rmsnorm(x, weight), 1e-5, 1e-6);

  forma::Matrix<float, dyn, dyn> scores(4, 37);
  fill(scores, 3);
  auto dscores = forma::to_device(scores);
  expect_close(forma::softmax(dscores), forma::softmax(scores), 1e-5, 1e-30);
  forma::Matrix<float, dyn, dyn> causal(4, 37);
  forma::softmax_causal(scores, causal, 3);
  forma::softmax_causal(dscores, dscores, 3);  // in place on the device
  expect_close(dscores, causal, 1e-5, 1e-30);
  forma::Matrix<float, dyn, dyn> valid(4, 37);
  forma::softmax_valid(scores, valid, 20);
  auto dvalid = forma::to_device(valid);
  forma::softmax_valid(forma::to_device(scores), dvalid, 20);
  expect_close(dvalid, valid, 1e-5, 1e-30);

  forma::Vector<float, 288> bias;
  fill(bias, 8);
  const auto dbias = forma::to_device(bias);
  expect_close(forma::layernorm(dx, dweight, dbias), forma::layernorm(x, weight, bias), 1e-5, 1e-3);
}

FORMA_CUDA_TEST(ops_matmul_add_on_device) {
  forma::Matrix<float, 5, 64> a;
  forma::Matrix<float, 64, 7> b;
  forma::Matrix<float, 7, 64> b_nt;
  forma::Vector<float, 64> v;
  fill(a, 4);
  fill(b, 5);
  fill(b_nt, 6);
  fill(v, 7);
  const auto da = forma::to_device(a);
  const auto db = forma::to_device(b);
  const auto db_nt = forma::to_device(b_nt);
  const auto dv = forma::to_device(v);
  // Products of 64 terms in [-1, 1): measured against 1.
  expect_close(forma::matmul(da, db), forma::matmul(a, b), 1e-5, 1.0);
  expect_close(forma::matmul_nt(da, db_nt), forma::matmul_nt(a, b_nt), 1e-5, 1.0);
  expect_close(forma::matvec(da, dv), forma::matvec(a, v), 1e-5, 1.0);
  const auto dsum = forma::add(da, da);
  expect_close(dsum, forma::add(a, a), 0.0, 1e-30);
  auto dresidual = forma::to_device(a);
  dresidual += da;  // the residual add, in place
  expect_close(dresidual, a + a, 0.0, 1e-30);
}
