// compile-fail: rmsnorm of rows of width 72 with a weight of length 64.
// expect: rmsnorm: weight length differs from the last axis of x \(x is \(\.\.\., D\), weight is \(D\)\)
// expect-gcc: the comparison reduces to .\(72 == 64\).
// expect-clang: requirement '72UL == 64UL'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 3, 72> x;
  forma::Vector<float, 72> weight;
  auto y = forma::rmsnorm(x, weight);
  (void)y;
#ifdef FORMA_MISUSE
  forma::Vector<float, 64> short_weight;
  auto bad = forma::rmsnorm(x, short_weight);
  (void)bad;
#endif
}
