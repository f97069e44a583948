// forma/ops/cross_entropy_backward.hpp — cross-entropy fused with its softmax: the mean loss and
// the gradient of the logits, shape- and target-checked.
//
//   cross_entropy_backward:  logits (N, V), targets (N)
//                            => dlogits (N, V) = (softmax(logits) − onehot(targets)) / n_valid
//                               returns the mean loss over the n_valid rows
// As torch.nn.functional.cross_entropy(reduction='mean', ignore_index=-100): a row whose target is
// `ignore_index` adds no loss and gets a zero gradient, and the mean is over the other rows (NaN
// when every row is ignored, as PyTorch; dlogits is then 0). Each row's log-sum-exp is taken
// around its maximum in double, so large logits are finite. Any other target outside [0, V) is
// an Error (errc::out_of_range) that leaves dlogits untouched. dlogits may be the logits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>
#include <vector>

#include "forma/core/contract.hpp"
#include "forma/core/error.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/cross_entropy_backward.hpp"
#include "forma/ops/backward_common.hpp"
#include "forma/ops/cross_entropy.hpp"

namespace forma {

inline constexpr std::int32_t default_ignore_index = -100;

// cross_entropy_backward(logits, targets, dlogits, ignore_index): the mean loss.
template <matrix L, class DL>
  requires(writable_tensor<std::remove_cvref_t<DL>> && matrix<std::remove_cvref_t<DL>> &&
           floating_element<typename L::value_type>)
Result<std::remove_cv_t<typename L::value_type>> cross_entropy_backward(
    const L& logits, std::span<const std::int32_t> targets, DL&& dlogits,
    std::int32_t ignore_index = default_ignore_index) {
  using DLT = std::remove_cvref_t<DL>;
  using T = std::remove_cv_t<typename L::value_type>;
  FORMA_RULE_BACKWARD_OPERAND("cross_entropy_backward", "logits", T, L);
  FORMA_RULE_BACKWARD_OPERAND("cross_entropy_backward", "dlogits", T, DLT);
  FORMA_RULE_LESS("cross_entropy_backward: the logits have no classes (0 < V fails; logits are "
                  "(N, V))",
                  0, L::extents_type::static_extent(1), 0, logits.extent(1));
  FORMA_RULE_SAME_SHAPE("cross_entropy_backward: dlogits must have the shape of the logits",
                        extents_of_t<L>, extents_of_t<DLT>, logits.extents(), dlogits.extents());
  contract::require_same(targets.size(), logits.extent(0),
                         "cross_entropy_backward: one target per row (logits are (N, V), "
                         "targets are (N))");
  std::size_t counted = 0;
  for (std::size_t n = 0; n < targets.size(); ++n) {
    if (targets[n] == ignore_index) continue;
    if (!detail::valid_target(targets[n], logits.extent(1))) {
      return detail::target_out_of_range(n, targets[n], logits.extent(1));
    }
    ++counted;
  }
  if constexpr (detail::backward_operands_v<T, L, DLT> &&
                rules::same_shape<typename L::extents_type, typename DLT::extents_type>) {
    const double scale = counted == 0 ? 0.0 : 1.0 / static_cast<double>(counted);
    std::vector<double> row_losses(targets.size());
    const double total = kernels::cpu::cross_entropy_backward_rows(
        logits.data(), targets.data(), targets.size(), logits.extent(1), ignore_index, scale,
        forma::view(dlogits).data(), row_losses.data());
    if (counted == 0) return std::numeric_limits<T>::quiet_NaN();
    return static_cast<T>(total / static_cast<double>(counted));
  } else {
    return T{};
  }
}

}  // namespace forma
