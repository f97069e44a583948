// compile-fail: (harness self-test) the "misuse" is legal code, so the misuse test must fail.
// expect: matmul
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 3> a;
#ifdef FORMA_MISUSE
  auto fine = a + a;
  (void)fine;
#endif
}
