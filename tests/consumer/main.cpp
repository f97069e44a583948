// A program outside the forma tree: it sees forma only through forma::forma.
#include <cstdio>

#include <forma/forma.hpp>

int main() {
  const auto a = forma::Matrix<float, 2, 3>::from_values({{1, 2, 3}, {4, 5, 6}});
  const auto b = forma::Matrix<float, 3, 2>::from_values({{7, 8}, {9, 10}, {11, 12}});
  const forma::Matrix<float, 2, 2> c = forma::matmul(a, b);
  std::printf("matmul (2, 3) x (3, 2) = [[%g, %g], [%g, %g]]\n", c(0, 0), c(0, 1), c(1, 0),
              c(1, 1));
  return 0;
}
