// compile-fail: RoPE on heads of odd width: dim 72 over 8 heads is head_dim 9 (learned positions,
// as GPT-2 uses, are fine with it).
// expect: TransformerConfig: head_dim must be even for RoPE \(it rotates pairs\)
// expect-gcc: note: .forma::rules::divides<2, 9>. evaluates to false
// expect-clang: static_assert failed due to requirement .::forma::rules::divides<2, 9>.
#include <forma/nn.hpp>

constexpr forma::nn::TransformerConfig learned = forma::nn::gpt2_block_config(72, 8, 2, 16, 172);

int main() {
  [[maybe_unused]] constexpr std::size_t head_dim = forma::nn::Attention<learned>::head_dim;
#ifdef FORMA_MISUSE
  constexpr forma::nn::TransformerConfig rope{.dim = 72, .hidden = 172, .layers = 2, .heads = 8,
                                              .kv_heads = 8, .max_seq = 16};
  [[maybe_unused]] constexpr std::size_t rope_head_dim = forma::nn::Attention<rope>::head_dim;
#endif
}
