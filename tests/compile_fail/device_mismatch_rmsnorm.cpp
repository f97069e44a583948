// compile-fail: rmsnorm of a CUDA tensor view with a host weight vector.
// expect: rmsnorm: operands live on different devices \(copy explicitly\)
// expect-gcc: left_type = forma::cuda; right_type = forma::host
// expect-clang: requirement 'std::is_same_v<forma::cuda, forma::host>'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 8> x;
  forma::Vector<float, 8> weight;
  forma::TensorView<float, forma::extents<2, 8>, forma::cuda> x_on_device(nullptr);
  forma::TensorView<float, forma::extents<2, 8>, forma::cuda> out_on_device(nullptr);
  forma::rmsnorm(x, weight, x);
  (void)x_on_device;
  (void)out_on_device;
#ifdef FORMA_MISUSE
  forma::rmsnorm(x_on_device, weight, out_on_device);
#endif
}
