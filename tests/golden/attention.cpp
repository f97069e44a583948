// Golden tests: causal attention (MHA 8/8, GQA 8/4, MQA 8/1; decode T = 1, prefill, prefill at an
// offset, full capacity), plain and flash (block sizes 1, 4, 16), against PyTorch's scaled
// dot-product attention, and flash against plain.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include <forma/forma.hpp>

#include "golden_support.hpp"

using forma::dyn;
using forma::extents;
using forma::Tensor;

namespace {

// Static (H, KVH, Dh) or all-dynamic shapes; the cache holds S = 16 positions.
template <std::size_t H, std::size_t KVH, std::size_t Dh, bool Static>
struct Heads {
  static constexpr std::size_t heads = H, kv_heads = KVH, head_dim = Dh, capacity = 16;
  static constexpr const char* extents_kind = Static ? "static" : "dynamic";
  using q_extents = std::conditional_t<Static, extents<dyn, H, Dh>, forma::dextents<3>>;
  using kv_extents = std::conditional_t<Static, extents<16, KVH, Dh>, forma::dextents<3>>;
  using scores_extents = std::conditional_t<Static, extents<H, 16>, forma::dextents<2>>;
};

template <class E, class... Sizes>
E make(Sizes... sizes) {
  return E(std::array<std::size_t, E::rank()>{static_cast<std::size_t>(sizes)...});
}

}  // namespace

TEST_CASE_TEMPLATE("attention and flash attention match PyTorch", S, Heads<8, 8, 9, true>,
                   Heads<8, 4, 8, true>, Heads<8, 1, 8, true>, Heads<8, 8, 9, false>,
                   Heads<8, 4, 8, false>, Heads<8, 1, 8, false>) {
  const std::string group = "attention/h" + std::to_string(S::heads) + "_kv" + std::to_string(S::kv_heads);
  for (const std::string name : {"decode_first", "decode", "prefill", "offset", "full"}) {
    const std::string fixture = group + "/" + name;
    const auto q_file = golden::load_dyn<3>(fixture, "q");
    const auto keys_file = golden::load_dyn<3>(fixture, "keys");
    const auto values_file = golden::load_dyn<3>(fixture, "values");
    const auto expected = golden::load_dyn<3>(fixture, "out");
    const std::size_t T = q_file.extent(0), length = keys_file.extent(0);
    const std::string detail = "H " + std::to_string(S::heads) + ", KVH " + std::to_string(S::kv_heads) +
                               ", " + name + " (T " + std::to_string(T) + ", length " +
                               std::to_string(length) + " of 16), " + S::extents_kind;
    using Q = Tensor<float, typename S::q_extents>;
    using KV = Tensor<float, typename S::kv_extents>;
    Q q(make<typename S::q_extents>(T, S::heads, S::head_dim));
    forma::copy(q_file, q);
    // The cache: capacity 16, the first `length` positions filled, the rest garbage that must not
    // be read.
    KV keys(make<typename S::kv_extents>(S::capacity, S::kv_heads, S::head_dim));
    KV values(make<typename S::kv_extents>(S::capacity, S::kv_heads, S::head_dim));
    forma::fill(keys, 1e30f);
    forma::fill(values, 1e30f);
    std::copy(keys_file.begin(), keys_file.end(), keys.begin());
    std::copy(values_file.begin(), values_file.end(), values.begin());

    Q plain(make<typename S::q_extents>(T, S::heads, S::head_dim));
    Tensor<float, typename S::scores_extents> scores(make<typename S::scores_extents>(S::heads, S::capacity));
    forma::attention(q, keys, values, length, scores, plain);
    golden::check("attention", detail, plain, expected, 1e-5);

    Q flash(make<typename S::q_extents>(T, S::heads, S::head_dim));
    forma::FlashScratch<4> scratch4(S::head_dim);
    forma::flash_attention<4>(q, keys, values, length, scratch4, flash);
    golden::check("flash_attention<4>", detail, flash, expected, 1e-5);
    golden::check("flash_attention<4> vs plain", detail, flash, plain, 1e-5);
    forma::flash_attention<1>(q, keys, values, length, flash);
    golden::check("flash_attention<1>", detail, flash, expected, 1e-5);
    golden::check("flash_attention<1> vs plain", detail, flash, plain, 1e-5);
    forma::flash_attention<16>(q, keys, values, length, flash);
    golden::check("flash_attention<16>", detail, flash, expected, 1e-5);
    golden::check("flash_attention<16> vs plain", detail, flash, plain, 1e-5);
  }
}
