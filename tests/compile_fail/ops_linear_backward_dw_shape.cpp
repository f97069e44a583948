// compile-fail: linear_backward of w (5, 4) into a dw of shape (5, 3).
// expect: linear_backward: dw must have the shape of w \(Out, In\)
// expect-gcc: the comparison reduces to .\(4 == 3\).
// expect-clang: requirement '4UL == 3UL'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 4> x, dx;
  forma::Matrix<float, 5, 4> w, dw;
  forma::Matrix<float, 2, 5> dy;
  forma::linear_backward(x, w, dy, dx, dw);
#ifdef FORMA_MISUSE
  forma::Matrix<float, 5, 3> bad_dw;
  forma::linear_backward(x, w, dy, dx, bad_dw);
#endif
}
