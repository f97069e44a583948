// compile-fail: an Embedding<512, 64> (model width 64) over a table of width 72.
// expect: Embedding: the table's width differs from the model width \(table is \(V, D\)\)
// expect-gcc: the comparison reduces to .\(72 == 64\).
// expect-clang: requirement '72UL == 64UL'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 512, 64> table;
  const forma::nn::Embedding<512, 64> embedding(table);
  (void)embedding;
#ifdef FORMA_MISUSE
  forma::Matrix<float, 512, 72> wide;
  const forma::nn::Embedding<512, 64> bad(wide);
  (void)bad;
#endif
}
