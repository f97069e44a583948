// compile-fail: a Llama decoder with heads of odd width: dim 72 over 8 heads is head_dim 9, and
// RoPE rotates pairs.
// expect: LlamaConfig: head_dim must be even for RoPE \(it rotates pairs\)
// expect-gcc: note: .forma::rules::divides<2, 9>. evaluates to false
// expect-clang: static_assert failed due to requirement .::forma::rules::divides<2, 9>.
#include <forma/models/decoder.hpp>

constexpr auto good = forma::llama_decoder({.dim = 64, .hidden = 172, .layers = 2, .heads = 8,
                                            .kv_heads = 4, .vocab = 512, .max_seq = 64});

int main() {
  [[maybe_unused]] constexpr std::size_t head_dim = forma::Decoder<good>::head_dim;
#ifdef FORMA_MISUSE
  constexpr auto bad = forma::llama_decoder({.dim = 72, .hidden = 172, .layers = 2, .heads = 8,
                                             .kv_heads = 4, .vocab = 512, .max_seq = 64});
  [[maybe_unused]] constexpr std::size_t bad_head_dim = forma::Decoder<bad>::head_dim;
#endif
}
