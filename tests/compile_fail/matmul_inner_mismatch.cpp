// compile-fail: matmul of (2, 3) by (4, 5): the inner dimensions 3 and 4 differ.
// expect: matmul: inner dimensions differ \(A is \(M, K\), B is \(K, N\)\)
// expect-gcc: the comparison reduces to .\(3 == 4\).
// expect-clang: requirement '3UL == 4UL'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 3> a;
  forma::Matrix<float, 3, 5> b;
  forma::Matrix<float, 4, 5> c;
  auto ok = forma::matmul(a, b);
  (void)ok;
#ifdef FORMA_MISUSE
  auto bad = forma::matmul(a, c);
  (void)bad;
#endif
}
