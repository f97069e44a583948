// Host-side launch math, checked at compile time where it can be: block and grid sizes, the
// reduction's step count, and each kernel body's shared-memory tile against every architecture
// forma builds for (48 KiB of static __shared__ per block on sm_80 ... sm_90).
#include <doctest/doctest.h>

#include <forma/kernels/cuda/activation.hpp>
#include <forma/kernels/cuda/attention.hpp>
#include <forma/kernels/cuda/elementwise.hpp>
#include <forma/kernels/cuda/flash_attention.hpp>
#include <forma/kernels/cuda/gemm.hpp>
#include <forma/kernels/cuda/grid.hpp>
#include <forma/kernels/cuda/norm.hpp>
#include <forma/kernels/cuda/reduce.hpp>
#include <forma/kernels/cuda/rope.hpp>
#include <forma/kernels/cuda/sampling.hpp>
#include <forma/kernels/cuda/softmax.hpp>

namespace kc = forma::kernels::cuda;

// The tiles, as the launchers see them: float/double/pair per thread of the widest block.
static_assert(sizeof(kc::rmsnorm_body::shared_type) == 256 * sizeof(float));
static_assert(sizeof(kc::layernorm_body::shared_type) == 256 * sizeof(double));
static_assert(sizeof(kc::softmax_body::shared_type) == 1024);
static_assert(sizeof(kc::gemv_body::shared_type) == 1024);
static_assert(sizeof(kc::argmax_body::shared_type) == 256 * 8);
static_assert(sizeof(kc::decode_attention_body::shared_type) == 1024);
// Flash attention: a 32-row tile of keys and one of values, head_dim up to 128: 32 KiB.
static_assert(sizeof(kc::flash_attention_body::shared_type) == 2 * 32 * 128 * sizeof(float));
static_assert(kc::fits_every_architecture<kc::flash_attention_body>());
static_assert(kc::fits_every_architecture<kc::rmsnorm_body>());
static_assert(kc::fits_every_architecture<kc::layernorm_body>());
static_assert(kc::fits_every_architecture<kc::softmax_body>());
static_assert(kc::fits_every_architecture<kc::gemv_body>());
static_assert(kc::fits_every_architecture<kc::gemv_bf16_body>());
static_assert(kc::fits_every_architecture<kc::gemv_q8_0_body>());
static_assert(kc::fits_every_architecture<kc::argmax_body>());
static_assert(kc::fits_every_architecture<kc::top_p_body>());
static_assert(kc::fits_every_architecture<kc::decode_attention_body>());
static_assert(kc::fits_every_architecture<kc::activation_body>());
static_assert(kc::fits_every_architecture<kc::embedding_body>());
static_assert(kc::fits_every_architecture<kc::rope_body<kc::rope_layout::half>>());

namespace {
// A tile one byte too large for sm_86's static shared memory.
struct too_big_body {
  struct shared_type {
    unsigned char bytes[48 * 1024 + 1];
  };
};
}  // namespace
static_assert(!kc::fits_every_architecture<too_big_body>());

// Reduction blocks: powers of two in [32, 256], no wider than the row.
static_assert(kc::reduction_block(0) == 32 && kc::reduction_block(1) == 32);
static_assert(kc::reduction_block(32) == 32 && kc::reduction_block(33) == 64);
static_assert(kc::reduction_block(200) == 256 && kc::reduction_block(256) == 256);
static_assert(kc::reduction_block(100000) == 256);
static_assert(kc::reduction_steps(32) == 5 && kc::reduction_steps(256) == 8 && kc::reduction_steps(1) == 0);
static_assert(kc::rows_launch(6, 288) == kc::launch_shape{6, 256});
static_assert(kc::rows_launch(1, 64) == kc::launch_shape{1, 64});
static_assert(kc::elementwise_launch(0) == kc::launch_shape{1, 256});
static_assert(kc::elementwise_launch(256) == kc::launch_shape{1, 256});
static_assert(kc::elementwise_launch(257) == kc::launch_shape{2, 256});
// stories110M's decode shapes: dim 768, hidden 2048, vocab 32000, 12 heads.
static_assert(kc::rows_launch(32000, 768) == kc::launch_shape{32000, 256});
static_assert(kc::elementwise_launch(2048) == kc::launch_shape{8, 256});

TEST_CASE("launch: phase counts follow the block size") {
  const kc::rmsnorm_body rmsnorm{};
  CHECK(rmsnorm.phases(32) == 7);
  CHECK(rmsnorm.phases(256) == 10);
  const kc::softmax_body softmax{};
  CHECK(softmax.phases(64) == 16);
  const kc::decode_attention_body attention{};
  CHECK(attention.phases(256) == 21);
}

TEST_CASE("launch: shapes past gridDim.x's limit are refused with a shape error") {
  CHECK_THROWS(kc::rows_launch(kc::max_grid_blocks + 1, 10));
  CHECK_THROWS(kc::elementwise_launch((kc::max_grid_blocks + 1) * 256));
  CHECK_NOTHROW(kc::elementwise_launch(kc::max_grid_blocks * 256));
}

TEST_CASE("launch: the CPU grid runner refuses blocks that are not powers of two up to 256") {
  const kc::activation_body body{nullptr, nullptr, 0, kc::activation::silu};
  CHECK_THROWS(kc::run_on_cpu_grid(body, kc::launch_shape{1, 100}));
  CHECK_THROWS(kc::run_on_cpu_grid(body, kc::launch_shape{1, 512}));
  CHECK_NOTHROW(kc::run_on_cpu_grid(body, kc::launch_shape{1, 128}));
}
