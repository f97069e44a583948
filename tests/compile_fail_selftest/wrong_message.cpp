// compile-fail: (harness self-test) the build fails, but not with the expected message.
// expect: matmul: inner dimensions differ
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 3> a;
  forma::Matrix<float, 3, 2> b;
#ifdef FORMA_MISUSE
  auto bad = a + b;
  (void)bad;
#endif
}
