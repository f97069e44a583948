// tests/cuda/cuda_test.hpp — a tiny harness for the GPU tests (doctest is not built with nvcc).
//
// FORMA_CUDA_TEST(name) defines a test that needs a CUDA device; FORMA_CUDA_HOST_TEST(name) one
// that runs without a device. `forma_cuda_tests <name>` runs one: a device test on a machine
// without a usable device prints the reason and exits 77 (CTest: skipped). The CMake scan that
// registers the tests reads the macro names at the start of a line.
#pragma once

#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <forma/kernels/cuda/memory.cuh>

namespace forma_cuda_test {

template <class T>
using device_array = forma::Tensor<T, forma::extents<forma::dyn>, forma::cuda>;

template <class T>
device_array<T> upload(const std::vector<T>& values) {
  device_array<T> result(values.size());
  if (!values.empty()) {
    FORMA_CUDA_CHECK(cudaMemcpy(result.data(), values.data(), values.size() * sizeof(T),
                                cudaMemcpyHostToDevice));
  }
  return result;
}

template <class T>
std::vector<T> download(const device_array<T>& array) {
  std::vector<T> result(array.size());
  FORMA_CUDA_CHECK(cudaDeviceSynchronize());
  if (!result.empty()) {
    FORMA_CUDA_CHECK(cudaMemcpy(result.data(), array.data(), result.size() * sizeof(T),
                                cudaMemcpyDeviceToHost));
  }
  return result;
}

inline std::vector<float> uniform_values(std::size_t count, unsigned seed, float low = -1.0f,
                                         float high = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(low, high);
  std::vector<float> values(count);
  for (float& value : values) value = dist(rng);
  return values;
}

struct entry {
  std::function<void()> run;
  bool needs_device;
};

inline std::map<std::string, entry>& registry() {
  static std::map<std::string, entry> tests;
  return tests;
}

inline int& failures() {
  static int count = 0;
  return count;
}

inline bool add(const char* name, std::function<void()> run, bool needs_device) {
  registry()[name] = entry{std::move(run), needs_device};
  return true;
}

inline void fail(const char* file, int line, const std::string& what) {
  ++failures();
  std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what.c_str());
}

// |a − b| ≤ tolerance · max(|b|, scale): a relative bound, measured against `scale` where the
// expected value itself is near zero (a sum of terms of size `scale`).
inline bool close(double a, double b, double tolerance, double scale = 1e-30) {
  const double bound = tolerance * std::fmax(std::fabs(b), scale);
  return std::fabs(a - b) <= bound;
}

}  // namespace forma_cuda_test

#define FORMA_CUDA_TEST_DEFINE(name, needs_device)                                            \
  static void forma_cuda_test_##name();                                                       \
  [[maybe_unused]] static const bool forma_cuda_test_registered_##name =                      \
      ::forma_cuda_test::add(#name, forma_cuda_test_##name, needs_device);                    \
  static void forma_cuda_test_##name()
#define FORMA_CUDA_TEST(name) FORMA_CUDA_TEST_DEFINE(name, true)
#define FORMA_CUDA_HOST_TEST(name) FORMA_CUDA_TEST_DEFINE(name, false)

#define FORMA_EXPECT(condition)                                                               \
  do {                                                                                        \
    if (!(condition)) ::forma_cuda_test::fail(__FILE__, __LINE__, #condition);                \
  } while (false)

// Every element of got within tolerance of expected (relative, see close()); reports the first
// few that are not.
#define FORMA_EXPECT_ALL_CLOSE(got, expected, count, tolerance, scale)                         \
  do {                                                                                        \
    int shown_ = 0;                                                                           \
    for (std::size_t i_ = 0; i_ < (count); ++i_) {                                            \
      if (!::forma_cuda_test::close((got)[i_], (expected)[i_], (tolerance), (scale))) {        \
        if (shown_++ < 5) {                                                                   \
          ::forma_cuda_test::fail(__FILE__, __LINE__,                                         \
                                  std::string(#got "[") + std::to_string(i_) + "] = " +       \
                                      std::to_string((got)[i_]) + ", expected " +             \
                                      std::to_string((expected)[i_]));                        \
        }                                                                                     \
      }                                                                                       \
    }                                                                                         \
  } while (false)
