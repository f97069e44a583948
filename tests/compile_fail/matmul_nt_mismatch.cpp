// compile-fail: matmul_nt of (2, 3) by (5, 4): B must be (N, K) with K = 3, but its K is 4.
// expect: matmul_nt: inner dimensions differ \(A is \(M, K\), B is \(N, K\)\)
// expect-gcc: the comparison reduces to .\(3 == 4\).
// expect-clang: requirement '3UL == 4UL'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 3> a;
  forma::Matrix<float, 5, 3> w_ok;
  forma::Matrix<float, 5, 4> w_bad;
  auto ok = forma::matmul_nt(a, w_ok);
  (void)ok;
#ifdef FORMA_MISUSE
  auto bad = forma::matmul_nt(a, w_bad);
  (void)bad;
#endif
}
