// compile-fail: per-row cross-entropy of 6 rows of logits into 5 losses.
// expect: cross_entropy: the losses need one entry per row \(logits are \(N, V\), losses are \(N\)\)
// expect-gcc: the comparison reduces to .\(5 == 6\).
// expect-clang: requirement '5UL == 6UL'
#include <cstdint>
#include <vector>

#include <forma/forma.hpp>

int main() {
  forma::Matrix<float, 6, 50> logits;
  const std::vector<std::int32_t> targets(6, 1);
  forma::Vector<float, 6> losses;
  (void)forma::cross_entropy(logits, targets, losses);
#ifdef FORMA_MISUSE
  forma::Vector<float, 5> too_few;
  (void)forma::cross_entropy(logits, targets, too_few);
#endif
}
