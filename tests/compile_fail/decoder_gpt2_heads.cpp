// compile-fail: a GPT-2 decoder whose 5 heads do not divide its width 768.
// expect: GPT2Config: heads must divide the width \(head_dim = dim / heads\)
// expect-gcc: note: .forma::rules::divides<5, 768>. evaluates to false
// expect-clang: static_assert failed due to requirement .::forma::rules::divides<5, 768>.
#include <forma/models/decoder.hpp>

constexpr auto good = forma::gpt2_decoder({.dim = 768, .layers = 2, .heads = 12, .vocab = 512,
                                           .max_seq = 64});

int main() {
  [[maybe_unused]] constexpr std::size_t dim = forma::Decoder<good>::dim;
#ifdef FORMA_MISUSE
  constexpr auto bad = forma::gpt2_decoder({.dim = 768, .layers = 2, .heads = 5, .vocab = 512,
                                            .max_seq = 64});
  [[maybe_unused]] constexpr std::size_t bad_dim = forma::Decoder<bad>::dim;
#endif
}
