// compile-fail: reshaping 6 elements (2, 3) into 8 elements (4, 2).
// expect: reshape: element counts differ \(source size vs target size\)
// expect-gcc: the comparison reduces to .\(6 == 8\).
// expect-clang: requirement '6UL == 8UL'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 3> a;
  auto ok = forma::reshape<forma::extents<3, 2>>(a);
  (void)ok;
#ifdef FORMA_MISUSE
  auto bad = forma::reshape<forma::extents<4, 2>>(a);
  (void)bad;
#endif
}
