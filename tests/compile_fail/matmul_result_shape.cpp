// compile-fail: matmul of (2, 3) by (3, 4) into a (2, 5) result.
// expect: matmul: the result has the wrong number of columns \(must be N\)
// expect-gcc: the comparison reduces to .\(5 == 4\).
// expect-clang: requirement '5UL == 4UL'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 3> a;
  forma::Matrix<float, 3, 4> b;
  forma::Matrix<float, 2, 4> out_ok;
  forma::matmul(a, b, out_ok);
#ifdef FORMA_MISUSE
  forma::Matrix<float, 2, 5> out_bad;
  forma::matmul(a, b, out_bad);
#endif
}
