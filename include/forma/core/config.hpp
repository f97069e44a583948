// forma/core/config.hpp — project-wide macros: host/device annotations, inlining, contracts.
#pragma once

// FORMA_HD marks per-element math that both the CPU and the CUDA kernels use.
#if defined(__CUDACC__)
#define FORMA_HD __host__ __device__
#else
#define FORMA_HD
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FORMA_ALWAYS_INLINE inline __attribute__((always_inline))
#define FORMA_RESTRICT __restrict__
#else
#define FORMA_ALWAYS_INLINE inline
#define FORMA_RESTRICT
#endif

// Bounds checks on run-time element indices (t(i, j)). On by default in debug builds; define
// FORMA_CHECK_BOUNDS=1 to keep them in release builds or =0 to drop them in debug builds.
// `at(...)` is always checked.
#if !defined(FORMA_CHECK_BOUNDS)
#if defined(NDEBUG)
#define FORMA_CHECK_BOUNDS 0
#else
#define FORMA_CHECK_BOUNDS 1
#endif
#endif

// Shape rules on dynamic extents run in every build type. A user who has proven their shapes
// elsewhere may opt out with FORMA_UNCHECKED_SHAPES; static extents are always checked by the
// compiler whatever this says.
#if defined(FORMA_UNCHECKED_SHAPES)
#define FORMA_SHAPE_CHECKS 0
#else
#define FORMA_SHAPE_CHECKS 1
#endif

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#define FORMA_HAS_EXCEPTIONS 1
#else
#define FORMA_HAS_EXCEPTIONS 0
#endif
