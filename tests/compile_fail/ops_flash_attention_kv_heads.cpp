// compile-fail: flash attention of 8 query heads over keys with 3 kv heads.
// expect: flash_attention: kv heads must divide heads \(q is \(\.\.\., H, Dh\), keys are \(S, KVH, Dh\)\)
// expect-gcc: note: .forma::rules::divides<3, 8>. evaluates to false
// expect-clang: static_assert failed due to requirement .::forma::rules::divides<3, 8>.
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
