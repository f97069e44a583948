// forma/core/summation.hpp — how a reduction adds its terms, chosen per call.
//
//   fast_sum     interleaved partial sums (SIMD lanes) combined in a fixed order for vectors,
//                one fma chain per element for f32 matrix products (the packed GEMM): fast,
//                and the same bits on every run, thread count and instruction set; a matrix
//                product's row and a matrix-vector product round differently
//                (prefill and decode agree to rounding, not bit for bit)
//   ordered_sum  left to right, one accumulator: the arithmetic of a plain C loop, so results
//                match programs written that way (llama2.c's run.c) bit for bit
#pragma once

#include <cstddef>
#include <type_traits>

namespace forma {

struct fast_sum_t {
  static constexpr std::size_t lanes = 16;
};
struct ordered_sum_t {
  static constexpr std::size_t lanes = 1;
};
inline constexpr fast_sum_t fast_sum{};
inline constexpr ordered_sum_t ordered_sum{};

template <class S>
concept summation = std::is_same_v<S, fast_sum_t> || std::is_same_v<S, ordered_sum_t>;

}  // namespace forma
