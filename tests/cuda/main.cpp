// forma_cuda_tests <name>: runs one GPU test (see cuda_test.hpp); --list prints them all.
#include <cstdio>
#include <cstring>
#include <exception>

#include <forma/kernels/cuda/check.cuh>

#include "cuda_test.hpp"

int main(int argc, char** argv) {
  auto& tests = forma_cuda_test::registry();
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <test name> | --list\n", argv[0]);
    return 2;
  }
  if (std::strcmp(argv[1], "--list") == 0) {
    for (const auto& [name, test] : tests) std::printf("%s\n", name.c_str());
    return 0;
  }
  const auto found = tests.find(argv[1]);
  if (found == tests.end()) {
    std::fprintf(stderr, "no test named '%s'\n", argv[1]);
    return 2;
  }
  if (found->second.needs_device) {
    if (auto ready = forma::kernels::cuda::require_device(); !ready) {
      std::printf("SKIPPED (needs a CUDA device): %s\n", ready.error().to_string().c_str());
      return 77;
    }
  }
  try {
    found->second.run();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "FAILED: exception: %s\n", error.what());
    return 1;
  }
  if (forma_cuda_test::failures() != 0) {
    std::fprintf(stderr, "%s: %d check(s) failed\n", argv[1], forma_cuda_test::failures());
    return 1;
  }
  std::printf("%s: passed\n", argv[1]);
  return 0;
}
