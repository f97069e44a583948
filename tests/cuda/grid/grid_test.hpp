// tests/cuda/grid/grid_test.hpp — runs a CUDA kernel body on the CPU grid runner twice (threads
// of each phase in forward and in reverse order: a body that depends on the order has a race on
// the GPU) and checks that both runs give the same bits.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <vector>

#include <doctest/doctest.h>

#include <forma/kernels/cuda/grid.hpp>

namespace forma::testing {

// Runs `body` on the grid after `reset()` (which restores its inputs and outputs), in both thread
// orders; returns the output of the forward run.
template <class Body, class Reset, class T>
std::vector<T> run_grid_both_orders(const Body& body, kernels::cuda::launch_shape shape,
                                    const T* output, std::size_t count, Reset reset) {
  reset();
  kernels::cuda::run_on_cpu_grid(body, shape, kernels::cuda::thread_order::forward);
  std::vector<T> forward(output, output + count);
  reset();
  kernels::cuda::run_on_cpu_grid(body, shape, kernels::cuda::thread_order::reverse);
  CHECK_MESSAGE(std::memcmp(forward.data(), output, count * sizeof(T)) == 0,
                "the body's result depends on the order its threads run in");
  return forward;
}

inline std::vector<float> uniform_values(std::size_t count, unsigned seed, float low = -1.0f,
                                         float high = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(low, high);
  std::vector<float> values(count);
  for (float& value : values) value = dist(rng);
  return values;
}

// The largest |got − want| / max(|want|, scale) over the arrays.
inline double max_relative_error(const float* got, const float* want, std::size_t count,
                                 double scale) {
  double worst = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const double error = std::fabs(static_cast<double>(got[i]) - static_cast<double>(want[i])) /
                         std::fmax(std::fabs(static_cast<double>(want[i])), scale);
    if (error > worst || error != error) worst = error;
  }
  return worst;
}

inline bool same_bits(const float* a, const float* b, std::size_t count) {
  return std::memcmp(a, b, count * sizeof(float)) == 0;
}

}  // namespace forma::testing
