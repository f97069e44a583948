// compile-fail: an attention config whose 3 kv heads do not divide its 8 query heads.
// expect: TransformerConfig: kv_heads must divide heads \(query heads per kv head\)
// expect-gcc: note: .forma::rules::divides<3, 8>. evaluates to false
// expect-clang: static_assert failed due to requirement .::forma::rules::divides<3, 8>.
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
