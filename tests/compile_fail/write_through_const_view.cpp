// compile-fail: writing an element through a read-only view.
// expect: read-only|const
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 3> a;
  forma::MatrixView<float, 2, 3> writable = a.view();
  writable(0, 0) = 1.0f;
  forma::MatrixView<const float, 2, 3> read_only = a.view();
  float ok = read_only(0, 0);
  (void)ok;
#ifdef FORMA_MISUSE
  read_only(0, 0) = 2.0f;
#endif
}
