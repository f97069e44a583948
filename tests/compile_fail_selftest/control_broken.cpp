// compile-fail: (harness self-test) the control itself does not compile, so the control test must fail.
// expect: .*
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 3> a;
  auto broken = forma::matmul(a, a);
  (void)broken;
}
