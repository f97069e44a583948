// Unit tests: TransformerBlock::from_llama driven by a LlamaWeights (the shipped stories260K
// checkpoint, GQA 8/4) computes what forma::Llama — llama2.c's run.c — computes, bit for bit, in
// both summation orders, for a static and a dynamic config.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <forma/forma.hpp>
#include <forma/io/llama2c.hpp>
#include <forma/models/llama.hpp>
#include <forma/models/presets.hpp>

namespace nn = forma::nn;
namespace llama2c = forma::io::llama2c;
using forma::dyn;
using forma::extents;
using forma::Tensor;

namespace {

const std::string stories_path = FORMA_SOURCE_DIR "/models/stories260K/stories260K.bin";

// A Llama forward pass assembled from nn blocks: embedding → blocks → final RMSNorm → classifier.
template <forma::LlamaConfig LC, forma::summation Sum>
class BlockLlama {
 public:
  static constexpr nn::TransformerConfig C = nn::llama_block_config(LC);
  using Block = nn::TransformerBlock<C>;

  explicit BlockLlama(const forma::LlamaWeights<LC>& w)
      : embedding_(w.token_embedding),
        final_norm_(w.rms_final, LC.norm_eps),
        classifier_(w.classifier),
        shape_{w.shape.dim, w.shape.hidden, w.shape.layers, w.shape.heads, w.shape.kv_heads,
               w.shape.max_seq},
        cache_(w.shape.layers, w.shape.max_seq, w.shape.kv_heads, w.shape.head_dim()),
        scratch_(shape_, 1),
        x_(extents<LC.dim>(std::array{w.shape.dim})),
        logits_(extents<LC.vocab>(std::array{w.shape.vocab})) {
    for (std::size_t l = 0; l < w.shape.layers; ++l) blocks_.push_back(Block::from_llama(w, l));
  }

  const Tensor<float, extents<LC.vocab>>& forward(std::int32_t token) {
    const std::size_t position = cache_.append().value();
    embedding_.forward(token, x_).value();
    for (std::size_t l = 0; l < blocks_.size(); ++l) {
      blocks_[l].forward(x_, position, cache_, l, scratch_, Sum{}).value();
    }
    final_norm_.forward(x_, x_);
    classifier_.forward(x_, logits_, Sum{});
    return logits_;
  }

 private:
  nn::Embedding<LC.vocab, LC.dim> embedding_;
  nn::RMSNorm<LC.dim> final_norm_;
  nn::Linear<LC.dim, LC.vocab> classifier_;
  nn::TransformerShape shape_;
  forma::KVCache<LC.layers, dyn, LC.kv_heads, C.head_dim()> cache_;
  nn::BlockScratch<C, dyn> scratch_;
  std::vector<Block> blocks_;
  Tensor<float, extents<LC.dim>> x_;
  Tensor<float, extents<LC.vocab>> logits_;
};

template <forma::LlamaConfig LC, forma::summation Sum>
void check_same_logits() {
  auto checkpoint = llama2c::load<LC>(stories_path).value();
  forma::Llama<LC, 32, Sum> model(checkpoint.weights());
  BlockLlama<LC, Sum> blocks(checkpoint.weights());
  std::int32_t token = 1;
  for (std::size_t pos = 0; pos < 24; ++pos) {
    const auto expected = model.forward(token, pos).value();
    const auto& got = blocks.forward(token);
    REQUIRE(got.size() == expected.size());
    CHECK(std::memcmp(got.data(), expected.data(), expected.size_bytes()) == 0);
    token = static_cast<std::int32_t>((pos * 131 + 7) % 512);
  }
}

}  // namespace

TEST_CASE("Llama blocks built from LlamaWeights reproduce forma::Llama (run.c) bit for bit") {
  check_same_logits<forma::presets::stories260k, forma::ordered_sum_t>();
  check_same_logits<forma::presets::stories260k, forma::fast_sum_t>();
  check_same_logits<forma::presets::any_llama, forma::ordered_sum_t>();
}
