// compile-fail: RoPE on heads of odd width 9 (it rotates pairs).
// expect: rope: head_dim must be even \(RoPE rotates pairs; x is \(\.\.\., H, Dh\)\)
// expect-gcc: note: .forma::rules::divides<2, 9>. evaluates to false
// expect-clang: static_assert failed due to requirement .::forma::rules::divides<2, 9>.
#include <forma/forma.hpp>

int main() {
  forma::Tensor<float, forma::extents<4, 8>> heads;
  forma::rope(heads, 3);
#ifdef FORMA_MISUSE
  forma::Tensor<float, forma::extents<4, 9>> odd;
  forma::rope(odd, 3);
#endif
}
