// Golden tests: softmax, RMSNorm, LayerNorm, activations, RoPE, embedding, residual add and
// cross-entropy against PyTorch (fixtures: scripts/golden/make_golden.py).
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <forma/forma.hpp>

#include "golden_support.hpp"

using forma::dyn;
using forma::extents;
using forma::Matrix;
using forma::Tensor;
using forma::Vector;
namespace nn = forma::nn;

TEST_CASE("softmax matches torch.softmax, [1e4, -1e4, 0] is exact, causal and valid-length masks") {
  const auto x = golden::load<Matrix<float, 4, 7>>("softmax", "x");
  golden::check("softmax", "plain", forma::softmax(x), golden::load_dyn<2>("softmax", "y"), 1e-5);

  const auto edge = golden::load<Vector<float, 3>>("softmax", "edge_x");
  const auto edge_y = forma::softmax(edge);
  const auto torch_edge = golden::load_dyn<1>("softmax", "edge_y");
  for (std::size_t i = 0; i < 3; ++i) CHECK(std::isfinite(edge_y(i)));
  CHECK(edge_y(0) == 1.0f);
  CHECK(edge_y(1) == 0.0f);
  CHECK(edge_y(2) == 0.0f);
  golden::check_exact("softmax", "[1e4, -1e4, 0]", edge_y, torch_edge);

  const auto causal_x = golden::load_dyn<2>("softmax", "causal_x");
  Matrix<float, dyn, dyn> causal(causal_x.extent(0), causal_x.extent(1));
  forma::softmax_causal(causal_x, causal, 3);
  golden::check("softmax", "causal, offset 3", causal, golden::load_dyn<2>("softmax", "causal_y"), 1e-5);

  const auto valid_x = golden::load_dyn<2>("softmax", "valid_x");
  Matrix<float, dyn, dyn> valid(valid_x.extent(0), valid_x.extent(1));
  forma::softmax_valid(valid_x, valid, 4);
  golden::check("softmax", "4 valid", valid, golden::load_dyn<2>("softmax", "valid_y"), 1e-5);
}

TEST_CASE("RMSNorm matches the Llama RMSNorm in torch, RMSNorm of zeros is zeros") {
  for (const std::string name : {"d72", "d64"}) {
    const std::string fixture = "rmsnorm/" + name;
    const auto x = golden::load_dyn<2>(fixture, "x");
    const auto w = golden::load_dyn<1>(fixture, "weight");
    const auto y = golden::load_dyn<2>(fixture, "y");
    golden::check("rmsnorm", name, forma::rmsnorm(x, w), y, 1e-5);
    const nn::RMSNorm<dyn> layer(w);
    golden::check("nn::RMSNorm", name, layer.forward(x), y, 1e-5);
  }
  const auto zeros = golden::load<Matrix<float, 2, 64>>("rmsnorm/zeros", "x");
  const auto w = golden::load<Vector<float, 64>>("rmsnorm/zeros", "weight");
  const auto y = forma::rmsnorm(zeros, w);
  const auto torch_y = golden::load_dyn<2>("rmsnorm/zeros", "y");
  for (std::size_t i = 0; i < y.size(); ++i) {
    CHECK(y.data()[i] == 0.0f);
    CHECK(torch_y.data()[i] == 0.0f);
  }
  golden::check_exact("rmsnorm", "zeros", y, torch_y);
}

TEST_CASE("LayerNorm matches torch.nn.LayerNorm") {
  for (const std::string name : {"d72", "d172"}) {
    const std::string fixture = "layernorm/" + name;
    const auto x = golden::load_dyn<2>(fixture, "x");
    const auto w = golden::load_dyn<1>(fixture, "weight");
    const auto b = golden::load_dyn<1>(fixture, "bias");
    const auto y = golden::load_dyn<2>(fixture, "y");
    golden::check("layernorm", name, forma::layernorm(x, w, b), y, 1e-5);
    const nn::LayerNorm<dyn> layer(w, b);
    golden::check("nn::LayerNorm", name, layer.forward(x), y, 1e-5);
  }
}

TEST_CASE("GELU (erf and tanh), SiLU and SwiGLU match torch.nn.functional") {
  const auto x = golden::load<Vector<float, 1000>>("activation", "x");
  golden::check("gelu (erf)", "x in [-8, 8]", forma::gelu(x), golden::load_dyn<1>("activation", "gelu"), 1e-5);
  golden::check("gelu_tanh", "x in [-8, 8]", forma::gelu_tanh(x),
                golden::load_dyn<1>("activation", "gelu_tanh"), 1e-5);
  golden::check("silu", "x in [-8, 8]", forma::silu(x), golden::load_dyn<1>("activation", "silu"), 1e-5);
  const auto gate = golden::load<Matrix<float, 3, 172>>("activation", "gate");
  const auto up = golden::load<Matrix<float, 3, 172>>("activation", "up");
  golden::check("swiglu", "hidden 172", forma::swiglu(gate, up),
                golden::load_dyn<2>("activation", "swiglu"), 1e-5);
}

TEST_CASE("RoPE matches Meta's complex rotation (interleaved) and Hugging Face's rotate_half (half)") {
  for (const std::string name : {"small", "theta500k", "start0", "far"}) {
    const std::string fixture = "rope/" + name;
    const auto x = golden::load<Tensor<float, forma::dextents<3>>>(fixture, "x");
    const std::size_t first = static_cast<std::size_t>(golden::load_ids(fixture, "first")[0]);
    const float theta = golden::load_dyn<1>(fixture, "theta")(0);
    auto interleaved = x, half = x;
    forma::rope<forma::rope_layout::interleaved>(interleaved, first, theta);
    forma::rope<forma::rope_layout::half>(half, first, theta);
    const auto torch_interleaved = golden::load_dyn<3>(fixture, "interleaved");
    const auto torch_half = golden::load_dyn<3>(fixture, "half");
    const std::string detail = name + ", positions from " + std::to_string(first) + ", theta " +
                               std::to_string(static_cast<long>(theta));
    golden::check("rope interleaved", detail, interleaved, torch_interleaved, 1e-5);
    golden::check("rope half", detail, half, torch_half, 1e-5);
    if (first == 0) {  // position 0 is the identity, in both and in PyTorch
      const std::size_t row = x.extent(1) * x.extent(2);
      CHECK(std::memcmp(interleaved.data(), x.data(), row * sizeof(float)) == 0);
      CHECK(std::memcmp(half.data(), x.data(), row * sizeof(float)) == 0);
      CHECK(std::memcmp(torch_interleaved.data(), x.data(), row * sizeof(float)) == 0);
      CHECK(std::memcmp(torch_half.data(), x.data(), row * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("embedding matches torch.nn.Embedding exactly") {
  const auto table = golden::load<Matrix<float, 50, 72>>("embedding", "table");
  const auto ids = golden::load_ids("embedding", "ids");
  Matrix<float, dyn, 72> rows(ids.size());
  forma::embedding(table, ids, rows).value();
  const auto expected = golden::load_dyn<2>("embedding", "y");
  golden::check_exact("embedding", "vocab 50", rows, expected);
  const nn::Embedding<50, 72> layer(table);
  Matrix<float, dyn, 72> again(ids.size());
  layer.forward(ids, again).value();
  golden::check_exact("nn::Embedding", "vocab 50", again, expected);
}

TEST_CASE("residual_add matches torch.add exactly") {
  const auto stream = golden::load<Matrix<float, 5, 72>>("residual", "stream");
  const auto branch = golden::load<Matrix<float, 5, 72>>("residual", "branch");
  const auto expected = golden::load_dyn<2>("residual", "y");
  Matrix<float, 5, 72> out;
  forma::residual_add(stream, branch, out);
  golden::check_exact("residual_add", "out = stream + branch", out, expected);
  auto in_place = golden::load_dyn<2>("residual", "stream");
  forma::residual_add(in_place, golden::load_dyn<2>("residual", "branch"));
  golden::check_exact("residual_add", "stream += branch", in_place, expected);
}

TEST_CASE("cross_entropy matches F.cross_entropy (mean and per row)") {
  const auto logits = golden::load<Matrix<float, 6, 50>>("cross_entropy", "logits");
  const auto targets = golden::load_ids("cross_entropy", "targets");
  Vector<float, 6> losses;
  forma::cross_entropy(logits, targets, losses).value();
  golden::check("cross_entropy", "per row", losses, golden::load_dyn<1>("cross_entropy", "losses"), 1e-5);
  Vector<float, 1> mean;
  mean(0) = forma::cross_entropy(logits, targets).value();
  golden::check("cross_entropy", "mean", mean, golden::load_dyn<1>("cross_entropy", "mean"), 1e-5);
}
