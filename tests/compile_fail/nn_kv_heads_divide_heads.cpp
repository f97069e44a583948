// compile-fail: an attention config whose 3 kv heads do not divide its 8 query heads.
// expect: TransformerConfig: kv_heads must divide heads \(query heads per kv head\)
// expect-gcc: divisor = 3; long unsigned int value = 8
// expect-clang: requirement '8UL % 3UL == 0'
#include <forma/nn.hpp>

constexpr forma::nn::TransformerConfig good{.dim = 64, .hidden = 172, .layers = 2, .heads = 8,
                                            .kv_heads = 4, .max_seq = 16};

int main() {
  [[maybe_unused]] constexpr std::size_t heads = forma::nn::Attention<good>::heads;
#ifdef FORMA_MISUSE
  constexpr forma::nn::TransformerConfig bad{.dim = 64, .hidden = 172, .layers = 2, .heads = 8,
                                             .kv_heads = 3, .max_seq = 16};
  [[maybe_unused]] constexpr std::size_t bad_heads = forma::nn::Attention<bad>::heads;
#endif
}
