// compile-fail: viewing a (3, 2) matrix as a (2, 3) matrix view.
// expect: view conversion: shapes differ \(target and source must have the same shape\)
// expect-gcc: the comparison reduces to .\((2 == 3|3 == 2)\).
// expect-clang: requirement '(2UL == 3UL|3UL == 2UL)'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 3, 2> a;
  forma::MatrixView<const float, 3, 2> ok = a.view();
  (void)ok;
#ifdef FORMA_MISUSE
  forma::MatrixView<const float, 2, 3> bad = a.view();
  (void)bad;
#endif
}
