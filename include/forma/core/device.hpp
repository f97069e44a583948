// forma/core/device.hpp — where a tensor's memory lives, as part of its type.
//
// `Tensor<float, E, host>` and `Tensor<float, E, cuda>` are different types, so an op that mixes
// them fails to compile; copies between devices are explicit calls.
#pragma once

#include <string_view>
#include <type_traits>

namespace forma {

// Ordinary CPU memory.
struct host {
  static constexpr std::string_view name = "host";
};

// CUDA device memory (forma/kernels/cuda/ provides its allocator and kernels under nvcc).
struct cuda {
  static constexpr std::string_view name = "cuda";
};

template <class D>
concept device = std::is_same_v<D, host> || std::is_same_v<D, cuda>;

}  // namespace forma
