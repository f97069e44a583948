// forma/kernels/cuda/sampling.cuh — top-p sampling on the device (body: sampling.hpp), the same
// token as text::Sampler's nucleus sampling for the same probabilities, top_p and coin.
#pragma once

#include <cstddef>
#include <cstdint>

#include "forma/core/contract.hpp"
#include "forma/kernels/cuda/launch.cuh"
#include "forma/kernels/cuda/sampling.hpp"

namespace forma::kernels::cuda {

// probabilities: n device floats (softmax of logits / temperature); scratch: 2·n candidates;
// the token id is written to *device_token on `stream`.
inline void sample_top_p(const float* probabilities, std::size_t n, float top_p, float coin,
                         top_p_candidate* scratch, std::int32_t* device_token,
                         cudaStream_t stream = nullptr) {
  if (n == 0) contract::fail_shape("sample_top_p: no probabilities to sample from");
  launch(top_p_body{probabilities, static_cast<unsigned>(n), top_p, coin, scratch, scratch + n,
                    device_token},
         launch_shape{1, max_block_threads}, stream);
}

}  // namespace forma::kernels::cuda
