// compile-fail: matmul of a host matrix by a CUDA matrix view.
// expect: matmul: operands live on different devices \(copy explicitly\)
// expect-gcc: left_type = forma::host; right_type = forma::cuda
// expect-clang: requirement 'std::is_same_v<forma::host, forma::cuda>'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 3> a;
  forma::Matrix<float, 3, 4> b;
  forma::TensorView<float, forma::extents<3, 4>, forma::cuda> b_on_device(nullptr);
  auto ok = forma::matmul(a, b);
  (void)ok;
  (void)b_on_device;
#ifdef FORMA_MISUSE
  auto bad = forma::matmul(a, b_on_device);
  (void)bad;
#endif
}
