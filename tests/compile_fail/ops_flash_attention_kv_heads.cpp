// compile-fail: flash attention of 8 query heads over keys with 3 kv heads.
// expect: flash_attention: kv heads must divide heads \(q is \(\.\.\., H, Dh\), keys are \(S, KVH, Dh\)\)
// expect-gcc: divisor = 3; long unsigned int value = 8
// expect-clang: requirement '8UL % 3UL == 0'
#include <forma/forma.hpp>

int main() {
  forma::Tensor<float, forma::extents<5, 8, 16>> q;
  forma::Tensor<float, forma::extents<32, 4, 16>> keys, values;
  auto out = forma::flash_attention<8>(q, keys, values, 5);
  (void)out;
#ifdef FORMA_MISUSE
  forma::Tensor<float, forma::extents<32, 3, 16>> odd_keys, odd_values;
  auto bad = forma::flash_attention<8>(q, odd_keys, odd_values, 5);
  (void)bad;
#endif
}
