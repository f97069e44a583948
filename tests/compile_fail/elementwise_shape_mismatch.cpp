// compile-fail: adding a (2, 3) and a (3, 2) matrix element-wise.
// expect: add: shapes differ \(A and B must have the same shape\)
// expect-gcc: the comparison reduces to .\((2 == 3|3 == 2)\).
// expect-clang: requirement '(2UL == 3UL|3UL == 2UL)'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 3> a;
  forma::Matrix<float, 2, 3> b;
  forma::Matrix<float, 3, 2> c;
  auto ok = a + b;
  (void)ok;
#ifdef FORMA_MISUSE
  auto bad = a + c;
  (void)bad;
#endif
}
