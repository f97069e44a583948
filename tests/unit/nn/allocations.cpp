// Unit tests: what allocates. Decoding a token through a transformer block allocates nothing (the
// scratch is sized once); flash attention's extra memory is its FlashScratch — a fixed
// workers × (Block·head_dim + 3·Block) floats, whatever the sequence length — while the plain
// path's score buffer grows with it.
//
// Allocations are counted by the unit programs' operator new (tests/support/counting_new.cpp).
#include <doctest/doctest.h>

#include <forma/forma.hpp>

#include "allocation_counter.hpp"
#include "block_fixture.hpp"

using forma::testing::Allocations;
using forma::testing::allocations_now;

using forma::dyn;
using forma::extents;
using forma::Tensor;
namespace nn = forma::nn;

namespace {

constexpr nn::TransformerConfig llama{.dim = 64, .hidden = 172, .layers = 2, .heads = 8,
                                      .kv_heads = 4, .max_seq = 32};
constexpr nn::TransformerConfig llama_flash = [] {
  nn::TransformerConfig c = llama;
  c.flash_block = 8;
  return c;
}();
constexpr nn::TransformerConfig gpt2 = nn::gpt2_block_config(72, 8, 2, 32, 172);

// A static config, run as itself or with every extent dynamic.
template <nn::TransformerConfig Static, bool Dynamic>
struct Case {
  static constexpr nn::TransformerShape shape = nn::static_shape<Static>();
  static constexpr nn::TransformerConfig value =
      Dynamic ? forma::testing::dynamic_of(Static) : Static;
};

template <nn::TransformerConfig C>
auto make_cache(const nn::TransformerShape& s) {
  if constexpr (C.is_static()) {
    return forma::KVCache<C.layers, C.max_seq, C.kv_heads, C.head_dim()>();
  } else {
    return forma::KVCache<dyn, dyn, dyn, dyn>(s.layers, s.max_seq, s.kv_heads, s.head_dim());
  }
}

}  // namespace

TEST_CASE_TEMPLATE("decoding a token through a block allocates nothing",
                   Cfg, Case<llama, false>, Case<llama_flash, false>, Case<gpt2, false>,
                   Case<llama, true>, Case<llama_flash, true>, Case<gpt2, true>) {
  constexpr nn::TransformerConfig C = Cfg::value;
  const nn::TransformerShape s = Cfg::shape;
  const auto w = forma::testing::random_weights(s, 11);
  const auto block = forma::testing::make_block<C>(w, s);
  auto cache = make_cache<C>(s);
  nn::BlockScratch<C, dyn> scratch(s, 1);
  Tensor<float, extents<C.dim>> x(extents<C.dim>(std::array{s.dim}));  // one token
  forma::testing::fill_uniform(x, 12);
  for (std::size_t layer = 0; layer < 2; ++layer) {  // warm up (thread pool, first touch)
    (void)cache.append().value();
    block.forward(x, cache.length() - 1, cache, layer, scratch).value();
  }
  const Allocations before = allocations_now();
  for (std::size_t step = 0; step < 20; ++step) {
    const std::size_t position = cache.append().value();
    for (std::size_t layer = 0; layer < 2; ++layer) {
      block.forward(x, position, cache, layer, scratch).value();
    }
  }
  const Allocations after = allocations_now();
  CHECK(after.count - before.count == 0);
  CHECK(after.bytes - before.bytes == 0);
}

TEST_CASE("flash attention's extra memory is O(block × head_dim), whatever the length") {
  constexpr std::size_t H = 4, KVH = 2, Dh = 16, Block = 16;
  const std::size_t workers = static_cast<std::size_t>(forma::parallel_threads());
  const std::size_t scratch_bytes = workers * (Block * Dh + 3 * Block) * sizeof(float);
  for (const std::size_t T : {std::size_t{32}, std::size_t{256}, std::size_t{1024}}) {
    CAPTURE(T);
    using Q = Tensor<float, extents<dyn, H, Dh>>;
    using KV = Tensor<float, extents<dyn, KVH, Dh>>;
    Q q(T), out(T);
    KV keys(T), values(T);
    forma::testing::fill_uniform(q, 1);
    forma::testing::fill_uniform(keys, 2);
    forma::testing::fill_uniform(values, 3);
    forma::flash_attention<Block>(q, keys, values, T, out);  // warm up the thread pool

    const Allocations before = allocations_now();
    forma::flash_attention<Block>(q, keys, values, T, out);
    const Allocations after = allocations_now();
    MESSAGE("T = " << T << ": flash attention allocated " << after.bytes - before.bytes
                   << " bytes in " << after.count - before.count << " allocation(s); a T×T score "
                   << "matrix per head would be " << H * T * T * sizeof(float) << " bytes");
    CHECK(after.count - before.count == 1);             // the scratch, nothing else
    CHECK(after.bytes - before.bytes == scratch_bytes);  // the same for every T

    // With the caller's scratch: nothing at all.
    forma::FlashScratch<Block> scratch(Dh);
    const Allocations reuse = allocations_now();
    forma::flash_attention<Block>(q, keys, values, T, scratch, out);
    CHECK(allocations_now().count == reuse.count);

    // And it agrees with the plain path, whose (H, T) score buffer grows with T.
    Q plain(T);
    forma::Matrix<float, H, dyn> scores(T);
    forma::attention(q, keys, values, T, scores, plain);
    CHECK(forma::max_abs_diff(out, plain) <= 1e-5);
  }
}
