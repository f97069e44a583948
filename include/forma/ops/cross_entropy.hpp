// forma/ops/cross_entropy.hpp — cross-entropy of logits against target ids (forward only).
//
//   cross_entropy:  logits (N, V), targets (N)             => mean of the N row losses (a scalar)
//                   logits (N, V), targets (N), losses (N)  => each row's loss
//                   logits (V), target                      => the row's loss
// A row's loss is −log softmax(logits[n])[targets[n]], as torch.nn.functional.cross_entropy with
// reduction 'mean' / 'none' computes it. V must be positive. A target outside [0, V) is an Error
// (errc::out_of_range) naming the target and V — never a read out of bounds — and leaves
// `losses` untouched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

#include "forma/core/error.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/cross_entropy.hpp"
#include "forma/ops/common.hpp"

namespace forma {

namespace detail {
inline bool valid_target(std::int32_t target, std::size_t classes) noexcept {
  return target >= 0 && static_cast<std::size_t>(target) < classes;
}

inline Error target_out_of_range(std::size_t row, std::int32_t target, std::size_t classes) {
  Error error = make_error(errc::out_of_range, "cross_entropy: target " + std::to_string(target) +
                                                   " of row " + std::to_string(row) +
                                                   " is out of range for " +
                                                   std::to_string(classes) + " classes");
  error.expected = "[0, " + std::to_string(classes) + ")";
  error.found = std::to_string(target);
  return error;
}

inline Result<void> check_targets(std::span<const std::int32_t> targets, std::size_t classes) {
  for (std::size_t n = 0; n < targets.size(); ++n) {
    if (!valid_target(targets[n], classes)) return target_out_of_range(n, targets[n], classes);
  }
  return {};
}

template <class L>
inline constexpr bool cross_entropy_fits_v = std::is_same_v<typename L::device_type, host> &&
                                             std::is_same_v<typename L::layout_type, layout_right>;
}  // namespace detail

#define FORMA_RULE_CROSS_ENTROPY(L_TYPE, logits_value)                                        \
  (FORMA_RULE_HOST("cross_entropy", typename L_TYPE::device_type),                            \
   FORMA_RULE_LESS("cross_entropy: the logits have no classes (0 < V fails; logits are "       \
                   "(N, V))",                                                                 \
                   0, ::forma::last_static_extent<typename L_TYPE::extents_type>, 0,          \
                   (logits_value).extent(L_TYPE::extents_type::rank() - 1)))

// cross_entropy(logits, targets, losses): losses[n] = −log softmax(logits[n])[targets[n]].
template <matrix L, class Out>
  requires(writable_tensor<std::remove_cvref_t<Out>> && vector<std::remove_cvref_t<Out>> &&
           floating_element<typename L::value_type>)
Result<void> cross_entropy(const L& logits, std::span<const std::int32_t> targets, Out&& losses) {
  using O = std::remove_cvref_t<Out>;
  static_assert(std::is_same_v<typename L::layout_type, layout_right>,
                "cross_entropy: the logits must be row-major");
  FORMA_RULE_CROSS_ENTROPY(L, logits);
  FORMA_RULE_SAME_TYPE("cross_entropy: the losses' element type differs from the logits'",
                       typename L::value_type, typename O::value_type);
  FORMA_RULE_SAME_EXTENT("cross_entropy: the losses need one entry per row (logits are (N, V), "
                         "losses are (N))",
                         O::extents_type::static_extent(0), L::extents_type::static_extent(0),
                         losses.extent(0), logits.extent(0));
  contract::require_same(targets.size(), logits.extent(0),
                         "cross_entropy: one target per row (logits are (N, V), targets are (N))");
  if (auto valid = detail::check_targets(targets, logits.extent(1)); !valid) return valid;
  if constexpr (detail::cross_entropy_fits_v<L> &&
                std::is_same_v<typename L::value_type, typename O::value_type>) {
    kernels::cpu::cross_entropy_rows(logits.data(), targets.data(), forma::view(losses).data(),
                                     targets.size(), logits.extent(1));
  }
  return {};
}

// cross_entropy(logits, targets): the mean of the row losses (NaN for no rows, as PyTorch).
template <matrix L>
  requires floating_element<typename L::value_type>
Result<typename L::value_type> cross_entropy(const L& logits, std::span<const std::int32_t> targets) {
  using T = typename L::value_type;
  static_assert(std::is_same_v<typename L::layout_type, layout_right>,
                "cross_entropy: the logits must be row-major");
  FORMA_RULE_CROSS_ENTROPY(L, logits);
  contract::require_same(targets.size(), logits.extent(0),
                         "cross_entropy: one target per row (logits are (N, V), targets are (N))");
  if (auto valid = detail::check_targets(targets, logits.extent(1)); !valid) {
    return std::move(valid).error();
  }
  double total = 0;
  if constexpr (detail::cross_entropy_fits_v<L>) {
    for (std::size_t n = 0; n < targets.size(); ++n) {
      total += kernels::cpu::cross_entropy_row(logits.data() + n * logits.extent(1),
                                               logits.extent(1),
                                               static_cast<std::size_t>(targets[n]));
    }
  }
  return static_cast<T>(total / static_cast<double>(targets.size()));
}

// cross_entropy(logits, target): one row's loss.
template <vector L>
  requires floating_element<typename L::value_type>
Result<typename L::value_type> cross_entropy(const L& logits, std::int32_t target) {
  using T = typename L::value_type;
  FORMA_RULE_CROSS_ENTROPY(L, logits);
  if (!detail::valid_target(target, logits.extent(0))) {
    return detail::target_out_of_range(0, target, logits.extent(0));
  }
  if constexpr (detail::cross_entropy_fits_v<L>) {
    return static_cast<T>(kernels::cpu::cross_entropy_row(logits.data(), logits.extent(0),
                                                          static_cast<std::size_t>(target)));
  } else {
    return T{};
  }
}

}  // namespace forma
