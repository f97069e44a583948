// compile-fail: adding two CUDA tensor views into a host result.
// expect: add \(result\): operands live on different devices \(copy explicitly\)
// expect-gcc: left_type = forma::cuda; right_type = forma::host
// expect-clang: requirement 'std::is_same_v<forma::cuda, forma::host>'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 2> on_host;
  forma::TensorView<float, forma::extents<2, 2>, forma::cuda> a(nullptr);
  forma::TensorView<float, forma::extents<2, 2>, forma::cuda> b(nullptr);
  forma::add(on_host, on_host, on_host);
  (void)a;
  (void)b;
#ifdef FORMA_MISUSE
  forma::add(a, b, on_host);
#endif
}
