// The backward ops against PyTorch autograd (tests/data/golden/backward/, made by
// scripts/golden/make_backward_golden.py): inputs in float32, PyTorch's gradients in float64.
// Each op runs in float (≤ 1e-4 relative to PyTorch, the training tolerance) and in double (which
// must agree with PyTorch's float64 to ≤ 1e-9: the same function, not merely a close one).
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <forma/forma.hpp>
#include <forma/io/npy.hpp>

#include "gradcheck.hpp"
#include "test_support.hpp"

using gradcheck::DTensor;
using gradcheck::values;

namespace {

constexpr double f32_vs_torch = 1e-4;
constexpr double f64_vs_torch = 1e-9;

template <class T, std::size_t Rank>
DTensor<T, Rank> load(const std::string& fixture, const std::string& name) {
  const std::string path = std::string(FORMA_TEST_DATA_DIR) + "/golden/backward/" + fixture + "/" + name + ".npy";
  // Inputs are float32 files; the double runs widen them (exactly) on load.
  auto loaded = forma::io::load_npy<DTensor<T, Rank>>(path, {.convert = true});
  if (!loaded) FAIL(forma::testing::error_text(loaded));
  return std::move(loaded).value();
}

std::vector<std::int32_t> load_ids(const std::string& fixture, const std::string& name) {
  const auto ids = load<std::int32_t, 1>(fixture, name);
  return {ids.begin(), ids.end()};
}

// Checks one gradient of one run against PyTorch's and reports it.
template <class T>
void check(const std::string& op, const std::string& fixture, const std::vector<double>& got,
           const std::string& expected_name, std::size_t rank) {
  std::vector<double> want;
  if (rank == 1) want = values(load<double, 1>(fixture, expected_name));
  if (rank == 2) want = values(load<double, 2>(fixture, expected_name));
  if (rank == 3) want = values(load<double, 3>(fixture, expected_name));
  const double e = gradcheck::relative_error(got, want);
  const bool single = std::is_same_v<T, float>;
  gradcheck::report(op, fixture, single ? "f32 vs PyTorch" : "f64 vs PyTorch", e);
  INFO(op, " ", fixture, (single ? " f32" : " f64"), ": relative error vs PyTorch ", e);
  CHECK(e <= (single ? f32_vs_torch : f64_vs_torch));
}

template <class T>
void linear_case(const std::string& fixture) {
  const auto x = load<T, 2>(fixture, "x");
  const auto w = load<T, 2>(fixture, "w");
  const auto dy = load<T, 2>(fixture, "dy");
  DTensor<T, 2> dx{x.extents()}, dw{w.extents()};
  DTensor<T, 1> db{forma::dextents<1>(w.extent(0))};
  forma::linear_backward(x, w, dy, dx, dw, db);
  check<T>("linear_backward dx", fixture, values(dx), "dx", 2);
  check<T>("linear_backward dw", fixture, values(dw), "dw", 2);
  check<T>("linear_backward db", fixture, values(db), "db", 1);
}

template <class T>
void embedding_cases() {
  const auto ids = load_ids("embedding/tokens", "ids");
  const auto dy = load<T, 2>("embedding/tokens", "dy");
  DTensor<T, 2> dtable{forma::dextents<2>(7, dy.extent(1))};
  REQUIRE(forma::embedding_backward(ids, dy, dtable));
  check<T>("embedding_backward", "embedding/tokens", values(dtable), "dtable", 2);
  const auto first = load_ids("embedding/positions", "first");
  const auto dpos = load<T, 2>("embedding/positions", "dy");
  DTensor<T, 2> dwpe{forma::dextents<2>(8, dpos.extent(1))};
  REQUIRE(forma::position_embedding_backward(static_cast<std::size_t>(first[0]), dpos, dwpe));
  check<T>("position_embedding_backward", "embedding/positions", values(dwpe), "dtable", 2);
}

template <class T>
void norm_cases() {
  for (const std::string width : {"d16", "d72"}) {
    const std::string rms = "rmsnorm/" + width, ln = "layernorm/" + width;
    {
      const auto x = load<T, 2>(rms, "x");
      const auto w = load<T, 1>(rms, "weight");
      const auto dy = load<T, 2>(rms, "dy");
      DTensor<T, 2> dx{x.extents()};
      DTensor<T, 1> dw{w.extents()};
      forma::rmsnorm_backward(x, w, dy, dx, dw, T(1e-5));
      check<T>("rmsnorm_backward dx", rms, values(dx), "dx", 2);
      check<T>("rmsnorm_backward dweight", rms, values(dw), "dweight", 1);
    }
    const auto x = load<T, 2>(ln, "x");
    const auto w = load<T, 1>(ln, "weight");
    const auto dy = load<T, 2>(ln, "dy");
    DTensor<T, 2> dx{x.extents()};
    DTensor<T, 1> dw{w.extents()}, db{w.extents()};
    forma::layernorm_backward(x, w, dy, dx, dw, db, T(1e-5));
    check<T>("layernorm_backward dx", ln, values(dx), "dx", 2);
    check<T>("layernorm_backward dweight", ln, values(dw), "dweight", 1);
    check<T>("layernorm_backward dbias", ln, values(db), "dbias", 1);
  }
}

template <class T>
void rope_cases() {
  {
    auto d = load<T, 3>("rope/interleaved", "dy");
    forma::rope_backward<forma::rope_layout::interleaved>(d, static_cast<std::size_t>(load_ids("rope/interleaved", "first")[0]));
    check<T>("rope_backward interleaved", "rope/interleaved", values(d), "dx", 3);
  }
  auto d = load<T, 3>("rope/half", "dy");
  forma::rope_backward<forma::rope_layout::half>(d, static_cast<std::size_t>(load_ids("rope/half", "first")[0]));
  check<T>("rope_backward half", "rope/half", values(d), "dx", 3);
}

template <class T>
void softmax_activation_cases() {
  const auto y = load<T, 2>("softmax", "y");
  const auto dy = load<T, 2>("softmax", "dy");
  check<T>("softmax_backward", "softmax", values(forma::softmax_backward(y, dy)), "dx", 2);
  const auto x = load<T, 1>("activation", "x");
  const auto g = load<T, 1>("activation", "dy");
  check<T>("silu_backward", "activation", values(forma::silu_backward(x, g)), "d_silu", 1);
  check<T>("gelu_backward", "activation", values(forma::gelu_backward(x, g)), "d_gelu", 1);
  check<T>("gelu_tanh_backward", "activation", values(forma::gelu_tanh_backward(x, g)), "d_gelu_tanh", 1);
  const auto gate = load<T, 2>("activation", "gate");
  const auto up = load<T, 2>("activation", "up");
  const auto dswiglu = load<T, 2>("activation", "dswiglu");
  DTensor<T, 2> dgate{gate.extents()}, dup{gate.extents()};
  forma::swiglu_backward(gate, up, dswiglu, dgate, dup);
  check<T>("swiglu_backward dgate", "activation", values(dgate), "dgate", 2);
  check<T>("swiglu_backward dup", "activation", values(dup), "dup", 2);
}

template <class T>
void attention_cases() {
  for (const std::string name : {"mha_t1", "gqa", "mqa", "mha"}) {
    const std::string fixture = "attention/" + name;
    const auto q = load<T, 3>(fixture, "q");
    const auto k = load<T, 3>(fixture, "k");
    const auto v = load<T, 3>(fixture, "v");
    const auto d_o = load<T, 3>(fixture, "do");
    DTensor<T, 3> o{q.extents()}, dq{q.extents()}, dk{k.extents()}, dv{v.extents()};
    DTensor<T, 2> lse{forma::dextents<2>(q.extent(0), q.extent(1))};
    forma::attention_forward_lse(q, k, v, o, lse);
    forma::attention_backward(q, k, v, o, lse, d_o, dq, dk, dv);
    check<T>("attention_forward_lse o", fixture, values(o), "o", 3);
    check<T>("attention_forward_lse lse", fixture, values(lse), "lse", 2);
    check<T>("attention_backward dq", fixture, values(dq), "dq", 3);
    check<T>("attention_backward dk", fixture, values(dk), "dk", 3);
    check<T>("attention_backward dv", fixture, values(dv), "dv", 3);
  }
}

template <class T>
void cross_entropy_case() {
  const auto logits = load<T, 2>("cross_entropy", "logits");
  const auto targets = load_ids("cross_entropy", "targets");
  DTensor<T, 2> d{logits.extents()};
  const auto loss = forma::cross_entropy_backward(logits, targets, d);
  REQUIRE(loss);
  check<T>("cross_entropy_backward loss", "cross_entropy", {static_cast<double>(*loss)}, "loss", 1);
  check<T>("cross_entropy_backward dlogits", "cross_entropy", values(d), "dlogits", 2);
}

}  // namespace

TEST_CASE_TEMPLATE("golden backward: linear against PyTorch autograd, T = 1 and T = 4", T, float, double) {
  linear_case<T>("linear/t1");
  linear_case<T>("linear/t4");
}

TEST_CASE_TEMPLATE("golden backward: embedding and learned positions against PyTorch autograd", T, float, double) {
  embedding_cases<T>();
}

TEST_CASE_TEMPLATE("golden backward: rmsnorm and layernorm against PyTorch autograd", T, float, double) {
  norm_cases<T>();
}

TEST_CASE_TEMPLATE("golden backward: rope in both layouts against Meta and Hugging Face RoPE", T, float, double) {
  rope_cases<T>();
}

TEST_CASE_TEMPLATE("golden backward: softmax, silu, gelu, gelu_tanh, swiglu against PyTorch autograd", T, float, double) {
  softmax_activation_cases<T>();
}

TEST_CASE_TEMPLATE("golden backward: attention MHA, GQA, MQA against scaled_dot_product_attention", T, float, double) {
  attention_cases<T>();
}

TEST_CASE_TEMPLATE("golden backward: cross_entropy with an ignored row against F.cross_entropy", T, float, double) {
  cross_entropy_case<T>();
}
