// compile-fail: an attention config whose 7 heads do not divide its width 64.
// expect: TransformerConfig: heads must divide dim \(head_dim = dim / heads\)
// expect-gcc: note: .forma::rules::divides<7, 64>. evaluates to false
// expect-clang: static_assert failed due to requirement .::forma::rules::divides<7, 64>.
#include <forma/nn.hpp>

constexpr forma::nn::TransformerConfig good{.dim = 64, .hidden = 172, .layers = 2, .heads = 8,
                                            .kv_heads = 4, .max_seq = 16};

int main() {
  [[maybe_unused]] constexpr std::size_t width = forma::nn::TransformerBlock<good>::dim;
#ifdef FORMA_MISUSE
  constexpr forma::nn::TransformerConfig bad{.dim = 64, .hidden = 172, .layers = 2, .heads = 7,
                                             .kv_heads = 7, .max_seq = 16};
  [[maybe_unused]] constexpr std::size_t bad_width = forma::nn::TransformerBlock<bad>::dim;
#endif
}
