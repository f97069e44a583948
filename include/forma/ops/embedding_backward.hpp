// forma/ops/embedding_backward.hpp — the gradients of table lookups, shape- and bounds-checked.
//
//   embedding_backward:           token ids (T), dy (T, D), dtable (V, D)
//                                 => dtable[ids[t]] += dy[t]   (a scatter-add; repeated ids add up)
//   position_embedding_backward:  first, dy (T, D), dtable (P, D)
//                                 => dtable[first + t] += dy[t] (learned positions, GPT-2's wpe)
// A token id outside [0, V), or a position past the table (first + T > P), is an Error
// (errc::out_of_range) naming it — never a write out of bounds — and leaves dtable untouched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

#include "forma/core/contract.hpp"
#include "forma/core/error.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/embedding_backward.hpp"
#include "forma/ops/backward_common.hpp"

namespace forma {

#define FORMA_RULE_EMBEDDING_BACKWARD(OP_NAME, DY, DT, dy, dtable)                            \
  (FORMA_RULE_BACKWARD_OPERAND(OP_NAME, "dy", std::remove_cv_t<typename DY::value_type>, DY),  \
   FORMA_RULE_BACKWARD_OPERAND(OP_NAME, "dtable", std::remove_cv_t<typename DY::value_type>, DT), \
   FORMA_RULE_SAME_EXTENT(OP_NAME ": dy's width differs from the table's (dtable is (V, D), "  \
                                  "dy is (T, D))",                                            \
                          DY::extents_type::static_extent(1), DT::extents_type::static_extent(1), \
                          (dy).extent(1), (dtable).extent(1)))

namespace detail {
template <class DY, class DT>
inline constexpr bool embedding_backward_fits_v =
    backward_operands_v<std::remove_cv_t<typename DY::value_type>, DY, DT> &&
    rules::same_extent<DY::extents_type::static_extent(1), DT::extents_type::static_extent(1)>;

inline Error out_of_table(const char* op, const char* what, std::int64_t index, std::size_t rows) {
  Error error = make_error(errc::out_of_range, std::string(op) + ": " + what + " " +
                                                   std::to_string(index) +
                                                   " is out of range for a table of " +
                                                   std::to_string(rows) + " rows");
  error.expected = "[0, " + std::to_string(rows) + ")";
  error.found = std::to_string(index);
  return error;
}
}  // namespace detail

// embedding_backward(tokens, dy, dtable): dtable[tokens[t]] += dy[t]; all ids checked first.
template <matrix DY, class DTable>
  requires(writable_tensor<std::remove_cvref_t<DTable>> && matrix<std::remove_cvref_t<DTable>> &&
           floating_element<typename DY::value_type>)
Result<void> embedding_backward(std::span<const std::int32_t> tokens, const DY& dy,
                                DTable&& dtable) {
  using DT = std::remove_cvref_t<DTable>;
  FORMA_RULE_EMBEDDING_BACKWARD("embedding_backward", DY, DT, dy, dtable);
  contract::require_same(tokens.size(), dy.extent(0),
                         "embedding_backward: dy needs one row per token (dy is (T, D))");
  for (const std::int32_t token : tokens) {
    if (token < 0 || static_cast<std::size_t>(token) >= dtable.extent(0)) {
      return detail::out_of_table("embedding_backward", "token id", token, dtable.extent(0));
    }
  }
  if constexpr (detail::embedding_backward_fits_v<DY, DT>) {
    kernels::cpu::embedding_backward(tokens.data(), dy.data(), forma::view(dtable).data(),
                                     tokens.size(), dy.extent(1));
  }
  return {};
}

// position_embedding_backward(first, dy, dtable): dtable[first + t] += dy[t].
template <matrix DY, class DTable>
  requires(writable_tensor<std::remove_cvref_t<DTable>> && matrix<std::remove_cvref_t<DTable>> &&
           floating_element<typename DY::value_type>)
Result<void> position_embedding_backward(std::size_t first, const DY& dy, DTable&& dtable) {
  using DT = std::remove_cvref_t<DTable>;
  FORMA_RULE_EMBEDDING_BACKWARD("position_embedding_backward", DY, DT, dy, dtable);
  const std::size_t tokens = dy.extent(0);
  if (tokens > 0 && (first >= dtable.extent(0) || tokens > dtable.extent(0) - first)) {
    return detail::out_of_table("position_embedding_backward", "position",
                                static_cast<std::int64_t>(first + tokens - 1), dtable.extent(0));
  }
  if constexpr (detail::embedding_backward_fits_v<DY, DT>) {
    kernels::cpu::position_embedding_backward(first, dy.data(), forma::view(dtable).data(),
                                              tokens, dy.extent(1));
  }
  return {};
}

}  // namespace forma
