// forma/train/optim.hpp — the optimizer steps, gradient clipping and learning-rate schedule of
// training, each as PyTorch defines it, on flat float arrays (one parameter tensor at a time).
//
//   adamw_update:    torch.optim.AdamW (foreach=False): p ← p − lr·wd·p (decoupled decay, first),
//                    m ← lerp(m, g, 1 − β1), v ← β2·v + (1 − β2)·g², with the step t counted from 1:
//                    p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps)
//   sgd_update:      torch.optim.SGD(momentum, dampening 0, nesterov False): g ← g + wd·p,
//                    b ← g on the first step, else μ·b + g; p ← p − lr·b
//   clip_grad_norm:  torch.nn.utils.clip_grad_norm_: the global L2 norm of every gradient; when it
//                    exceeds max_norm, every gradient is scaled by max_norm / (norm + 1e-6);
//                    returns the norm before clipping
//   lr_schedule:     lr·(s+1)/W for s < W, then constant lr, or cosine:
//                    min_lr + ½(1 + cos(π·(s − W)/(N − W)))·(lr − min_lr)  (min_lr for s ≥ N)
// Every loop is serial and in index order, and the norm is summed in double in a fixed order, so
// the results do not depend on the number of threads. The scalar factors are computed in double
// (as Python computes them for PyTorch) and applied in float.
#pragma once

#include <cmath>
#include <cstddef>
#include <span>

namespace forma::train {

struct AdamWOptions {
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.1f;  // applied to the tensors marked `decay` (matrices, embeddings)
};

struct SGDOptions {
  float momentum = 0.9f;
  float weight_decay = 0.0f;  // L2 added to the gradient (torch.optim.SGD), `decay` tensors only
};

// One AdamW step of one tensor. `step` is the step number counted from 1.
inline void adamw_update(std::span<float> p, std::span<const float> g, std::span<float> m,
                         std::span<float> v, long step, double lr, const AdamWOptions& o,
                         bool decay) noexcept {
  const double b1 = o.beta1, b2 = o.beta2;
  const double correction1 = 1.0 - std::pow(b1, static_cast<double>(step));
  const double correction2 = 1.0 - std::pow(b2, static_cast<double>(step));
  const auto shrink = static_cast<float>(1.0 - lr * (decay ? static_cast<double>(o.weight_decay) : 0.0));
  const auto step_size = static_cast<float>(lr / correction1);
  const auto root_correction2 = static_cast<float>(std::sqrt(correction2));
  const float one_minus_b1 = static_cast<float>(1.0 - b1), one_minus_b2 = static_cast<float>(1.0 - b2);
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (decay) p[i] *= shrink;
    m[i] += one_minus_b1 * (g[i] - m[i]);  // torch's lerp_(grad, 1 − β1)
    v[i] = v[i] * o.beta2 + one_minus_b2 * g[i] * g[i];
    const float denom = std::sqrt(v[i]) / root_correction2 + o.eps;
    p[i] -= step_size * (m[i] / denom);
  }
}

// One SGD-with-momentum step of one tensor; `first` marks the first step (the buffer is g).
inline void sgd_update(std::span<float> p, std::span<const float> g, std::span<float> buffer,
                       bool first, double lr, const SGDOptions& o, bool decay) noexcept {
  const float wd = decay ? o.weight_decay : 0.0f;
  const auto rate = static_cast<float>(lr);
  for (std::size_t i = 0; i < p.size(); ++i) {
    const float d = wd != 0.0f ? g[i] + wd * p[i] : g[i];
    buffer[i] = first || o.momentum == 0.0f ? d : o.momentum * buffer[i] + d;
    p[i] -= rate * buffer[i];
  }
}

// The global L2 norm of `grads` (all gradients, one contiguous array), summed in double in order.
inline double global_norm(std::span<const float> grads) noexcept {
  double sum = 0;
  for (const float x : grads) sum += static_cast<double>(x) * static_cast<double>(x);
  return std::sqrt(sum);
}

// Clips in place as torch.nn.utils.clip_grad_norm_; returns the norm before clipping.
inline float clip_grad_norm(std::span<float> grads, float max_norm) noexcept {
  const double norm = global_norm(grads);
  const double coefficient = static_cast<double>(max_norm) / (norm + 1e-6);
  if (coefficient < 1.0) {
    const auto scale = static_cast<float>(coefficient);
    for (float& x : grads) x *= scale;
  }
  return static_cast<float>(norm);
}

struct LrSchedule {
  double lr = 1e-3;
  double min_lr = 0.0;
  std::size_t warmup = 0;  // W: linear warmup steps
  std::size_t steps = 0;   // N: where the cosine reaches min_lr
  bool cosine = true;      // false: constant lr after the warmup
};

// The learning rate of step s (counted from 0).
inline double lr_schedule(const LrSchedule& s, std::size_t step) noexcept {
  if (step < s.warmup) {
    return s.lr * static_cast<double>(step + 1) / static_cast<double>(s.warmup);
  }
  if (!s.cosine) return s.lr;
  if (step >= s.steps || s.steps <= s.warmup) return s.min_lr;
  const double ratio =
      static_cast<double>(step - s.warmup) / static_cast<double>(s.steps - s.warmup);
  constexpr double pi = 3.14159265358979323846;
  return s.min_lr + 0.5 * (1.0 + std::cos(pi * ratio)) * (s.lr - s.min_lr);
}

}  // namespace forma::train
