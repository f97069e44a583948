// compile-fail: layernorm of rows of width 72 with a bias of length 71.
// expect: layernorm: bias length differs from the last axis of x \(x is \(\.\.\., D\), bias is \(D\)\)
// expect-gcc: the comparison reduces to .\(72 == 71\).
// expect-clang: requirement '72UL == 71UL'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 3, 72> x;
  forma::Vector<float, 72> weight, bias;
  auto y = forma::layernorm(x, weight, bias);
  (void)y;
#ifdef FORMA_MISUSE
  forma::Vector<float, 71> short_bias;
  auto bad = forma::layernorm(x, weight, short_bias);
  (void)bad;
#endif
}
