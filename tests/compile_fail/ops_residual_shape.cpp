// compile-fail: a residual branch of width 72 added to a stream of width 64.
// expect: residual_add: the branch does not fit the stream: shapes differ
// expect-gcc: the comparison reduces to .\(64 == 72\).
// expect-clang: requirement '64UL == 72UL'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 64> stream, branch;
  forma::residual_add(stream, branch);
#ifdef FORMA_MISUSE
  forma::Matrix<float, 2, 72> wide;
  forma::residual_add(stream, wide);
#endif
}
