// forma/ops/matmul.hpp — matrix products, shape-checked.
//
//   matmul:     A (M, K) · B (K, N)   => (M, N)   either operand may be a transposed view
//   matmul_nt:  A (M, K) · B (N, K)ᵀ  => (M, N)   B in the Linear-layer layout (out × in)
//   matvec:     A (M, K) · x (K)      => (M)
//   dot:        x (N) · y (N)         => scalar
// Operands share dtype and device. matmul_nt, matvec and dot take an optional summation order
// (forma::fast_sum, the default, or forma::ordered_sum for a plain left-to-right sum). With
// fast_sum, f32 matmul and matmul_nt run the packed GEMM (kernels/cpu/gemm_packed.hpp: one fma
// chain per element in k order) and matvec the 16-lane GEMV; the two round differently, so a row
// of matmul_nt equals matvec on that row to rounding, and bit for bit only with ordered_sum.
// Each op also has a form writing into a given result, which
// is checked to be (M, N) / (M) — the form a decode loop uses to allocate nothing. matmul,
// matmul_nt and matvec also take cuda tensors (row-major f32, in a file nvcc compiles): cuBLAS and
// the gemv kernel of kernels/cuda/gemm.cuh; the summation order then is the GPU's.
#pragma once

#include <cstddef>
#include <type_traits>

#include "forma/core/summation.hpp"
#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/dot.hpp"
#include "forma/kernels/cpu/gemm.hpp"
#include "forma/ops/common.hpp"
#if FORMA_CUDA_KERNELS
#include "forma/kernels/cuda/gemm.cuh"
#endif

namespace forma {

namespace detail {

// How a matrix view is handed to gemm: (transposed?, leading dimension of its storage).
template <class V>
constexpr bool stored_transposed_v = std::is_same_v<typename V::layout_type, layout_left>;

template <class V>
constexpr std::size_t leading_dimension(const V& v) {
  return stored_transposed_v<V> ? v.extent(0) : v.extent(1);
}

template <class A, class B>
inline constexpr bool same_dtype_device_host_v =
    std::is_same_v<typename A::value_type, typename B::value_type> &&
    std::is_same_v<typename A::device_type, typename B::device_type> &&
    std::is_same_v<typename A::device_type, host>;

#define FORMA_RULE_SAME_DTYPE_DEVICE_KERNELS(OP_NAME, A_TYPE, B_TYPE)                         \
  (FORMA_RULE_SAME_TYPE(OP_NAME ": element types differ (A and B must have the same dtype)",   \
                        typename A_TYPE::value_type, typename B_TYPE::value_type),            \
   FORMA_RULE_SAME_TYPE(OP_NAME ": operands live on different devices (copy explicitly)",      \
                        typename A_TYPE::device_type, typename B_TYPE::device_type),          \
   FORMA_RULE_DEVICE_KERNELS(OP_NAME, typename A_TYPE::device_type))

#define FORMA_RULE_SAME_DTYPE_DEVICE(OP_NAME, A_TYPE, B_TYPE)                                 \
  (FORMA_RULE_SAME_TYPE(OP_NAME ": element types differ (A and B must have the same dtype)",   \
                        typename A_TYPE::value_type, typename B_TYPE::value_type),            \
   FORMA_RULE_SAME_TYPE(OP_NAME ": operands live on different devices (copy explicitly)",      \
                        typename A_TYPE::device_type, typename B_TYPE::device_type),          \
   FORMA_RULE_HOST(OP_NAME, typename A_TYPE::device_type))

#define FORMA_RULE_MATMUL_INNER(A_TYPE, B_TYPE, a_value, b_value)                             \
  FORMA_RULE_SAME_EXTENT("matmul: inner dimensions differ (A is (M, K), B is (K, N))",         \
                         A_TYPE::extents_type::static_extent(1),                              \
                         B_TYPE::extents_type::static_extent(0), (a_value).extent(1),         \
                         (b_value).extent(0))

#define FORMA_RULE_MATMUL_RESULT(OP_NAME, A_TYPE, N_STATIC, OUT_TYPE, a_value, n_value,       \
                                 out_value)                                                   \
  (FORMA_RULE_SAME_EXTENT(OP_NAME ": the result has the wrong number of rows (must be M)",     \
                          OUT_TYPE::extents_type::static_extent(0),                           \
                          A_TYPE::extents_type::static_extent(0), (out_value).extent(0),      \
                          (a_value).extent(0)),                                               \
   FORMA_RULE_SAME_EXTENT(OP_NAME ": the result has the wrong number of columns (must be N)",  \
                          OUT_TYPE::extents_type::static_extent(1), (N_STATIC),               \
                          (out_value).extent(1), (n_value)))

// Same dtype and device, and a kernel for that device in this translation unit.
template <class A, class B>
inline constexpr bool same_dtype_device_kernels_v =
    std::is_same_v<typename A::value_type, typename B::value_type> &&
    std::is_same_v<typename A::device_type, typename B::device_type> &&
    FORMA_HAS_DEVICE_KERNELS(typename A::device_type);

template <std::size_t Lanes = 16, class A, class B, class Out>
void gemm_views(const A& a, const B& b, Out& out) {
  if constexpr (std::is_same_v<typename Out::device_type, cuda>) {
#if FORMA_CUDA_KERNELS
    static_assert(std::is_same_v<typename A::value_type, float>,
                  "matmul on cuda tensors: f32 operands (bf16/f16: kernels::cuda::gemm_nt)");
    static_assert(!stored_transposed_v<A>, "matmul on cuda tensors: A must be row-major");
    // b is row-major (matmul) or the transposed view of a row-major (N, K) (matmul_nt).
    if constexpr (stored_transposed_v<B>) {
      kernels::cuda::gemm_nt(a.extent(0), b.extent(1), a.extent(1), a.data(), leading_dimension(a),
                             b.data(), leading_dimension(b), out.data(), out.extent(1));
    } else {
      kernels::cuda::gemm_nn(a.extent(0), b.extent(1), a.extent(1), a.data(), leading_dimension(a),
                             b.data(), leading_dimension(b), out.data(), out.extent(1));
    }
#endif
    return;
  }
  // out is row-major; a and b may each be row-major or a transposed (column-major) view.
  kernels::cpu::gemm<typename A::value_type, Lanes>(stored_transposed_v<A>, stored_transposed_v<B>, a.extent(0), b.extent(1),
                     a.extent(1), a.data(), leading_dimension(a), b.data(), leading_dimension(b),
                     out.data(), out.extent(1));
}

}  // namespace detail

// Allocates the CPU matrix products' per-thread buffers (the packed GEMM's) now, for the calling
// thread and the thread pool's workers: after it, no f32 matmul / matmul_nt allocates.
inline void reserve_matmul_workspace() { kernels::cpu::packed::reserve_workspace(); }

// The shape rules of the ops below, as concepts for generic code and tests.
template <class A, class B>
concept matmul_compatible = matrix<A> && matrix<B> && detail::same_dtype_device_kernels_v<A, B> &&
                            rules::same_extent<A::extents_type::static_extent(1),
                                               B::extents_type::static_extent(0)>;
template <class A, class B>
concept matmul_nt_compatible =
    matrix<A> && matrix<B> && detail::same_dtype_device_kernels_v<A, B> &&
    rules::same_extent<A::extents_type::static_extent(1), B::extents_type::static_extent(1)>;
template <class A, class X>
concept matvec_compatible =
    matrix<A> && vector<X> && detail::same_dtype_device_kernels_v<A, X> &&
    rules::same_extent<A::extents_type::static_extent(1), X::extents_type::static_extent(0)>;

// matmul(a, b, out): out = a · b.  (M, K), (K, N) => (M, N)
template <matrix A, matrix B, class Out>
  requires(writable_tensor<std::remove_cvref_t<Out>> && matrix<std::remove_cvref_t<Out>>)
void matmul(const A& a, const B& b, Out&& out) {
  using O = std::remove_cvref_t<Out>;
  FORMA_RULE_SAME_DTYPE_DEVICE_KERNELS("matmul", A, B);
  FORMA_RULE_MATMUL_INNER(A, B, a, b);
  FORMA_RULE_SAME_TYPE("matmul: the result's element type differs from the operands'",
                       typename A::value_type, typename O::value_type);
  FORMA_RULE_MATMUL_RESULT("matmul", A, B::extents_type::static_extent(1), O, a, b.extent(1), out);
  static_assert(std::is_same_v<typename O::layout_type, layout_right>,
                "matmul: the result must be row-major");
  if constexpr (detail::same_dtype_device_kernels_v<A, B> && detail::same_dtype_device_kernels_v<A, O> &&
                rules::same_extent<A::extents_type::static_extent(1),
                                   B::extents_type::static_extent(0)> &&
                std::is_same_v<typename O::layout_type, layout_right>) {
    auto result = forma::view(out);
    detail::gemm_views(forma::view(a), forma::view(b), result);
  }
}

// matmul(a, b): a new (M, N) matrix.
template <matrix A, matrix B>
auto matmul(const A& a, const B& b)
    -> Matrix<typename A::value_type, A::extents_type::static_extent(0),
              B::extents_type::static_extent(1), typename A::device_type> {
  using R = Matrix<typename A::value_type, A::extents_type::static_extent(0),
                   B::extents_type::static_extent(1), typename A::device_type>;
  FORMA_RULE_SAME_DTYPE_DEVICE_KERNELS("matmul", A, B);
  FORMA_RULE_MATMUL_INNER(A, B, a, b);
  if constexpr (detail::same_dtype_device_kernels_v<A, B> &&
                rules::same_extent<A::extents_type::static_extent(1),
                                   B::extents_type::static_extent(0)>) {
    R result(uninitialized, typename R::extents_type(std::array<std::size_t, 2>{a.extent(0), b.extent(1)}));
    matmul(a, b, result);
    return result;
  } else {
    return R();
  }
}

#define FORMA_RULE_MATMUL_NT_INNER(A_TYPE, B_TYPE, a_value, b_value)                          \
  FORMA_RULE_SAME_EXTENT("matmul_nt: inner dimensions differ (A is (M, K), B is (N, K))",      \
                         A_TYPE::extents_type::static_extent(1),                              \
                         B_TYPE::extents_type::static_extent(1), (a_value).extent(1),         \
                         (b_value).extent(1))

// matmul_nt(a, b, out): out = a · bᵀ.  (M, K), (N, K) => (M, N)
template <matrix A, matrix B, class Out, summation Sum = fast_sum_t>
  requires(writable_tensor<std::remove_cvref_t<Out>> && matrix<std::remove_cvref_t<Out>>)
void matmul_nt(const A& a, const B& b, Out&& out, Sum = {}) {
  using O = std::remove_cvref_t<Out>;
  FORMA_RULE_SAME_DTYPE_DEVICE_KERNELS("matmul_nt", A, B);
  FORMA_RULE_MATMUL_NT_INNER(A, B, a, b);
  FORMA_RULE_SAME_TYPE("matmul_nt: the result's element type differs from the operands'",
                       typename A::value_type, typename O::value_type);
  FORMA_RULE_MATMUL_RESULT("matmul_nt", A, B::extents_type::static_extent(0), O, a, b.extent(0),
                           out);
  if constexpr (detail::same_dtype_device_kernels_v<A, B> && detail::same_dtype_device_kernels_v<A, O> &&
                rules::same_extent<A::extents_type::static_extent(1),
                                   B::extents_type::static_extent(1)>) {
    auto result = forma::view(out);
    detail::gemm_views<Sum::lanes>(forma::view(a), forma::transpose(forma::view(b)), result);
  }
}

// matmul_nt(a, b): a new (M, N) matrix.
template <matrix A, matrix B>
auto matmul_nt(const A& a, const B& b)
    -> Matrix<typename A::value_type, A::extents_type::static_extent(0),
              B::extents_type::static_extent(0), typename A::device_type> {
  using R = Matrix<typename A::value_type, A::extents_type::static_extent(0),
                   B::extents_type::static_extent(0), typename A::device_type>;
  FORMA_RULE_SAME_DTYPE_DEVICE_KERNELS("matmul_nt", A, B);
  FORMA_RULE_MATMUL_NT_INNER(A, B, a, b);
  if constexpr (detail::same_dtype_device_kernels_v<A, B> &&
                rules::same_extent<A::extents_type::static_extent(1),
                                   B::extents_type::static_extent(1)>) {
    R result(uninitialized, typename R::extents_type(std::array<std::size_t, 2>{a.extent(0), b.extent(0)}));
    matmul_nt(a, b, result);
    return result;
  } else {
    return R();
  }
}

#define FORMA_RULE_MATVEC(A_TYPE, X_TYPE, a_value, x_value)                                   \
  (FORMA_RULE_SAME_DTYPE_DEVICE_KERNELS("matvec", A_TYPE, X_TYPE),                            \
   FORMA_RULE_SAME_EXTENT("matvec: the vector's length differs from the matrix's columns "    \
                          "(A is (M, K), x is (K))",                                          \
                          A_TYPE::extents_type::static_extent(1),                             \
                          X_TYPE::extents_type::static_extent(0), (a_value).extent(1),        \
                          (x_value).extent(0)))

// matvec(a, x, y): y = a · x.  (M, K), (K) => (M)
template <matrix A, vector X, class Y, summation Sum = fast_sum_t>
  requires(writable_tensor<std::remove_cvref_t<Y>> && vector<std::remove_cvref_t<Y>>)
void matvec(const A& a, const X& x, Y&& y, Sum = {}) {
  using YT = std::remove_cvref_t<Y>;
  FORMA_RULE_MATVEC(A, X, a, x);
  FORMA_RULE_SAME_TYPE("matvec: the result's element type differs from the operands'",
                       typename A::value_type, typename YT::value_type);
  FORMA_RULE_SAME_EXTENT("matvec: the result's length differs from the matrix's rows "
                         "(A is (M, K), y is (M))",
                         YT::extents_type::static_extent(0), A::extents_type::static_extent(0),
                         y.extent(0), a.extent(0));
  if constexpr (detail::same_dtype_device_kernels_v<A, X> && detail::same_dtype_device_kernels_v<A, YT> &&
                rules::same_extent<A::extents_type::static_extent(1),
                                   X::extents_type::static_extent(0)>) {
    const auto av = forma::view(a);
    if constexpr (std::is_same_v<typename A::device_type, cuda>) {
#if FORMA_CUDA_KERNELS
      static_assert(std::is_same_v<typename A::value_type, float> &&
                        !detail::stored_transposed_v<decltype(av)>,
                    "matvec on cuda tensors: a row-major f32 matrix");
      kernels::cuda::gemv(a.extent(0), a.extent(1), av.data(), a.extent(1), x.data(),
                          forma::view(y).data());
#endif
    } else if constexpr (detail::stored_transposed_v<decltype(av)>) {
      // a is a transposed view: y (M, 1) = a (M, K) · x (K, 1) through the general gemm.
      kernels::cpu::gemm<typename A::value_type, Sum::lanes>(
          true, false, a.extent(0), 1, a.extent(1), av.data(), a.extent(0), x.data(), 1,
          forma::view(y).data(), 1);
    } else {
      kernels::cpu::gemv<typename A::value_type, Sum::lanes>(
          a.extent(0), a.extent(1), av.data(), a.extent(1), x.data(), forma::view(y).data());
    }
  }
}

// matvec(a, x): a new (M) vector.
template <matrix A, vector X>
auto matvec(const A& a, const X& x)
    -> Vector<typename A::value_type, A::extents_type::static_extent(0), typename A::device_type> {
  using R = Vector<typename A::value_type, A::extents_type::static_extent(0), typename A::device_type>;
  FORMA_RULE_MATVEC(A, X, a, x);
  if constexpr (detail::same_dtype_device_kernels_v<A, X> &&
                rules::same_extent<A::extents_type::static_extent(1),
                                   X::extents_type::static_extent(0)>) {
    R result(uninitialized, typename R::extents_type(std::array<std::size_t, 1>{a.extent(0)}));
    matvec(a, x, result);
    return result;
  } else {
    return R();
  }
}

// dot(x, y): Σ x[i]·y[i].  (N), (N) => scalar
template <vector X, vector Y, summation Sum = fast_sum_t>
auto dot(const X& x, const Y& y, Sum = {}) -> typename X::value_type {
  FORMA_RULE_SAME_DTYPE_DEVICE("dot", X, Y);
  FORMA_RULE_SAME_EXTENT("dot: lengths differ (x is (N), y is (N))",
                         X::extents_type::static_extent(0), Y::extents_type::static_extent(0),
                         x.extent(0), y.extent(0));
  if constexpr (detail::same_dtype_device_host_v<X, Y>) {
    return kernels::cpu::dot<typename X::value_type, Sum::lanes>(x.data(), y.data(), x.extent(0));
  } else {
    return {};
  }
}

}  // namespace forma
