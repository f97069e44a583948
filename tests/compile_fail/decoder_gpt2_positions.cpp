// compile-fail: a GPT-2 decoder whose learned position table (512 rows) is shorter than the
// context it runs (max_seq 1024).
// expect: GPT2Config: the learned position table is shorter than the context
// expect-gcc: the comparison reduces to .\(1024 < 513\).
// expect-clang: requirement .1024UL < 513UL.
#include <forma/models/decoder.hpp>

constexpr auto good = forma::gpt2_decoder({.dim = 768, .layers = 2, .heads = 12, .vocab = 512,
                                           .max_seq = 512, .positions = 1024});

int main() {
  [[maybe_unused]] constexpr std::size_t max_seq = forma::Decoder<good>::max_seq;
#ifdef FORMA_MISUSE
  constexpr auto bad = forma::gpt2_decoder({.dim = 768, .layers = 2, .heads = 12, .vocab = 512,
                                            .max_seq = 1024, .positions = 512});
  [[maybe_unused]] constexpr std::size_t bad_max_seq = forma::Decoder<bad>::max_seq;
#endif
}
