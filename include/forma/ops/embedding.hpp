// forma/ops/embedding.hpp — token embedding lookup, shape-checked, bounds-checked.
//
//   embedding:  table (V, D), token id            => (D)
//               table (V, D), token ids (T)       => (T, D)
// A token id outside [0, V) is an Error (errc::out_of_range) naming the id and V — never a read
// out of bounds — and leaves `out` untouched.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

#include "forma/core/error.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/ops/common.hpp"

namespace forma {

namespace detail {
inline Error token_out_of_range(std::int64_t token, std::size_t vocab) {
  Error error = make_error(errc::out_of_range, "embedding: token id " + std::to_string(token) +
                                                   " is out of range for a vocabulary of " +
                                                   std::to_string(vocab));
  error.expected = "[0, " + std::to_string(vocab) + ")";
  error.found = std::to_string(token);
  return error;
}
}  // namespace detail

#define FORMA_RULE_EMBEDDING(TABLE_TYPE, OUT_TYPE, table_value, out_value)                    \
  (FORMA_RULE_SAME_TYPE("embedding: element types differ (table and result)",                 \
                        typename TABLE_TYPE::value_type, typename OUT_TYPE::value_type),      \
   FORMA_RULE_HOST("embedding", typename TABLE_TYPE::device_type),                            \
   FORMA_RULE_SAME_EXTENT("embedding: the result's width differs from the table's "           \
                          "(table is (V, D), result is (..., D))",                            \
                          ::forma::last_static_extent<typename OUT_TYPE::extents_type>,       \
                          TABLE_TYPE::extents_type::static_extent(1),                         \
                          (out_value).extent(OUT_TYPE::extents_type::rank() - 1),             \
                          (table_value).extent(1)))

// embedding(table, token, out): out = table[token].
template <matrix Table, class Out>
  requires(writable_tensor<std::remove_cvref_t<Out>> && vector<std::remove_cvref_t<Out>>)
Result<void> embedding(const Table& table, std::int64_t token, Out&& out) {
  using O = std::remove_cvref_t<Out>;
  static_assert(std::is_same_v<typename Table::layout_type, layout_right>,
                "embedding: the table must be row-major");
  FORMA_RULE_EMBEDDING(Table, O, table, out);
  if (token < 0 || static_cast<std::uint64_t>(token) >= table.extent(0)) {
    return detail::token_out_of_range(token, table.extent(0));
  }
  if constexpr (std::is_same_v<typename Table::value_type, typename O::value_type>) {
    const std::size_t width = table.extent(1);
    std::copy_n(table.data() + static_cast<std::size_t>(token) * width, width,
                forma::view(out).data());
  }
  return {};
}

// embedding(table, tokens, out): out[t] = table[tokens[t]]; all ids are checked before any copy.
template <matrix Table, class Out>
  requires(writable_tensor<std::remove_cvref_t<Out>> && matrix<std::remove_cvref_t<Out>>)
Result<void> embedding(const Table& table, std::span<const std::int32_t> tokens, Out&& out) {
  using O = std::remove_cvref_t<Out>;
  static_assert(std::is_same_v<typename Table::layout_type, layout_right>,
                "embedding: the table must be row-major");
  FORMA_RULE_EMBEDDING(Table, O, table, out);
  contract::require_same(tokens.size(), out.extent(0),
                         "embedding: the result needs one row per token (result is (T, D))");
  for (const std::int32_t token : tokens) {
    if (token < 0 || static_cast<std::size_t>(token) >= table.extent(0)) {
      return detail::token_out_of_range(token, table.extent(0));
    }
  }
  if constexpr (std::is_same_v<typename Table::value_type, typename O::value_type>) {
    const std::size_t width = table.extent(1);
    auto rows = forma::view(out);
    for (std::size_t t = 0; t < tokens.size(); ++t) {
      std::copy_n(table.data() + static_cast<std::size_t>(tokens[t]) * width, width,
                  rows.data() + t * width);
    }
  }
  return {};
}

}  // namespace forma
