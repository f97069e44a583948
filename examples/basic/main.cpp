// examples/basic — typed matrices: shapes in the type, checked by the compiler.
#include <cstdio>

#include <forma/forma.hpp>

int main() {
  using namespace forma;

  // A 2×3 and a 3×2 matrix; their shapes are part of their types.
  const auto a = Matrix<float, 2, 3>::from_values({{1, 2, 3}, {4, 5, 6}});
  const auto b = Matrix<float, 3, 2>::from_values({{7, 8}, {9, 10}, {11, 12}});

  // (2, 3) · (3, 2) => (2, 2): the result type is Matrix<float, 2, 2>.
  const Matrix<float, 2, 2> c = matmul(a, b);
  std::printf("a · b = [[%g, %g], [%g, %g]]\n", c(0, 0), c(0, 1), c(1, 0), c(1, 1));

  // Uncomment to see a shape error at compile time:
  //   matmul(a, a);
  // GCC:   error: static assertion failed: matmul: inner dimensions differ (A is (M, K), B is (K, N))
  //        note: the comparison reduces to '(3 == 2)'
  // Clang: error: static_assert failed due to requirement '3UL == 2UL' "matmul: inner ..."

  // Shapes known only at run time use `dyn` and are checked at run time with the same words.
  Matrix<float, dyn, dyn> d(3, 4);
  try {
    const auto bad = matmul(a, d);  // (2, 3) · (3, 4) is fine ...
    std::printf("a · d has shape (%zu, %zu)\n", bad.extent(0), bad.extent(1));
    const auto worse = matmul(d, a);  // ... (3, 4) · (2, 3) is not
    (void)worse;
  } catch (const shape_error& error) {
    std::printf("shape_error: %s\n", error.what());
  }
  return 0;
}
