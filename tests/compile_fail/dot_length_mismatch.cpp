// compile-fail: the dot product of vectors of lengths 8 and 7.
// expect: dot: lengths differ \(x is \(N\), y is \(N\)\)
// expect-gcc: the comparison reduces to .\(8 == 7\).
// expect-clang: requirement '8UL == 7UL'
#include <forma/forma.hpp>

int main() {
  forma::Vector<float, 8> x;
  forma::Vector<float, 7> y;
  float ok = forma::dot(x, x);
  (void)ok;
#ifdef FORMA_MISUSE
  float bad = forma::dot(x, y);
  (void)bad;
#endif
}
