// compile-fail: an op on CUDA tensors in a file the host compiler builds (no CUDA kernels there).
// expect: rmsnorm: no CUDA kernel in this translation unit \(compile it with nvcc, or copy the tensors to the host\)
// expect-gcc: with device_type = forma::cuda
// expect-clang: std::is_same_v<forma::cuda, forma::host>
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 8> x;
  forma::Vector<float, 8> weight;
  forma::rmsnorm(x, weight, x);
#ifdef FORMA_MISUSE
  forma::TensorView<float, forma::extents<2, 8>, forma::cuda> x_on_device(nullptr);
  forma::TensorView<const float, forma::extents<8>, forma::cuda> weight_on_device(nullptr);
  forma::rmsnorm(x_on_device, weight_on_device, x_on_device);
#endif
}
