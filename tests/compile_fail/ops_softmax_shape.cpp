// compile-fail: softmax of a (4, 7) matrix into a (4, 8) result.
// expect: softmax \(result\): shapes differ \(A and B must have the same shape\)
// expect-gcc: the comparison reduces to .\(7 == 8\).
// expect-clang: requirement '7UL == 8UL'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 4, 7> x, y;
  forma::softmax(x, y);
#ifdef FORMA_MISUSE
  forma::Matrix<float, 4, 8> wide;
  forma::softmax(x, wide);
#endif
}
