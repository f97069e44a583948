// compile-fail: adding a bias of length 4 to rows of width 3.
// expect: add_bias: bias length differs from the last axis of x
// expect-gcc: the comparison reduces to .\(3 == 4\).
// expect-clang: requirement '3UL == 4UL'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 3> x;
  forma::Vector<float, 3> bias;
  auto ok = forma::add_bias(x, bias);
  (void)ok;
#ifdef FORMA_MISUSE
  forma::Vector<float, 4> wrong;
  auto bad = forma::add_bias(x, wrong);
  (void)bad;
#endif
}
