// forma/kernels/cpu/gemm_packed.hpp — a packed, cache-blocked, register-tiled float GEMM.
//
//   packed::gemm_nn: A (M, K), B (K, N)           => C (M, N)
//   packed::gemm_nt: A (M, K), B (N, K) used as Bᵀ => C (M, N)   (x · Wᵀ, the Linear layout)
//   packed::gemm_tn: A (K, M) used as Aᵀ, B (K, N) => C (M, N)   (dyᵀ · x, the weight gradient)
// Row-major arrays with leading dimensions (lda, ldb, ldc ≥ the row width). C is overwritten,
// or added to when `accumulate` is true.
//
// The arithmetic of every output element is one fused multiply-add chain in k order:
//     c = accumulate ? C[i][j] : 0;   for k = 0 .. K-1:  c = fma(A[i][k], B[k][j], c)
// whatever the ISA path, the blocking, the tile a element falls in and the number of threads —
// so the AVX-512, AVX2+FMA and scalar (std::fma) paths give the same bits, and 1 and N threads
// give the same bits. Explicit FMA intrinsics are used: forma builds with -ffp-contract=off.
//
// One dispatch point, at compile time from the target flags:
//   __AVX512F__             14 × 32 micro-tile (28 zmm accumulators)
//   __AVX2__ && __FMA__      6 × 16 micro-tile (12 ymm accumulators)
//   otherwise               portable loops over std::fma (correct, not fast)
// Blocking (the Goto/BLIS loop nest): B is packed KC × NC (NR-wide, k-major micro-panels; the one
// being used stays in L1: KC·NR·4 = 32 KiB of a 48 KiB L1), A is packed MC × KC (MR-tall micro-
// panels, 336 KiB: half of a 1 MiB L2). M ≤ 4 takes an unpacked path (A read in place, B read in
// place for NN; NT packs only a KC × (16·NV) strip of Bᵀ at a time), with wider tiles.
// TN differs from NN only in how A is read: packing copies each k's MR contiguous entries of the
// stored (K, M) array (no transpose), and the unpacked kernels read A(r, k) at A[k·lda + r]; no
// transposed copy of A is made.
// Packing buffers are per thread and grown for every thread before a product forks: no
// allocation once warm, whichever pool threads run a call.
// Threads: the C matrix is split into one contiguous column range per thread (row ranges when N
// is too narrow), each thread running the whole loop nest on its part with its own buffers;
// below `parallel_min_flops` multiply-adds everything runs on the calling thread.
//
// These live in kernels::cpu::packed so that they never compete in overload resolution with the
// generic gemm_nn / gemm_nt templates of gemm.hpp, which the ops still use.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <utility>

#include "forma/core/config.hpp"
#include "forma/core/parallel.hpp"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

namespace forma::kernels::cpu::packed {

// Below this many multiply-adds (M·N·K) a product stays on the calling thread: an OpenMP
// fork/join costs a few microseconds, the time of ~10⁵–10⁶ multiply-adds on one AVX-512 core.
inline constexpr std::size_t parallel_min_flops = std::size_t{1} << 20;

namespace detail {

// Where A(i0, k0) is: (M, K) row-major, or (K, M) row-major when A is given transposed (TN).
template <bool TransA>
FORMA_ALWAYS_INLINE const float* a_at(const float* A, std::size_t lda, std::size_t i0,
                                      std::size_t k0) noexcept {
  return TransA ? A + k0 * lda + i0 : A + i0 * lda + k0;
}

#if defined(__AVX512F__)
inline constexpr const char* isa_name = "avx512";
struct simd {
  using vec = __m512;
  static constexpr std::size_t width = 16;
  static FORMA_ALWAYS_INLINE vec zero() noexcept { return _mm512_setzero_ps(); }
  static FORMA_ALWAYS_INLINE vec load(const float* p) noexcept { return _mm512_loadu_ps(p); }
  static FORMA_ALWAYS_INLINE void store(float* p, vec v) noexcept { _mm512_storeu_ps(p, v); }
  static FORMA_ALWAYS_INLINE vec broadcast(const float* p) noexcept { return _mm512_set1_ps(*p); }
  static FORMA_ALWAYS_INLINE vec fma(vec a, vec b, vec c) noexcept {
    return _mm512_fmadd_ps(a, b, c);
  }
};
inline constexpr std::size_t MR = 14, NV = 2;
#elif defined(__AVX2__) && defined(__FMA__)
inline constexpr const char* isa_name = "avx2";
struct simd {
  using vec = __m256;
  static constexpr std::size_t width = 8;
  static FORMA_ALWAYS_INLINE vec zero() noexcept { return _mm256_setzero_ps(); }
  static FORMA_ALWAYS_INLINE vec load(const float* p) noexcept { return _mm256_loadu_ps(p); }
  static FORMA_ALWAYS_INLINE void store(float* p, vec v) noexcept { _mm256_storeu_ps(p, v); }
  static FORMA_ALWAYS_INLINE vec broadcast(const float* p) noexcept { return _mm256_broadcast_ss(p); }
  static FORMA_ALWAYS_INLINE vec fma(vec a, vec b, vec c) noexcept {
    return _mm256_fmadd_ps(a, b, c);
  }
};
inline constexpr std::size_t MR = 6, NV = 2;
#else
inline constexpr const char* isa_name = "scalar";
#define FORMA_GEMM_PACKED_SCALAR 1
#endif

#if !defined(FORMA_GEMM_PACKED_SCALAR)
inline constexpr std::size_t W = simd::width;
inline constexpr std::size_t NR = NV * W;         // micro-tile columns
inline constexpr std::size_t KC = 256;             // k block: B micro-panel KC·NR·4 bytes in L1
inline constexpr std::size_t MC = MR * (W == 16 ? 24 : 56);  // A block MC·KC·4 bytes in L2
inline constexpr std::size_t NC = 1024;            // B block KC·NC·4 bytes (L2 / L3)
inline constexpr std::size_t max_small_m = 4;      // M ≤ this: the unpacked path
inline constexpr std::size_t pack_a_min_panels = 4; // fewer B panels: A read in place
// The unpacked path's tile width in vectors for R rows: enough accumulators to hide the FMA
// latency (R·NV_small ≥ 8) within the register file.
template <std::size_t R>
inline constexpr std::size_t small_nv = W == 16 ? (R == 1 ? 8 : R == 2 ? 6 : 4)
                                               : (R == 1 ? 6 : R == 2 ? 4 : R == 3 ? 3 : 2);
inline constexpr std::size_t max_small_nr = 8 * W;

// The per-thread packing buffers: one 64-byte-aligned block per thread (core/parallel.hpp's
// scratch, grown for every thread before a parallel product starts), A's panel then B's.
struct Workspace {
  static constexpr std::size_t a_floats = MC * KC;
  static constexpr std::size_t b_floats = KC * (NC > max_small_nr ? NC : max_small_nr);
  static constexpr std::size_t bytes = (a_floats + b_floats) * sizeof(float);
  float* a;
  float* b;
};
struct workspace_tag {};

inline Workspace workspace() {
  float* base = static_cast<float*>(thread_scratch<workspace_tag>(Workspace::bytes));
  return {base, base + Workspace::a_floats};
}

// K in equal blocks of at most KC: no short last block (each block loads and stores C once).
inline std::size_t k_step(std::size_t K) noexcept {
  const std::size_t blocks = (K + KC - 1) / KC;
  return (K + blocks - 1) / blocks;
}

// ---- micro-kernels ------------------------------------------------------------------------

// How a micro-kernel reads A(r, k): from a packed panel (a[k·MR + r]), in place from A's rows
// (NN and NT, A stored (M, K): a[r·lda + k]) or in place from A's columns (TN, A stored (K, M):
// a[k·lda + r]).
enum class a_read { packed, rows, columns };

// C (R × NVt·W) = [C +] Σ_k a(r, k) · b(k, :), one fma per k per element.
// a: read as AR says, lda its leading dimension when in place. b: b(k, :) = b[k·b_ks .. + NVt·W).
template <std::size_t R, std::size_t NVt, a_read AR>
inline void micro(std::size_t kc, const float* FORMA_RESTRICT a, std::size_t lda,
                  const float* FORMA_RESTRICT b, std::size_t b_ks, float* FORMA_RESTRICT c,
                  std::size_t ldc, bool load_c) noexcept {
  using V = simd::vec;
  V acc[R][NVt];
  if (load_c) {
#pragma GCC unroll 16
    for (std::size_t r = 0; r < R; ++r) {
#pragma GCC unroll 8
      for (std::size_t v = 0; v < NVt; ++v) acc[r][v] = simd::load(c + r * ldc + v * W);
    }
  } else {
#pragma GCC unroll 16
    for (std::size_t r = 0; r < R; ++r) {
#pragma GCC unroll 8
      for (std::size_t v = 0; v < NVt; ++v) acc[r][v] = simd::zero();
    }
  }
  for (std::size_t k = 0; k < kc; ++k) {
    V bv[NVt];
#pragma GCC unroll 8
    for (std::size_t v = 0; v < NVt; ++v) bv[v] = simd::load(b + v * W);
#pragma GCC unroll 16
    for (std::size_t r = 0; r < R; ++r) {
      const V av = simd::broadcast(AR == a_read::rows ? a + r * lda : a + r);
#pragma GCC unroll 8
      for (std::size_t v = 0; v < NVt; ++v) acc[r][v] = simd::fma(av, bv[v], acc[r][v]);
    }
    a += AR == a_read::packed ? MR : AR == a_read::rows ? 1 : lda;
    b += b_ks;
  }
#pragma GCC unroll 16
  for (std::size_t r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (std::size_t v = 0; v < NVt; ++v) simd::store(c + r * ldc + v * W, acc[r][v]);
  }
}

// The same tile when only `cols` < NVt·W columns of C exist: through a local tile.
template <std::size_t R, std::size_t NVt, a_read AR>
inline void micro_edge(std::size_t kc, const float* a, std::size_t lda, const float* b,
                       std::size_t b_ks, float* c, std::size_t ldc, bool load_c,
                       std::size_t cols) noexcept {
  alignas(64) float tile[R * NVt * W];
  if (load_c) {
    for (std::size_t r = 0; r < R; ++r) {
      std::memcpy(tile + r * NVt * W, c + r * ldc, cols * sizeof(float));
      std::memset(tile + r * NVt * W + cols, 0, (NVt * W - cols) * sizeof(float));
    }
  }
  micro<R, NVt, AR>(kc, a, lda, b, b_ks, tile, NVt * W, load_c);
  for (std::size_t r = 0; r < R; ++r) std::memcpy(c + r * ldc, tile + r * NVt * W, cols * sizeof(float));
}

// The packed-path micro-kernel for `rows` ≤ MR rows: one instantiation per row count and way of
// reading A.
using packed_kernel = void (*)(std::size_t, const float*, std::size_t, const float*, float*,
                               std::size_t, bool, std::size_t);

template <std::size_t R, a_read AR>
inline void packed_tile(std::size_t kc, const float* a, std::size_t lda, const float* b, float* c,
                        std::size_t ldc, bool load_c, std::size_t cols) noexcept {
  if (cols == NR) {
    micro<R, NV, AR>(kc, a, lda, b, NR, c, ldc, load_c);
  } else {
    micro_edge<R, NV, AR>(kc, a, lda, b, NR, c, ldc, load_c, cols);
  }
}

struct kernel_table {
  packed_kernel k[MR];
};

template <a_read AR, std::size_t... I>
constexpr kernel_table make_kernel_table(std::index_sequence<I...>) {
  return kernel_table{{&packed_tile<I + 1, AR>...}};
}
// A variable template: a translation unit instantiates only the tables its products use.
template <a_read AR>
inline constexpr kernel_table kernels_for = make_kernel_table<AR>(std::make_index_sequence<MR>{});

// ---- packing ------------------------------------------------------------------------------

// B(k, j) for k [0, kc), j [0, cols) into one panel of width `nr` (k-major, zero-padded columns):
// dst[k·nr + j]. NN: B(k, j) = B[k·ldb + j].
inline void pack_b_nn_panel(std::size_t kc, std::size_t cols, std::size_t nr, const float* B,
                            std::size_t ldb, float* dst) {
  if (cols == nr) {
    for (std::size_t k = 0; k < kc; ++k) {
      for (std::size_t v = 0; v < nr; v += W) simd::store(dst + k * nr + v, simd::load(B + k * ldb + v));
    }
    return;
  }
  for (std::size_t k = 0; k < kc; ++k) {
    std::memcpy(dst + k * nr, B + k * ldb, cols * sizeof(float));
    std::memset(dst + k * nr + cols, 0, (nr - cols) * sizeof(float));
  }
}

// NN: a KC × nc block into NR-wide panels (panel at column jp starts at dst + jp·kc), reading B
// row by row.
inline void pack_b_nn_block(std::size_t kc, std::size_t nc, const float* B, std::size_t ldb,
                            float* dst) {
  const std::size_t full = nc - nc % NR;
  for (std::size_t k = 0; k < kc; ++k) {
    const float* src = B + k * ldb;
    for (std::size_t jp = 0; jp < full; jp += NR) {
      float* d = dst + jp * kc + k * NR;
#pragma GCC unroll 4
      for (std::size_t v = 0; v < NR; v += W) simd::store(d + v, simd::load(src + jp + v));
    }
  }
  if (full < nc) pack_b_nn_panel(kc, nc - full, NR, B + full, ldb, dst + full * kc);
}

#if defined(__AVX512F__)
// r[i] = row i of a 16 × 16 block; afterwards r[i] = column i. (The zero-masking forms with a
// full mask are the same instructions; the plain ones trip GCC 12's -Wmaybe-uninitialized on
// _mm512_undefined_ps.)
FORMA_ALWAYS_INLINE void transpose_block(__m512 r[16]) noexcept {
  constexpr __mmask16 all = 0xFFFF;
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_maskz_unpacklo_ps(all, r[i], r[i + 1]);
    t[i + 1] = _mm512_maskz_unpackhi_ps(all, r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i + 0] = _mm512_maskz_shuffle_ps(all, t[i + 0], t[i + 2], 0x44);
    r[i + 1] = _mm512_maskz_shuffle_ps(all, t[i + 0], t[i + 2], 0xEE);
    r[i + 2] = _mm512_maskz_shuffle_ps(all, t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_maskz_shuffle_ps(all, t[i + 1], t[i + 3], 0xEE);
  }
  for (int h = 0; h < 16; h += 8) {
    for (int i = 0; i < 4; ++i) {
      t[h + i] = _mm512_maskz_shuffle_f32x4(all, r[h + i], r[h + i + 4], 0x88);
      t[h + i + 4] = _mm512_maskz_shuffle_f32x4(all, r[h + i], r[h + i + 4], 0xDD);
    }
  }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_maskz_shuffle_f32x4(all, t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_maskz_shuffle_f32x4(all, t[i], t[i + 8], 0xDD);
  }
}
#elif defined(__AVX2__) && defined(__FMA__)
FORMA_ALWAYS_INLINE void transpose_block(__m256 r[8]) noexcept {
  __m256 t[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  __m256 s[8];
  for (int i = 0; i < 8; i += 4) {
    s[i + 0] = _mm256_shuffle_ps(t[i + 0], t[i + 2], 0x44);
    s[i + 1] = _mm256_shuffle_ps(t[i + 0], t[i + 2], 0xEE);
    s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
  }
}
#endif

// NT: B(k, j) = B[j·ldb + k] (B stored (N, K)): a transpose, W × W blocks in registers.
inline void pack_b_nt_panel(std::size_t kc, std::size_t cols, std::size_t nr, const float* B,
                            std::size_t ldb, float* dst) {
  const std::size_t full_j = cols - cols % W, full_k = kc - kc % W;
  for (std::size_t j = 0; j < full_j; j += W) {
    for (std::size_t k = 0; k < full_k; k += W) {
      simd::vec r[W];
      for (std::size_t i = 0; i < W; ++i) r[i] = simd::load(B + (j + i) * ldb + k);
      transpose_block(r);
      for (std::size_t i = 0; i < W; ++i) simd::store(dst + (k + i) * nr + j, r[i]);
    }
    for (std::size_t k = full_k; k < kc; ++k) {
      for (std::size_t i = 0; i < W; ++i) dst[k * nr + j + i] = B[(j + i) * ldb + k];
    }
  }
  for (std::size_t j = full_j; j < cols; ++j) {
    const float* src = B + j * ldb;
    for (std::size_t k = 0; k < kc; ++k) dst[k * nr + j] = src[k];
  }
  if (cols < nr) {
    for (std::size_t k = 0; k < kc; ++k) {
      std::memset(dst + k * nr + cols, 0, (nr - cols) * sizeof(float));
    }
  }
}

// A rows [0, mc) × k [0, kc) (row-major, lda) into MR-tall panels: panel p holds
// dst[p·kc·MR + k·MR + r] = A(p·MR + r, k). A short last panel leaves its missing rows unset
// (the kernel for fewer rows never reads them).
inline void pack_a(std::size_t mc, std::size_t kc, const float* A, std::size_t lda, float* dst) {
  for (std::size_t i0 = 0; i0 < mc; i0 += MR) {
    const std::size_t rows = std::min(MR, mc - i0);
    float* d = dst + i0 * kc;
    std::size_t k0 = 0;
#if defined(__AVX512F__)
    // 16 × 16 transposes (rows beyond `rows` zero), each column stored as MR floats.
    static_assert(MR <= 16);
    constexpr __mmask16 keep = static_cast<__mmask16>((1u << MR) - 1);
    for (; k0 + W <= kc; k0 += W) {
      __m512 r[16];
      for (std::size_t i = 0; i < 16; ++i) {
        r[i] = i < rows ? simd::load(A + (i0 + i) * lda + k0) : simd::zero();
      }
      transpose_block(r);
      for (std::size_t t = 0; t < 16; ++t) _mm512_mask_storeu_ps(d + (k0 + t) * MR, keep, r[t]);
    }
#endif
    for (std::size_t r = 0; r < rows; ++r) {
      const float* src = A + (i0 + r) * lda;
      for (std::size_t k = k0; k < kc; ++k) d[k * MR + r] = src[k];
    }
  }
}

// TN: A stored (K, M), A(i, k) = A[k·lda + i]. The same panels as pack_a, but each k's `rows`
// entries of a panel are contiguous in A: a copy per k, A read row by row.
inline void pack_a_t(std::size_t mc, std::size_t kc, const float* A, std::size_t lda, float* dst) {
  const std::size_t full = mc - mc % MR;
  for (std::size_t k = 0; k < kc; ++k) {
    const float* src = A + k * lda;
    for (std::size_t i0 = 0; i0 < full; i0 += MR) {
      std::memcpy(dst + i0 * kc + k * MR, src + i0, MR * sizeof(float));
    }
    if (full < mc) std::memcpy(dst + full * kc + k * MR, src + full, (mc - full) * sizeof(float));
  }
}

template <bool TransB>
FORMA_ALWAYS_INLINE void pack_b_panel(std::size_t kc, std::size_t cols, std::size_t nr,
                                      const float* B, std::size_t ldb, float* dst) {
  if constexpr (TransB) {
    pack_b_nt_panel(kc, cols, nr, B, ldb, dst);
  } else {
    pack_b_nn_panel(kc, cols, nr, B, ldb, dst);
  }
}

// Where B(k0, j0) is: NN (K, N) row-major, NT (N, K) row-major.
template <bool TransB>
FORMA_ALWAYS_INLINE const float* b_at(const float* B, std::size_t ldb, std::size_t k0,
                                      std::size_t j0) noexcept {
  return TransB ? B + j0 * ldb + k0 : B + k0 * ldb + j0;
}

// ---- the loop nests -----------------------------------------------------------------------

// C rows [0, M) × columns [n0, n1) with packed A and B.
template <bool TransA, bool TransB>
void packed_block(std::size_t M, std::size_t n0, std::size_t n1, std::size_t K, const float* A,
                  std::size_t lda, const float* B, std::size_t ldb, float* C, std::size_t ldc,
                  bool accumulate) {
  const Workspace ws = workspace();
  const std::size_t kstep = k_step(K);
  for (std::size_t jc = n0; jc < n1; jc += NC) {
    const std::size_t nc = std::min(NC, n1 - jc);
    for (std::size_t pc = 0; pc < K; pc += kstep) {
      const std::size_t kc = std::min(kstep, K - pc);
      const bool load_c = accumulate || pc > 0;
      if constexpr (TransB) {
        for (std::size_t jp = 0; jp < nc; jp += NR) {
          pack_b_nt_panel(kc, std::min(NR, nc - jp), NR, B + (jc + jp) * ldb + pc, ldb,
                          ws.b + jp * kc);
        }
      } else {
        pack_b_nn_block(kc, nc, B + pc * ldb + jc, ldb, ws.b);
      }
      // Packing A pays when its panels are reused over several B panels.
      const bool pack = nc > pack_a_min_panels * NR;
      constexpr a_read in_place = TransA ? a_read::columns : a_read::rows;
      const kernel_table& tiles = pack ? kernels_for<a_read::packed> : kernels_for<in_place>;
      for (std::size_t ic = 0; ic < M; ic += MC) {
        const std::size_t mc = std::min(MC, M - ic);
        if (pack) {
          if constexpr (TransA) {
            pack_a_t(mc, kc, a_at<TransA>(A, lda, ic, pc), lda, ws.a);
          } else {
            pack_a(mc, kc, a_at<TransA>(A, lda, ic, pc), lda, ws.a);
          }
        }
        for (std::size_t jp = 0; jp < nc; jp += NR) {
          const std::size_t cols = std::min(NR, nc - jp);
          const float* bp = ws.b + jp * kc;
          for (std::size_t ip = 0; ip < mc; ip += MR) {
            const std::size_t rows = std::min(MR, mc - ip);
            const float* ap = pack ? ws.a + ip * kc : a_at<TransA>(A, lda, ic + ip, pc);
            tiles.k[rows - 1](kc, ap, lda, bp, C + (ic + ip) * ldc + jc + jp, ldc, load_c, cols);
          }
        }
      }
    }
  }
}

// One tile of the unpacked path: R rows, nr-W < cols ≤ nr = NVt·W columns (narrower tiles for
// fewer columns). NN reads B in place when the tile is full; otherwise B's strip is packed.
template <bool TransA, bool TransB, std::size_t R, std::size_t NVt>
void small_tile(std::size_t kc, const float* a, std::size_t lda, const float* B, std::size_t ldb,
                std::size_t pc, std::size_t j0, std::size_t cols, float* c, std::size_t ldc,
                bool load_c) {
  constexpr std::size_t nr = NVt * W;
  constexpr a_read in_place = TransA ? a_read::columns : a_read::rows;
  if constexpr (NVt > 1) {
    if (cols <= nr - W) {
      small_tile<TransA, TransB, R, NVt - 1>(kc, a, lda, B, ldb, pc, j0, cols, c, ldc, load_c);
      return;
    }
  }
  if (!TransB && cols == nr) {
    micro<R, NVt, in_place>(kc, a, lda, B + pc * ldb + j0, ldb, c, ldc, load_c);
    return;
  }
  float* strip = workspace().b;
  pack_b_panel<TransB>(kc, cols, nr, b_at<TransB>(B, ldb, pc, j0), ldb, strip);
  if (cols == nr) {
    micro<R, NVt, in_place>(kc, a, lda, strip, nr, c, ldc, load_c);
  } else {
    micro_edge<R, NVt, in_place>(kc, a, lda, strip, nr, c, ldc, load_c, cols);
  }
}

// R ≤ max_small_m rows of C, columns [n0, n1), A in place.
template <bool TransA, bool TransB, std::size_t R>
void small_block(std::size_t n0, std::size_t n1, std::size_t K, const float* A, std::size_t lda,
                 const float* B, std::size_t ldb, float* C, std::size_t ldc, bool accumulate) {
  constexpr std::size_t nv = small_nv<R>, nr = nv * W;
  const std::size_t kstep = k_step(K);
  for (std::size_t pc = 0; pc < K; pc += kstep) {
    const std::size_t kc = std::min(kstep, K - pc);
    const bool load_c = accumulate || pc > 0;
    for (std::size_t j0 = n0; j0 < n1; j0 += nr) {
      small_tile<TransA, TransB, R, nv>(kc, a_at<TransA>(A, lda, 0, pc), lda, B, ldb, pc, j0,
                                        std::min(nr, n1 - j0), C + j0, ldc, load_c);
    }
  }
}

template <bool TransA, bool TransB>
void small_rows(std::size_t M, std::size_t n0, std::size_t n1, std::size_t K, const float* A,
                std::size_t lda, const float* B, std::size_t ldb, float* C, std::size_t ldc,
                bool accumulate) {
  switch (M) {
    case 1: small_block<TransA, TransB, 1>(n0, n1, K, A, lda, B, ldb, C, ldc, accumulate); break;
    case 2: small_block<TransA, TransB, 2>(n0, n1, K, A, lda, B, ldb, C, ldc, accumulate); break;
    case 3: small_block<TransA, TransB, 3>(n0, n1, K, A, lda, B, ldb, C, ldc, accumulate); break;
    default: small_block<TransA, TransB, 4>(n0, n1, K, A, lda, B, ldb, C, ldc, accumulate); break;
  }
}

// C (M rows) × columns [n0, n1): the unpacked path for short A, the packed one otherwise.
template <bool TransA, bool TransB>
void block(std::size_t M, std::size_t n0, std::size_t n1, std::size_t K, const float* A,
           std::size_t lda, const float* B, std::size_t ldb, float* C, std::size_t ldc,
           bool accumulate) {
  if (M <= max_small_m) {
    small_rows<TransA, TransB>(M, n0, n1, K, A, lda, B, ldb, C, ldc, accumulate);
  } else {
    packed_block<TransA, TransB>(M, n0, n1, K, A, lda, B, ldb, C, ldc, accumulate);
  }
}

inline constexpr std::size_t column_unit = NR;
inline constexpr std::size_t row_unit = MR;

#else  // FORMA_GEMM_PACKED_SCALAR

// The portable path: the same fma chain per element, 64 columns at a time, K in blocks of 128
// (the chain goes on through C between blocks: the same bits). NT first copies the block's
// 128 × 64 part of Bᵀ into `strip` (the thread's buffer) so that the inner loop is contiguous.
inline constexpr std::size_t portable_cols = 64, portable_k = 128;
struct Workspace {
  static constexpr std::size_t bytes = portable_cols * portable_k * sizeof(float);
};
struct workspace_tag {};

template <bool TransA, bool TransB>
FORMA_ALWAYS_INLINE void portable_block(std::size_t M, std::size_t n0, std::size_t n1,
                                        std::size_t K, const float* A, std::size_t lda,
                                        const float* B, std::size_t ldb, float* C,
                                        std::size_t ldc, bool accumulate, float* strip) {
  constexpr std::size_t cb = portable_cols;
  float acc[cb];
  for (std::size_t j0 = n0; j0 < n1; j0 += cb) {
    const std::size_t cols = std::min(cb, n1 - j0);
    for (std::size_t k0 = 0; k0 < K; k0 += portable_k) {
      const std::size_t kc = std::min(portable_k, K - k0);
      const float* bk = B + k0 * ldb + j0;  // NN: B(k0, j0), row stride ldb
      std::size_t bstride = ldb;
      if constexpr (TransB) {
        for (std::size_t j = 0; j < cols; ++j) {
          const float* row = B + (j0 + j) * ldb + k0;
          for (std::size_t k = 0; k < kc; ++k) strip[k * cb + j] = row[k];
        }
        bk = strip;
        bstride = cb;
      }
      const bool load = accumulate || k0 > 0;
      for (std::size_t i = 0; i < M; ++i) {
        float* c = C + i * ldc + j0;
        for (std::size_t j = 0; j < cols; ++j) acc[j] = load ? c[j] : 0.0f;
        for (std::size_t k = 0; k < kc; ++k) {
          const float ak = *a_at<TransA>(A, lda, i, k0 + k);
          const float* b = bk + k * bstride;
          for (std::size_t j = 0; j < cols; ++j) acc[j] = std::fma(ak, b[j], acc[j]);
        }
        for (std::size_t j = 0; j < cols; ++j) c[j] = acc[j];
      }
    }
  }
}

// Built without FMA instructions (no -mfma / -march), std::fma is a library call per element.
// On x86 with GCC or Clang the same loop is also compiled for AVX2+FMA, where it vectorizes, and
// taken when the CPU has them (checked once): the same bits either way, fma being exact.
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(__FMA__) && !defined(__CUDACC__)
#define FORMA_GEMM_PACKED_FMA_CLONE 1
template <bool TransA, bool TransB>
__attribute__((target("avx2,fma"))) void portable_block_fma(
    std::size_t M, std::size_t n0, std::size_t n1, std::size_t K, const float* A,
    std::size_t lda, const float* B, std::size_t ldb, float* C, std::size_t ldc,
    bool accumulate, float* strip) {
  portable_block<TransA, TransB>(M, n0, n1, K, A, lda, B, ldb, C, ldc, accumulate, strip);
}

inline bool cpu_has_fma() noexcept {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return has;
}
#endif

template <bool TransA, bool TransB>
void block(std::size_t M, std::size_t n0, std::size_t n1, std::size_t K, const float* A,
           std::size_t lda, const float* B, std::size_t ldb, float* C, std::size_t ldc,
           bool accumulate) {
  float* strip = static_cast<float*>(thread_scratch<workspace_tag>(Workspace::bytes));
#if defined(FORMA_GEMM_PACKED_FMA_CLONE)
  if (cpu_has_fma()) {
    portable_block_fma<TransA, TransB>(M, n0, n1, K, A, lda, B, ldb, C, ldc, accumulate, strip);
    return;
  }
#endif
  portable_block<TransA, TransB>(M, n0, n1, K, A, lda, B, ldb, C, ldc, accumulate, strip);
}

inline constexpr std::size_t column_unit = 64;
inline constexpr std::size_t row_unit = 1;


#endif

// Splits C over the threads: contiguous column ranges in `column_unit`s, or row ranges when
// there are fewer column units than threads. Each element's chain is the same either way: a
// thread's part is a whole number of C's rows or columns, each computed over all of K.
template <bool TransA, bool TransB>
void run(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda,
         const float* B, std::size_t ldb, float* C, std::size_t ldc, bool accumulate) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    if (!accumulate) {
      for (std::size_t i = 0; i < M; ++i) std::memset(C + i * ldc, 0, N * sizeof(float));
    }
    return;
  }
  const std::size_t threads = static_cast<std::size_t>(parallel_threads());
  const std::size_t work = M * N * K;
  if (threads <= 1 || work < parallel_min_flops) {
    block<TransA, TransB>(M, 0, N, K, A, lda, B, ldb, C, ldc, accumulate);
    return;
  }
  const std::size_t col_units = (N + column_unit - 1) / column_unit;
  const std::size_t row_units = (M + row_unit - 1) / row_unit;
  if (col_units >= threads || col_units >= row_units) {
    const std::size_t parts = std::min(threads, col_units);
    // parallel_for's own threshold is far below parallel_min_flops: it always forks here.
    parallel_for_scratch<workspace_tag>(parts, work / parts, Workspace::bytes, [&](std::size_t p, void*) {
      const std::size_t u0 = col_units * p / parts, u1 = col_units * (p + 1) / parts;
      const std::size_t n0 = u0 * column_unit, n1 = std::min(N, u1 * column_unit);
      block<TransA, TransB>(M, n0, n1, K, A, lda, B, ldb, C, ldc, accumulate);
    });
  } else {
    const std::size_t parts = std::min(threads, row_units);
    parallel_for_scratch<workspace_tag>(parts, work / parts, Workspace::bytes, [&](std::size_t p, void*) {
      const std::size_t u0 = row_units * p / parts, u1 = row_units * (p + 1) / parts;
      const std::size_t m0 = u0 * row_unit, m1 = std::min(M, u1 * row_unit);
      block<TransA, TransB>(m1 - m0, 0, N, K, a_at<TransA>(A, lda, m0, 0), lda, B, ldb,
                            C + m0 * ldc, ldc, accumulate);
    });
  }
}

}  // namespace detail

// The path this translation unit was compiled for: "avx512", "avx2" or "scalar".
inline constexpr const char* isa = detail::isa_name;

// Allocates every thread's packing buffers now (the calling thread's and the pool's workers'),
// so that no product allocates later; Decoder's constructor calls it. Without it the first
// product a thread takes part in allocates its buffers.
inline void reserve_workspace() {
  reserve_thread_scratch<detail::workspace_tag>(detail::Workspace::bytes);
}

// C (M, N) = [C +] A (M, K) · B (K, N). Row-major; lda ≥ K, ldb ≥ N, ldc ≥ N.
inline void gemm_nn(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda,
                    const float* B, std::size_t ldb, float* C, std::size_t ldc,
                    bool accumulate = false) {
  detail::run<false, false>(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

// C (M, N) = [C +] A (M, K) · B (N, K)ᵀ. Row-major; lda ≥ K, ldb ≥ K, ldc ≥ N.
inline void gemm_nt(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda,
                    const float* B, std::size_t ldb, float* C, std::size_t ldc,
                    bool accumulate = false) {
  detail::run<false, true>(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

// C (M, N) = [C +] A (K, M)ᵀ · B (K, N). Row-major; lda ≥ M, ldb ≥ N, ldc ≥ N. The Linear
// layer's weight gradient dw (out, in) += dy (rows, out)ᵀ · x (rows, in): A = dy, K = rows.
inline void gemm_tn(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda,
                    const float* B, std::size_t ldb, float* C, std::size_t ldc,
                    bool accumulate = false) {
  detail::run<true, false>(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

// Static shapes, dense operands (lda = K, ldb = N or K, ldc = N): the same products with the
// sizes known to the compiler, which picks the path (unpacked or packed, threaded or not) at
// compile time. Same bits as the run-time forms.
template <std::size_t M, std::size_t N, std::size_t K>
FORMA_ALWAYS_INLINE void gemm_nn(const float* A, const float* B, float* C,
                                 bool accumulate = false) {
  if constexpr (M > 0 && N > 0 && K > 0 && M * N * K < parallel_min_flops) {
    detail::block<false, false>(M, 0, N, K, A, K, B, N, C, N, accumulate);
  } else {
    detail::run<false, false>(M, N, K, A, K, B, N, C, N, accumulate);
  }
}

template <std::size_t M, std::size_t N, std::size_t K>
FORMA_ALWAYS_INLINE void gemm_nt(const float* A, const float* B, float* C,
                                 bool accumulate = false) {
  if constexpr (M > 0 && N > 0 && K > 0 && M * N * K < parallel_min_flops) {
    detail::block<false, true>(M, 0, N, K, A, K, B, K, C, N, accumulate);
  } else {
    detail::run<false, true>(M, N, K, A, K, B, K, C, N, accumulate);
  }
}

}  // namespace forma::kernels::cpu::packed
