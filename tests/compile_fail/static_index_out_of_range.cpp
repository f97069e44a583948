// compile-fail: reading element (2, 0) of a (2, 3) matrix with a static index.
// expect: get: a static index is out of range \(index < extent fails\)
// expect-gcc: the comparison reduces to .\(2 < 2\).
// expect-clang: requirement '2UL < 2UL'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 3> a;
  float ok = forma::get<1, 2>(a);
  (void)ok;
#ifdef FORMA_MISUSE
  float bad = forma::get<2, 0>(a);
  (void)bad;
#endif
}
