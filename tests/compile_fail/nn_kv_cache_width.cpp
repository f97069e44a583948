// compile-fail: a block with 4 kv heads of width 8 given a KV cache of 2 kv heads (kv width 16, not 32).
// expect: Attention: the kv cache holds another number of kv heads \(cache is \(layers, S, KVH, Dh\)\)
// expect-gcc: the comparison reduces to .\(2 == 4\).
// expect-clang: requirement '2UL == 4UL'
#include <forma/forma.hpp>

namespace nn = forma::nn;
constexpr nn::TransformerConfig config{.dim = 64, .hidden = 172, .layers = 2, .heads = 8,
                                       .kv_heads = 4, .max_seq = 16};
using Block = nn::TransformerBlock<config>;
using Attention = Block::attention_type;

int main() {
  forma::Vector<float, 64> norm, x;
  forma::Matrix<float, 64, 64> wq, wo;
  forma::Matrix<float, 32, 64> wk, wv;
  forma::Matrix<float, 172, 64> w1, w3;
  forma::Matrix<float, 64, 172> w2;
  const Block block{Block::norm_type(norm),
                    Attention(Attention::query_projection(wq), Attention::kv_projection(wk),
                              Attention::kv_projection(wv), Attention::query_projection(wo)),
                    Block::norm_type(norm), Block::feed_forward_type(w1, w2, w3)};
  nn::BlockScratch<config> scratch;
  forma::KVCache<2, 16, 4, 8> cache;
  (void)block.forward(x, 0, cache, 0, scratch);
#ifdef FORMA_MISUSE
  forma::KVCache<2, 16, 2, 8> other;
  (void)block.forward(x, 0, other, 0, scratch);
#endif
}
