// compile-fail: a Linear<64, 32> applied to a vector of width 72.
// expect: Linear: the input width differs from the layer's \(x is \(\.\.\., In\), weight is \(Out, In\)\)
// expect-gcc: the comparison reduces to .\(72 == 64\).
// expect-clang: requirement '72UL == 64UL'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 32, 64> weight;
  const forma::nn::Linear<64, 32> layer(weight);
  forma::Vector<float, 64> x;
  auto y = layer.forward(x);
  (void)y;
#ifdef FORMA_MISUSE
  forma::Vector<float, 72> wide;
  auto bad = layer.forward(wide);
  (void)bad;
#endif
}
