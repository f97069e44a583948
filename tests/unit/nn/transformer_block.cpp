// Unit tests: TransformerBlock for both families (Llama: RMSNorm, RoPE, GQA, SwiGLU; GPT-2:
// LayerNorm, MHA with biases, GELU MLP) against a float64 reference; prefill (chunked) against
// decode; static against dynamic configs; plain against flash attention.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include <forma/forma.hpp>

#include "block_fixture.hpp"

using forma::dyn;
using forma::Matrix;
using forma::nn::TransformerConfig;
namespace nn = forma::nn;
namespace ref = forma::testing::reference;
using forma::testing::Config;

namespace {

constexpr TransformerConfig llama_gqa{.dim = 64, .hidden = 172, .layers = 2, .heads = 8,
                                      .kv_heads = 4, .max_seq = 16};
constexpr TransformerConfig llama_mqa{.dim = 64, .hidden = 172, .layers = 3, .heads = 8,
                                      .kv_heads = 1, .max_seq = 12};
constexpr TransformerConfig llama_72{.dim = 72, .hidden = 172, .layers = 1, .heads = 4,
                                     .kv_heads = 2, .max_seq = 9};
constexpr TransformerConfig hf_half{.dim = 64, .hidden = 96, .layers = 1, .heads = 4,
                                    .kv_heads = 4, .max_seq = 10,
                                    .position = nn::position_kind::rope_half,
                                    .rope_theta = 500000.0f};
constexpr TransformerConfig gpt2 = nn::gpt2_block_config(72, 8, 2, 16, 172);
constexpr TransformerConfig gpt2_erf = [] {
  TransformerConfig c = nn::gpt2_block_config(72, 6, 1, 9, 288);
  c.ffn = nn::ffn_kind::gelu_erf;
  return c;
}();
constexpr TransformerConfig llama_flash = [] {
  TransformerConfig c = llama_gqa;
  c.flash_block = 4;
  return c;
}();
constexpr TransformerConfig gpt2_flash = [] {
  TransformerConfig c = gpt2;
  c.flash_block = 3;
  return c;
}();

template <TransformerConfig C>
constexpr nn::TransformerShape shape_of = nn::static_shape<C>();

// Runs `block` over x (T, D) from position 0 as one call with a scratch of `rows` rows.
template <TransformerConfig C, class Block, class Cache, forma::summation Sum = forma::fast_sum_t>
Matrix<float, dyn, dyn> run_prefill(const Block& block, const nn::TransformerShape& s, Cache& cache,
                                    const Matrix<float, dyn, dyn>& x, std::size_t rows, Sum = {}) {
  Matrix<float, dyn, dyn> y = x;
  nn::BlockScratch<C, dyn> scratch(s, rows);
  const std::size_t first = cache.append(x.extent(0)).value();
  REQUIRE(first == 0);
  block.forward(y, 0, cache, s.layers - 1, scratch, Sum{}).value();
  return y;
}

}  // namespace

// Token by token through the decode path (one row per call).
template <TransformerConfig C, class Block, forma::summation Sum = forma::fast_sum_t>
Matrix<float, dyn, dyn> run_decode(const Block& block, const nn::TransformerShape& s,
                                   const Matrix<float, dyn, dyn>& x, Sum = {}) {
  forma::KVCache<C.layers, C.max_seq, C.kv_heads, C.head_dim()> cache;
  nn::BlockScratch<C> scratch;
  Matrix<float, dyn, dyn> decoded = x;
  for (std::size_t t = 0; t < x.extent(0); ++t) {
    const std::size_t position = cache.append().value();
    auto row = decoded[t];
    block.forward(row, position, cache, s.layers - 1, scratch, Sum{}).value();
  }
  return decoded;
}

TEST_CASE_TEMPLATE("a block matches the float64 reference, and prefill, chunked prefill, decode and a "
                   "dynamic config agree (fast_sum within 1e-5, ordered_sum bit for bit)",
                   Cfg, Config<llama_gqa>, Config<llama_mqa>, Config<llama_72>, Config<hf_half>,
                   Config<gpt2>, Config<gpt2_erf>, Config<llama_flash>, Config<gpt2_flash>) {
  constexpr TransformerConfig C = Cfg::value;
  constexpr TransformerConfig D = forma::testing::dynamic_of(C);
  const nn::TransformerShape s = shape_of<C>;
  const auto w = forma::testing::random_weights(s, 100);
  const auto block = forma::testing::make_block<C>(w, s);
  const auto dynamic_block = forma::testing::make_block<D>(w, s);
  // T = max_seq: the cache ends full.
  const std::size_t T = s.max_seq;
  Matrix<float, dyn, dyn> x(T, s.dim);
  forma::testing::fill_uniform(x, 7, -1.0, 1.0);
  const auto expected = forma::testing::reference_block<C>(w, s, ref::to_doubles(x));
  using KV = forma::KVCache<C.layers, C.max_seq, C.kv_heads, C.head_dim()>;
  using DynamicKV = forma::KVCache<dyn, dyn, dyn, dyn>;

  KV cache;
  const auto whole = run_prefill<C>(block, s, cache, x, T);
  const double error = ref::max_abs_diff(whole, expected);
  MESSAGE("block vs float64 reference: max abs error " << error);
  CHECK(error <= 1e-4);
  CHECK(cache.full());

  // fast_sum: a projection of several rows runs the packed GEMM, of one row the GEMV kernel; the
  // two round differently, so chunkings and the decode path agree to rounding only.
  KV chunk_cache;
  const auto chunked = run_prefill<C>(block, s, chunk_cache, x, 3);
  CHECK(ref::max_abs_diff(chunked, ref::to_doubles(whole)) <= 1e-5);
  const auto decoded = run_decode<C>(block, s, x);
  CHECK(ref::max_abs_diff(decoded, ref::to_doubles(whole)) <= 1e-5);
  DynamicKV dynamic_cache(s.layers, s.max_seq, s.kv_heads, s.head_dim());
  const auto dynamic = run_prefill<D>(dynamic_block, s, dynamic_cache, x, 4);
  CHECK(ref::max_abs_diff(dynamic, ref::to_doubles(whole)) <= 1e-5);
  // The static and the dynamic config with the same chunking: the same bits.
  DynamicKV dynamic_cache3(s.layers, s.max_seq, s.kv_heads, s.head_dim());
  const auto dynamic3 = run_prefill<D>(dynamic_block, s, dynamic_cache3, x, 3);
  CHECK(std::memcmp(dynamic3.data(), chunked.data(), chunked.size_bytes()) == 0);

  // ordered_sum: every path is the same left-to-right sum per element, the same bits.
  KV ordered_cache, ordered_chunk_cache;
  const auto ordered = run_prefill<C>(block, s, ordered_cache, x, T, forma::ordered_sum);
  CHECK(ref::max_abs_diff(ordered, expected) <= 1e-4);
  const auto ordered_chunked = run_prefill<C>(block, s, ordered_chunk_cache, x, 3, forma::ordered_sum);
  CHECK(std::memcmp(ordered_chunked.data(), ordered.data(), ordered.size_bytes()) == 0);
  const auto ordered_decoded = run_decode<C>(block, s, x, forma::ordered_sum);
  CHECK(std::memcmp(ordered_decoded.data(), ordered.data(), ordered.size_bytes()) == 0);
  DynamicKV ordered_dynamic_cache(s.layers, s.max_seq, s.kv_heads, s.head_dim());
  const auto ordered_dynamic =
      run_prefill<D>(dynamic_block, s, ordered_dynamic_cache, x, 4, forma::ordered_sum);
  CHECK(std::memcmp(ordered_dynamic.data(), ordered.data(), ordered.size_bytes()) == 0);
}

TEST_CASE("flash and plain attention give the same block within 1e-5") {
  const nn::TransformerShape s = shape_of<llama_gqa>;
  const auto w = forma::testing::random_weights(s, 300);
  const auto plain = forma::testing::make_block<llama_gqa>(w, s);
  const auto flash = forma::testing::make_block<llama_flash>(w, s);
  Matrix<float, dyn, dyn> x(s.max_seq, s.dim);
  forma::testing::fill_uniform(x, 8);
  forma::KVCache<2, 16, 4, 8> a, b;
  const auto y_plain = run_prefill<llama_gqa>(plain, s, a, x, 5);
  const auto y_flash = run_prefill<llama_flash>(flash, s, b, x, 5);
  CHECK(forma::max_abs_diff(y_plain, y_flash) <= 1e-5);
}

TEST_CASE("a block refuses positions the cache has not reserved, and a layer past the layers") {
  const nn::TransformerShape s = shape_of<llama_gqa>;
  const auto w = forma::testing::random_weights(s, 1);
  const auto block = forma::testing::make_block<llama_gqa>(w, s);
  forma::KVCache<2, 16, 4, 8> cache;
  nn::BlockScratch<llama_gqa> scratch;
  forma::Vector<float, 64> x;
  forma::testing::fill_uniform(x, 2);
  const auto before = x;
  const auto missing = block.forward(x, 0, cache, 0, scratch);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == forma::errc::out_of_range);
  CHECK(missing.error().message ==
        "TransformerBlock: positions 0..0 are not reserved in the kv cache (length 0); append them first");
  CHECK(forma::max_abs_diff(x, before) == 0.0);
  (void)cache.append(3).value();
  CHECK_FALSE(block.forward(x, 3, cache, 0, scratch));
  CHECK(block.forward(x, 2, cache, 1, scratch));
  CHECK_THROWS_WITH_AS((void)block.forward(x, 2, cache, 2, scratch),
                       "TransformerBlock: the layer index is past the layers (layer < layers fails): 2 >= 2",
                       forma::shape_error);
}

TEST_CASE("a dynamic block checks its weights, norms and cache at run time") {
  constexpr TransformerConfig D = forma::testing::dynamic_of(llama_gqa);
  const nn::TransformerShape s = shape_of<llama_gqa>;
  const auto w = forma::testing::random_weights(s, 3);
  const auto block = forma::testing::make_block<D>(w, s);
  nn::BlockScratch<D, dyn> scratch(s, 2);
  Matrix<float, dyn, dyn> x(2, 64);
  forma::KVCache<dyn, dyn, dyn, dyn> three_layers(3, 16, 4, 8);
  (void)three_layers.append(2).value();
  CHECK_THROWS_WITH_AS((void)block.forward(x, 0, three_layers, 0, scratch),
                       "Attention: the kv cache has another layer count than the model (cache is "
                       "(layers, S, KVH, Dh)): 3 != 2",
                       forma::shape_error);
  forma::KVCache<dyn, dyn, dyn, dyn> too_long(2, 17, 4, 8);
  CHECK_THROWS_AS((void)block.forward(x, 0, too_long, 0, scratch), forma::shape_error);
  Matrix<float, dyn, dyn> narrow(2, 60);
  CHECK_THROWS_WITH_AS((void)block.forward(narrow, 0, three_layers, 0, scratch),
                       "TransformerBlock: the input width differs from the model width (x is (T, "
                       "D)): 60 != 64",
                       forma::shape_error);
  nn::TransformerShape bad = s;
  bad.heads = 6;
  using A = nn::Attention<D>;
  CHECK_THROWS_WITH_AS(A(A::query_projection(w.wq), A::kv_projection(w.wk), A::kv_projection(w.wv),
                         A::query_projection(w.wo), bad),
                       "TransformerConfig: heads must divide dim (head_dim = dim / heads): 6 does "
                       "not divide 64",
                       forma::shape_error);
}

TEST_CASE("a cache smaller than max_seq serves the block") {
  const nn::TransformerShape s = shape_of<llama_gqa>;
  const auto w = forma::testing::random_weights(s, 5);
  const auto block = forma::testing::make_block<llama_gqa>(w, s);
  Matrix<float, dyn, dyn> x(6, 64);
  forma::testing::fill_uniform(x, 6);
  forma::KVCache<2, 16, 4, 8> full;
  forma::KVCache<2, dyn, 4, 8> small(2, 6, 4, 8);
  const auto a = run_prefill<llama_gqa>(block, s, full, x, 6);
  const auto b = run_prefill<llama_gqa>(block, s, small, x, 6);
  CHECK(std::memcmp(a.data(), b.data(), a.size_bytes()) == 0);
  CHECK_FALSE(small.append());  // full: errc::capacity, nothing written
}
