// compile-fail: an op mixing a host tensor and a CUDA tensor view.
// expect: add: operands live on different devices \(copy explicitly\)
// expect-gcc: left_type = forma::host; right_type = forma::cuda
// expect-clang: requirement 'std::is_same_v<forma::host, forma::cuda>'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 2> a;
  forma::TensorView<float, forma::extents<2, 2>, forma::cuda> on_device(nullptr);
  forma::TensorView<float, forma::extents<2, 2>, forma::host> on_host(a.data());
  auto ok = a + on_host;
  (void)ok;
  (void)on_device;
#ifdef FORMA_MISUSE
  auto bad = a + on_device;
  (void)bad;
#endif
}
