// compile-fail: attention backward of 8 query heads over keys with 3 kv heads.
// expect: attention_backward: kv heads must divide heads \(q is \(T, H, Dh\), k is \(T, KVH, Dh\)\)
// expect-gcc: note: .forma::rules::divides<3, 8>. evaluates to false
// expect-clang: static_assert failed due to requirement .::forma::rules::divides<3, 8>.
#include <forma/forma.hpp>

int main() {
  forma::Tensor<float, forma::extents<5, 8, 16>> q, o, d_o, dq;
  forma::Tensor<float, forma::extents<5, 4, 16>> k, v, dk, dv;
  forma::Matrix<float, 5, 8> lse;
  forma::attention_backward(q, k, v, o, lse, d_o, dq, dk, dv);
#ifdef FORMA_MISUSE
  forma::Tensor<float, forma::extents<5, 3, 16>> odd_k, odd_v, odd_dk, odd_dv;
  forma::attention_backward(q, odd_k, odd_v, o, lse, d_o, dq, odd_dk, odd_dv);
#endif
}
