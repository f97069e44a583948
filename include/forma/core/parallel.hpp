// forma/core/parallel.hpp — the one parallel loop every CPU kernel uses.
//
// parallel_for(count, body) calls body(i) for i in [0, count), split into contiguous static
// chunks over OpenMP threads when forma is built with OpenMP (the forma::forma target links it
// when found), serially otherwise. Each index's work is done by one thread in a fixed order, so
// results do not depend on the number of threads.
#pragma once

#include <cstddef>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace forma {

// Below this many units of work a loop stays on the calling thread: waking threads costs more.
inline constexpr std::size_t parallel_min_work = 1u << 15;

// `work_per_index` estimates the cost of one body(i) in cheap operations (flops, bytes), so small
// loops do not pay for threads.
template <class Body>
void parallel_for(std::size_t count, std::size_t work_per_index, Body&& body) {
#if defined(_OPENMP)
  if (count > 1 && count * work_per_index >= parallel_min_work && !omp_in_parallel()) {
    const auto n = static_cast<long long>(count);
#pragma omp parallel for schedule(static)
    for (long long i = 0; i < n; ++i) body(static_cast<std::size_t>(i));
    return;
  }
#else
  (void)work_per_index;
#endif
  for (std::size_t i = 0; i < count; ++i) body(i);
}

// The number of threads parallel_for may use.
inline int parallel_threads() noexcept {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace forma
