// compile-fail: copying a transposed (3, 2) view into a (2, 3) matrix.
// expect: copy: shapes differ \(A and B must have the same shape\)
// expect-gcc: the comparison reduces to .\((3 == 2|2 == 3)\).
// expect-clang: requirement '(3UL == 2UL|2UL == 3UL)'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 3> a;
  forma::Matrix<float, 3, 2> t;
  forma::copy(forma::transpose(a), t);
#ifdef FORMA_MISUSE
  forma::Matrix<float, 2, 3> same_as_a;
  forma::copy(forma::transpose(a), same_as_a);
#endif
}
