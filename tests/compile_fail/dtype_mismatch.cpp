// compile-fail: subtracting a double matrix from a float matrix (no silent conversion).
// expect: sub: element types differ \(A and B must have the same dtype\)
// expect-gcc: left_type = float; right_type = double
// expect-clang: requirement 'std::is_same_v<float, double>'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 2> a;
  forma::Matrix<double, 2, 2> b;
  auto ok = a - forma::cast<float>(b);
  (void)ok;
#ifdef FORMA_MISUSE
  auto bad = a - b;
  (void)bad;
#endif
}
