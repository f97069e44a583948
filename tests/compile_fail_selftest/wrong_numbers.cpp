// compile-fail: (harness self-test) right message, but the numbers expected are not the ones printed.
// expect: matmul: inner dimensions differ
// expect-gcc: the comparison reduces to .\(3 == 5\).
// expect-clang: requirement '3UL == 5UL'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 3> a;
  forma::Matrix<float, 4, 5> c;
#ifdef FORMA_MISUSE
  auto bad = forma::matmul(a, c);
  (void)bad;
#endif
}
