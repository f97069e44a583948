// tests/unit/ops/transformer_reference.hpp — naive double-precision references for the transformer
// ops (textbook formulas, written independently of forma's kernels), used by the ops and nn unit
// suites. Tensors are flat row-major std::vector<double>.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include <forma/core.hpp>

namespace forma::testing::reference {

inline std::vector<double> softmax(const std::vector<double>& x) {
  const double m = *std::max_element(x.begin(), x.end());
  std::vector<double> e(x.size());
  double sum = 0;
  for (std::size_t i = 0; i < x.size(); ++i) sum += e[i] = std::exp(x[i] - m);
  for (double& v : e) v /= sum;
  return e;
}

// Causal attention: q (T, H, Dh) at positions first .. first+T−1; keys, values (length, KVH, Dh).
inline std::vector<double> attention(const std::vector<double>& q, const std::vector<double>& keys,
                                     const std::vector<double>& values, std::size_t T,
                                     std::size_t H, std::size_t KVH, std::size_t Dh,
                                     std::size_t first) {
  std::vector<double> out(T * H * Dh, 0.0);
  const std::size_t group = H / KVH;
  for (std::size_t t = 0; t < T; ++t) {
    const std::size_t visible = first + t + 1;
    for (std::size_t h = 0; h < H; ++h) {
      const std::size_t kvh = h / group;
      std::vector<double> scores(visible);
      for (std::size_t j = 0; j < visible; ++j) {
        double s = 0;
        for (std::size_t i = 0; i < Dh; ++i) {
          s += q[(t * H + h) * Dh + i] * keys[(j * KVH + kvh) * Dh + i];
        }
        scores[j] = s / std::sqrt(static_cast<double>(Dh));
      }
      const auto weights = softmax(scores);
      for (std::size_t j = 0; j < visible; ++j) {
        for (std::size_t i = 0; i < Dh; ++i) {
          out[(t * H + h) * Dh + i] += weights[j] * values[(j * KVH + kvh) * Dh + i];
        }
      }
    }
  }
  return out;
}

// RoPE of one row (H heads of Dh) at `position`; interleaved pairs (2i, 2i+1) or halves (i, i+Dh/2).
inline std::vector<double> rope(const std::vector<double>& x, std::size_t H, std::size_t Dh,
                                std::size_t position, double theta, bool interleaved) {
  std::vector<double> out = x;
  for (std::size_t h = 0; h < H; ++h) {
    for (std::size_t i = 0; i < Dh / 2; ++i) {
      const double angle =
          static_cast<double>(position) * std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(Dh));
      const std::size_t a = h * Dh + (interleaved ? 2 * i : i);
      const std::size_t b = h * Dh + (interleaved ? 2 * i + 1 : i + Dh / 2);
      out[a] = x[a] * std::cos(angle) - x[b] * std::sin(angle);
      out[b] = x[a] * std::sin(angle) + x[b] * std::cos(angle);
    }
  }
  return out;
}

inline std::vector<double> rmsnorm(const std::vector<double>& x, const std::vector<double>& w,
                                   double eps) {
  const std::size_t n = w.size();
  std::vector<double> out(x.size());
  for (std::size_t r = 0; r < x.size() / n; ++r) {
    double ss = 0;
    for (std::size_t j = 0; j < n; ++j) ss += x[r * n + j] * x[r * n + j];
    const double scale = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
    for (std::size_t j = 0; j < n; ++j) out[r * n + j] = w[j] * x[r * n + j] * scale;
  }
  return out;
}

inline std::vector<double> layernorm(const std::vector<double>& x, const std::vector<double>& w,
                                     const std::vector<double>& b, double eps) {
  const std::size_t n = w.size();
  std::vector<double> out(x.size());
  for (std::size_t r = 0; r < x.size() / n; ++r) {
    double mean = 0, var = 0;
    for (std::size_t j = 0; j < n; ++j) mean += x[r * n + j];
    mean /= static_cast<double>(n);
    for (std::size_t j = 0; j < n; ++j) var += (x[r * n + j] - mean) * (x[r * n + j] - mean);
    var /= static_cast<double>(n);
    for (std::size_t j = 0; j < n; ++j) {
      out[r * n + j] = (x[r * n + j] - mean) / std::sqrt(var + eps) * w[j] + b[j];
    }
  }
  return out;
}

// y (T, Out) = x (T, In) · Wᵀ + b, W (Out, In).
inline std::vector<double> linear(const std::vector<double>& x, const std::vector<double>& w,
                                  const std::vector<double>& b, std::size_t in, std::size_t out) {
  const std::size_t rows = x.size() / in;
  std::vector<double> y(rows * out);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t o = 0; o < out; ++o) {
      double s = b.empty() ? 0.0 : b[o];
      for (std::size_t i = 0; i < in; ++i) s += x[r * in + i] * w[o * in + i];
      y[r * out + o] = s;
    }
  }
  return y;
}

inline double silu(double x) { return x / (1.0 + std::exp(-x)); }
inline double gelu_erf(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
inline double gelu_tanh(double x) {
  const double pi = 3.14159265358979323846;
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / pi) * (x + 0.044715 * x * x * x)));
}

// A flat copy in double of any host tensor's elements (memory order).
template <class X>
std::vector<double> to_doubles(const X& x) {
  std::vector<double> out;
  out.reserve(x.size());
  for (const auto& v : forma::view(x)) out.push_back(static_cast<double>(v));
  return out;
}

// The largest |a − b| between a tensor and a flat double vector.
template <class X>
double max_abs_diff(const X& x, const std::vector<double>& expected) {
  double worst = 0;
  std::size_t i = 0;
  for (const auto& v : forma::view(x)) {
    const double d = std::fabs(static_cast<double>(v) - expected[i++]);
    if (!(d <= worst)) worst = d;  // NaN wins
  }
  return worst;
}

}  // namespace forma::testing::reference
