// compile-fail: a Llama config whose 7 heads do not divide its width 64.
// expect: LlamaConfig: heads must divide dim \(head_dim = dim / heads\)
// expect-gcc: note: .forma::rules::divides<7, 64>. evaluates to false
// expect-clang: static_assert failed due to requirement .::forma::rules::divides<7, 64>.
#include <forma/models/llama_config.hpp>

constexpr forma::LlamaConfig good{.dim = 64, .hidden = 172, .layers = 5, .heads = 8, .kv_heads = 4,
                                  .vocab = 512, .max_seq = 512};

int main() {
  forma::llama_config_rules<good>(forma::static_shape<good>());
#ifdef FORMA_MISUSE
  constexpr forma::LlamaConfig bad{.dim = 64, .hidden = 172, .layers = 5, .heads = 7,
                                   .kv_heads = 7, .vocab = 512, .max_seq = 512};
  forma::llama_config_rules<bad>(forma::static_shape<bad>());
#endif
}
