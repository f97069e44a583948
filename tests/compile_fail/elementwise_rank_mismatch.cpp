// compile-fail: multiplying a rank-2 tensor by a rank-3 tensor element-wise.
// expect: mul: shapes differ \(A and B must have the same shape\)
// expect-gcc: the comparison reduces to .\(2 == 3\).
// expect-clang: requirement '2UL == 3UL'
#include <forma/forma.hpp>

int main() {
  forma::Tensor<float, forma::extents<2, 3>> a;
  forma::Tensor<float, forma::extents<2, 3, 1>> c;
  auto ok = a * a;
  (void)ok;
#ifdef FORMA_MISUSE
  auto bad = a * c;
  (void)bad;
#endif
}
