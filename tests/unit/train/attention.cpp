// Gradient checks: attention_forward_lse and attention_backward (causal, MHA / GQA / MQA, T = 1
// and T > 1) — dq, dk, dv against finite differences of a naive double attention, in float against
// double; the forward's output and log-sum-exp against the naive one and forma::attention.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <forma/forma.hpp>
#include <forma/ops/attention_backward.hpp>

#include "gradcheck.hpp"

using gradcheck::DTensor;
using gradcheck::tensor;
using gradcheck::values;

namespace {

struct Shape {
  std::size_t T, H, KVH, Dh;
  std::string text() const {
    return "T " + std::to_string(T) + ", H " + std::to_string(H) + ", KVH " +
           std::to_string(KVH) + ", Dh " + std::to_string(Dh);
  }
};

const Shape shapes[] = {
    {1, 2, 2, 4},  // MHA, one position
    {1, 4, 1, 8},  // MQA, one position
    {4, 3, 3, 6},  // MHA
    {5, 4, 2, 8},  // GQA
    {6, 4, 1, 8},  // MQA
};

// The textbook causal attention in double: every score of a row, softmax, weighted sum; also each
// row's log-sum-exp.
std::vector<double> naive_attention(const std::vector<double>& q, const std::vector<double>& k,
                                    const std::vector<double>& v, const Shape& s,
                                    std::vector<double>* lse = nullptr) {
  std::vector<double> o(s.T * s.H * s.Dh, 0.0);
  if (lse != nullptr) lse->assign(s.T * s.H, 0.0);
  const std::size_t group = s.H / s.KVH;
  for (std::size_t t = 0; t < s.T; ++t) {
    for (std::size_t h = 0; h < s.H; ++h) {
      const std::size_t g = h / group;
      std::vector<double> scores(t + 1);
      for (std::size_t j = 0; j <= t; ++j) {
        double dot = 0;
        for (std::size_t i = 0; i < s.Dh; ++i) {
          dot += q[(t * s.H + h) * s.Dh + i] * k[(j * s.KVH + g) * s.Dh + i];
        }
        scores[j] = dot / std::sqrt(static_cast<double>(s.Dh));
      }
      const double m = *std::max_element(scores.begin(), scores.end());
      double sum = 0;
      for (const double x : scores) sum += std::exp(x - m);
      if (lse != nullptr) (*lse)[t * s.H + h] = m + std::log(sum);
      for (std::size_t j = 0; j <= t; ++j) {
        const double p = std::exp(scores[j] - m) / sum;
        for (std::size_t i = 0; i < s.Dh; ++i) {
          o[(t * s.H + h) * s.Dh + i] += p * v[(j * s.KVH + g) * s.Dh + i];
        }
      }
    }
  }
  return o;
}

template <class T>
struct Run {
  std::vector<double> o, lse, dq, dk, dv;
};

template <class T>
Run<T> run(const std::vector<double>& q, const std::vector<double>& k, const std::vector<double>& v,
           const std::vector<double>& d_o, const Shape& s) {
  const auto Q = tensor<T, 3>(q, {s.T, s.H, s.Dh});
  const auto K = tensor<T, 3>(k, {s.T, s.KVH, s.Dh});
  const auto V = tensor<T, 3>(v, {s.T, s.KVH, s.Dh});
  const auto DO = tensor<T, 3>(d_o, {s.T, s.H, s.Dh});
  DTensor<T, 3> o{forma::dextents<3>(s.T, s.H, s.Dh)}, dq{forma::dextents<3>(s.T, s.H, s.Dh)};
  DTensor<T, 3> dk{forma::dextents<3>(s.T, s.KVH, s.Dh)}, dv{forma::dextents<3>(s.T, s.KVH, s.Dh)};
  DTensor<T, 2> lse{forma::dextents<2>(s.T, s.H)};
  forma::fill(dk, T(5));  // overwritten, not accumulated
  forma::attention_forward_lse(Q, K, V, o, lse);
  forma::attention_backward(Q, K, V, o, lse, DO, dq, dk, dv);
  return {values(o), values(lse), values(dq), values(dk), values(dv)};
}

}  // namespace

TEST_CASE("attention_forward_lse: the output and log-sum-exp of the naive attention, and forma::attention's output") {
  for (const Shape& s : shapes) {
    const auto q = gradcheck::random_values(s.T * s.H * s.Dh, 141, -2.0, 2.0);
    const auto k = gradcheck::random_values(s.T * s.KVH * s.Dh, 142, -2.0, 2.0);
    const auto v = gradcheck::random_values(s.T * s.KVH * s.Dh, 143);
    const auto d_o = gradcheck::random_values(s.T * s.H * s.Dh, 144);
    std::vector<double> lse;
    const auto o = naive_attention(q, k, v, s, &lse);
    const auto r64 = run<double>(q, k, v, d_o, s);
    const auto r32 = run<float>(q, k, v, d_o, s);
    INFO(s.text());
    CHECK(gradcheck::relative_error(r64.o, o) <= 1e-13);
    CHECK(gradcheck::relative_error(r64.lse, lse) <= 1e-13);
    CHECK(gradcheck::relative_error(r32.o, o) <= 1e-6);
    CHECK(gradcheck::relative_error(r32.lse, lse) <= 1e-6);
    // forma's inference attention (llama2.c's arithmetic) agrees in float.
    DTensor<float, 3> out{forma::dextents<3>(s.T, s.H, s.Dh)};
    DTensor<float, 2> scores{forma::dextents<2>(s.H, s.T)};
    forma::attention(tensor<float, 3>(q, {s.T, s.H, s.Dh}), tensor<float, 3>(k, {s.T, s.KVH, s.Dh}),
                     tensor<float, 3>(v, {s.T, s.KVH, s.Dh}), s.T, scores, out);
    CHECK(gradcheck::relative_error(values(out), r32.o) <= 1e-6);
  }
}

TEST_CASE("attention_backward: dq, dk, dv against finite differences, MHA / GQA / MQA, T = 1 and T > 1") {
  for (const Shape& s : shapes) {
    const auto q = gradcheck::random_values(s.T * s.H * s.Dh, 151, -2.0, 2.0);
    const auto k = gradcheck::random_values(s.T * s.KVH * s.Dh, 152, -2.0, 2.0);
    const auto v = gradcheck::random_values(s.T * s.KVH * s.Dh, 153);
    const auto d_o = gradcheck::random_values(s.T * s.H * s.Dh, 154);
    const auto r64 = run<double>(q, k, v, d_o, s);
    const auto r32 = run<float>(q, k, v, d_o, s);
    const auto loss = [&](const std::vector<double>& qv, const std::vector<double>& kv,
                          const std::vector<double>& vv) {
      return gradcheck::dot(naive_attention(qv, kv, vv, s), d_o);
    };
    const std::string shape = s.text();
    gradcheck::check_fd("attention_backward dq", shape, r64.dq, gradcheck::numeric_gradient(q, [&](const auto& x) { return loss(x, k, v); }));
    gradcheck::check_fd("attention_backward dk", shape, r64.dk, gradcheck::numeric_gradient(k, [&](const auto& x) { return loss(q, x, v); }));
    gradcheck::check_fd("attention_backward dv", shape, r64.dv, gradcheck::numeric_gradient(v, [&](const auto& x) { return loss(q, k, x); }));
    gradcheck::check_f32("attention_backward dq", shape, r32.dq, r64.dq);
    gradcheck::check_f32("attention_backward dk", shape, r32.dk, r64.dk);
    gradcheck::check_f32("attention_backward dv", shape, r32.dv, r64.dv);
  }
}

TEST_CASE("attention_backward: static shapes agree with dynamic ones bit for bit") {
  forma::Tensor<float, forma::extents<5, 4, 8>> q, o, d_o, dq;
  forma::Tensor<float, forma::extents<5, 2, 8>> k, v, dk, dv;
  forma::Matrix<float, 5, 4> lse;
  const auto qv = gradcheck::random_values(q.size(), 161), kv = gradcheck::random_values(k.size(), 162);
  const auto vv = gradcheck::random_values(v.size(), 163), dov = gradcheck::random_values(d_o.size(), 164);
  std::copy(qv.begin(), qv.end(), q.begin());
  std::copy(kv.begin(), kv.end(), k.begin());
  std::copy(vv.begin(), vv.end(), v.begin());
  std::copy(dov.begin(), dov.end(), d_o.begin());
  forma::attention_forward_lse(q, k, v, o, lse);
  forma::attention_backward(q, k, v, o, lse, d_o, dq, dk, dv);
  const auto dynamic = run<float>(qv, kv, vv, dov, Shape{5, 4, 2, 8});
  CHECK(values(o) == dynamic.o);
  CHECK(values(dq) == dynamic.dq);
  CHECK(values(dk) == dynamic.dk);
  CHECK(values(dv) == dynamic.dv);
}

TEST_CASE("attention_backward: run-time rule failures are shape_errors naming the rule") {
  DTensor<float, 3> q{forma::dextents<3>(4, 6, 8)}, k{forma::dextents<3>(4, 4, 8)};
  DTensor<float, 2> lse{forma::dextents<2>(4, 6)};
  DTensor<float, 3> dq{forma::dextents<3>(4, 6, 8)};
  CHECK_THROWS_WITH_AS(forma::attention_backward(q, k, k, q, lse, q, dq, k, k),
                       doctest::Contains("attention_backward: kv heads must divide heads"),
                       forma::shape_error);
  DTensor<float, 3> k3{forma::dextents<3>(3, 2, 8)};
  CHECK_THROWS_WITH_AS(forma::attention_forward_lse(q, k3, k3, dq, lse),
                       doctest::Contains("attention_forward_lse: k must have one position per query"),
                       forma::shape_error);
  DTensor<float, 3> k2{forma::dextents<3>(4, 2, 8)}, bad_dk{forma::dextents<3>(4, 3, 8)};
  CHECK_THROWS_WITH_AS(forma::attention_backward(q, k2, k2, q, lse, q, dq, bad_dk, k2),
                       doctest::Contains("attention_backward: dk must have the shape of k"),
                       forma::shape_error);
}
