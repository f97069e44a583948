// compile-fail: an (8, 64) matrix as the key projection of a layer whose keys are 32 wide
// (4 kv heads of 8: wk is (kv_dim, dim) = (32, 64)).
// expect: view conversion: shapes differ \(target and source must have the same shape\)
// expect-gcc: the comparison reduces to .\((32 == 8|8 == 32)\).
// expect-clang: requirement '(32UL == 8UL|8UL == 32UL)'
#include <forma/models/decoder_weights.hpp>

constexpr auto config = forma::llama_decoder({.dim = 64, .hidden = 172, .layers = 2, .heads = 8,
                                              .kv_heads = 4, .vocab = 512, .max_seq = 64});

int main() {
  static_assert(config.kv_dim() == 32);
  forma::DecoderLayerWeights<config> layer;
  forma::TensorView<const float, forma::extents<32, 64>> keys;
  layer.wk = keys;
#ifdef FORMA_MISUSE
  forma::TensorView<const float, forma::extents<8, 64>> wrong_rows;
  layer.wk = wrong_rows;
#endif
  (void)layer;
}
