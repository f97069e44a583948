// compile-fail: a (4, 3) matrix times a vector of length 4.
// expect: matvec: the vector's length differs from the matrix's columns \(A is \(M, K\), x is \(K\)\)
// expect-gcc: the comparison reduces to .\(3 == 4\).
// expect-clang: requirement '3UL == 4UL'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 4, 3> a;
  forma::Vector<float, 3> x;
  auto ok = forma::matvec(a, x);
  (void)ok;
#ifdef FORMA_MISUSE
  forma::Vector<float, 4> y;
  auto bad = forma::matvec(a, y);
  (void)bad;
#endif
}
