// compile-fail: initializing a (2, 3) matrix from braces with 2 columns.
// expect: from_values: the values have the wrong number of columns
// expect-gcc: the comparison reduces to .\(2 == 3\).
// expect-clang: requirement '2UL == 3UL'
#include <forma/forma.hpp>

int main() {
  auto ok = forma::Matrix<float, 2, 3>::from_values({{1, 2, 3}, {4, 5, 6}});
  (void)ok;
#ifdef FORMA_MISUSE
  auto bad = forma::Matrix<float, 2, 3>::from_values({{1, 2}, {4, 5}});
  (void)bad;
#endif
}
