// compile-fail: rmsnorm backward of rows of width 72 into a dweight of length 64.
// expect: rmsnorm_backward: dweight length differs from the last axis of x \(x is \(\.\.\., D\), dweight is \(D\)\)
// expect-gcc: the comparison reduces to .\(72 == 64\).
// expect-clang: requirement '72UL == 64UL'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 3, 72> x, dy, dx;
  forma::Vector<float, 72> weight, dweight;
  forma::rmsnorm_backward(x, weight, dy, dx, dweight);
#ifdef FORMA_MISUSE
  forma::Vector<float, 64> short_dweight;
  forma::rmsnorm_backward(x, weight, dy, dx, short_dweight);
#endif
}
