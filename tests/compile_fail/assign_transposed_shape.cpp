// compile-fail: initializing a (3, 2) matrix from a (2, 3) one.
// expect: tensor copy: shapes differ \(target and source must have the same shape\)
// expect-gcc: the comparison reduces to .\((3 == 2|2 == 3)\).
// expect-clang: requirement '(3UL == 2UL|2UL == 3UL)'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 3> a;
  forma::Matrix<float, 2, 3> ok = a;
  (void)ok;
#ifdef FORMA_MISUSE
  forma::Matrix<float, 3, 2> bad = a;
  (void)bad;
#endif
}
