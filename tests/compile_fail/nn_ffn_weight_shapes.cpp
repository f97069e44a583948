// compile-fail: a SwiGLU feed-forward whose w2 is (64, 160) while w1 and w3 are (172, 64): the
// hidden widths 160 and 172 disagree.
// expect: FeedForward: w2's columns differ from w1's rows \(w1 is \(hidden, D\), w2 is \(D, hidden\)\)
// expect-gcc: the comparison reduces to .\(160 == 172\).
// expect-clang: requirement '160UL == 172UL'
#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 172, 64> w1, w3;
  forma::Matrix<float, 64, 172> w2;
  const forma::nn::SwiGLU ffn(w1, w2, w3);
  (void)ffn;
#ifdef FORMA_MISUSE
  forma::Matrix<float, 64, 160> w2_bad;
  const forma::nn::SwiGLU bad(w1, w2_bad, w3);
  (void)bad;
#endif
}
