// compile-fail: a Qwen2 decoder whose 3 kv heads do not divide its 14 query heads.
// expect: Qwen2Config: kv_heads must divide heads \(query heads per kv head\)
// expect-gcc: note: .forma::rules::divides<3, 14>. evaluates to false
// expect-clang: static_assert failed due to requirement .::forma::rules::divides<3, 14>.
#include <forma/models/decoder.hpp>

constexpr auto good = forma::qwen2_decoder({.dim = 896, .hidden = 4864, .layers = 2, .heads = 14,
                                            .kv_heads = 2, .vocab = 512, .max_seq = 64});

int main() {
  [[maybe_unused]] constexpr std::size_t heads = forma::Decoder<good>::heads;
#ifdef FORMA_MISUSE
  constexpr auto bad = forma::qwen2_decoder({.dim = 896, .hidden = 4864, .layers = 2, .heads = 14,
                                             .kv_heads = 3, .vocab = 512, .max_seq = 64});
  [[maybe_unused]] constexpr std::size_t bad_heads = forma::Decoder<bad>::heads;
#endif
}
