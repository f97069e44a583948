// compile-fail: reducing a CUDA tensor with an op that has only a CPU kernel.
// expect: sum: this op takes host tensors \(copy device tensors to the host first\)
// expect-gcc: left_type = forma::cuda; right_type = forma::host
// expect-clang: requirement 'std::is_same_v<forma::cuda, forma::host>'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 2, 2> on_host;
  auto ok = forma::sum(on_host);
  (void)ok;
#ifdef FORMA_MISUSE
  forma::TensorView<float, forma::extents<2, 2>, forma::cuda> on_device(nullptr);
  auto bad = forma::sum(on_device);
  (void)bad;
#endif
}
