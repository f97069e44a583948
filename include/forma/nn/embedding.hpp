// forma/nn/embedding.hpp — lookup tables holding typed views of their weights.
//
//   Embedding<V, D>:          table (V, D)     token id => (D);  token ids (T) => (T, D)
//   PositionEmbedding<S, D>:  table (S, D)     x (T, D) at positions p..p+T−1: x[t] += table[p + t]
// A token id outside [0, V) is an Error (errc::out_of_range); positions past S are an Error
// (errc::capacity). Nothing is ever read out of bounds, and a failed call leaves `out` untouched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

#include "forma/core/error.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/kernels/cpu/elementwise.hpp"
#include "forma/kernels/math.hpp"
#include "forma/nn/linear.hpp"
#include "forma/ops/embedding.hpp"

namespace forma::nn {

#define FORMA_RULE_NN_TABLE(OWNER, ROWS_NAME, T_TYPE, table_value)                            \
  (FORMA_RULE_NN_WEIGHT(OWNER, T_TYPE),                                                       \
   FORMA_RULE_SAME_EXTENT(OWNER ": the table's width differs from the model width (table is "  \
                                "(" ROWS_NAME ", D))",                                        \
                          T_TYPE::extents_type::static_extent(1), D, (table_value).extent(1), \
                          ::forma::nn::detail::expected_extent(D, (table_value).extent(1))),  \
   FORMA_RULE_SAME_EXTENT(OWNER ": the table's rows differ from the layer's (table is "        \
                                "(" ROWS_NAME ", D))",                                        \
                          T_TYPE::extents_type::static_extent(0), Rows, (table_value).extent(0), \
                          ::forma::nn::detail::expected_extent(Rows, (table_value).extent(0))))

#define FORMA_RULE_NN_ROWS_WIDTH(OWNER, X_TYPE, x_value, width)                               \
  FORMA_RULE_SAME_EXTENT(OWNER ": the rows' width differs from the table's (table is (V, D), " \
                               "rows are (..., D))",                                          \
                         ::forma::nn::detail::last_static_v<X_TYPE>, D,                       \
                         ::forma::nn::detail::last_extent(x_value), (width))

template <std::size_t V, std::size_t D>
class Embedding {
  static constexpr std::size_t Rows = V;

 public:
  using table_view = TensorView<const float, extents<V, D>>;
  static constexpr std::size_t vocab_extent = V;
  static constexpr std::size_t width_extent = D;

  template <matrix Table>
  explicit Embedding(const Table& table) : table_(checked(table)) {}

  std::size_t vocab_size() const noexcept { return table_.extent(0); }
  std::size_t width() const noexcept { return table_.extent(1); }
  const table_view& table() const noexcept { return table_; }

  // forward(token, out): out (D) = table[token].
  template <class Out>
    requires(writable_tensor<std::remove_cvref_t<Out>> && vector<std::remove_cvref_t<Out>>)
  Result<void> forward(std::int64_t token, Out&& out) const {
    using O = std::remove_cvref_t<Out>;
    FORMA_RULE_NN_ROWS_WIDTH("Embedding", O, out, width());
    if constexpr (rules::same_extent<detail::last_static_v<O>, D>) {
      return embedding(table_, token, out);
    } else {
      return {};
    }
  }

  // forward(tokens, out): out (T, D), row t = table[tokens[t]]; every id is checked first.
  template <class Out>
    requires(writable_tensor<std::remove_cvref_t<Out>> && matrix<std::remove_cvref_t<Out>>)
  Result<void> forward(std::span<const std::int32_t> tokens, Out&& out) const {
    using O = std::remove_cvref_t<Out>;
    FORMA_RULE_NN_ROWS_WIDTH("Embedding", O, out, width());
    if constexpr (rules::same_extent<detail::last_static_v<O>, D>) {
      return embedding(table_, tokens, out);
    } else {
      return {};
    }
  }

 private:
  template <class Table>
  static table_view checked(const Table& table) {
    FORMA_RULE_NN_TABLE("Embedding", "V", Table, table);
    return detail::const_view_as<extents<V, D>>(table);
  }

  table_view table_;
};

// Learned absolute positions (GPT-2's wpe), added to the token embeddings.
template <std::size_t S, std::size_t D>
class PositionEmbedding {
  static constexpr std::size_t Rows = S;

 public:
  using table_view = TensorView<const float, extents<S, D>>;
  static constexpr std::size_t max_seq_extent = S;
  static constexpr std::size_t width_extent = D;

  template <matrix Table>
  explicit PositionEmbedding(const Table& table) : table_(checked(table)) {}

  std::size_t max_seq() const noexcept { return table_.extent(0); }
  std::size_t width() const noexcept { return table_.extent(1); }
  const table_view& table() const noexcept { return table_; }

  // forward(position, x): x (D) or x (T, D) holds positions position..position+T−1;
  // x[t] += table[position + t].
  template <class X>
    requires(writable_tensor<std::remove_cvref_t<X>> &&
             (std::remove_cvref_t<X>::extents_type::rank() == 1 ||
              std::remove_cvref_t<X>::extents_type::rank() == 2))
  Result<void> forward(std::size_t position, X&& x) const {
    using XT = std::remove_cvref_t<X>;
    FORMA_RULE_NN_ROWS_WIDTH("PositionEmbedding", XT, x, width());
    FORMA_RULE_SAME_TYPE("PositionEmbedding: x must hold float", typename XT::value_type, float);
    const std::size_t rows = XT::extents_type::rank() == 2 ? x.extent(0) : 1;
    if (position > max_seq() || rows > max_seq() - position) {
      Error error = make_error(errc::capacity, "PositionEmbedding: positions " +
                                                   std::to_string(position) + ".." +
                                                   std::to_string(position + rows) +
                                                   " run past max_seq " + std::to_string(max_seq()));
      error.expected = "<= " + std::to_string(max_seq());
      error.found = std::to_string(position + rows);
      return error;
    }
    if constexpr (rules::same_extent<detail::last_static_v<XT>, D> &&
                  std::is_same_v<typename XT::value_type, float>) {
      float* data = forma::view(x).data();
      const float* from = table_.data() + position * width();
      kernels::cpu::binary(data, from, data, rows * width(), math::add{});
    }
    return {};
  }

 private:
  template <class Table>
  static table_view checked(const Table& table) {
    FORMA_RULE_NN_TABLE("PositionEmbedding", "S", Table, table);
    return detail::const_view_as<extents<S, D>>(table);
  }

  table_view table_;
};

}  // namespace forma::nn
