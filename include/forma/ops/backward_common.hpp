// forma/ops/backward_common.hpp — what the backward ops (ops/*_backward.hpp) share: every
// operand a row-major host tensor of one floating dtype, checked with a message naming the op and
// the operand.
#pragma once

#include <type_traits>

#include "forma/core/tensor_view.hpp"
#include "forma/ops/common.hpp"

namespace forma::detail {

// Every view holds T, lives on the host and is row-major (the backward ops' operands).
template <class T, class... Views>
inline constexpr bool backward_operands_v =
    ((std::is_same_v<std::remove_cv_t<typename Views::value_type>, T> &&
      std::is_same_v<typename Views::device_type, host> &&
      std::is_same_v<typename Views::layout_type, layout_right>) &&
     ...);

}  // namespace forma::detail

// FORMA_RULE_BACKWARD_OPERAND(op, name, T, Operand): `name` holds T (the op's dtype), lives on
// the host and is row-major.
#define FORMA_RULE_BACKWARD_OPERAND(OP_NAME, NAME, T_TYPE, OPERAND_TYPE)                      \
  (FORMA_RULE_SAME_TYPE(OP_NAME ": " NAME " has another element type (every operand must "    \
                                "have the same dtype)",                                       \
                        std::remove_cv_t<typename OPERAND_TYPE::value_type>, T_TYPE),         \
   FORMA_RULE_HOST(OP_NAME, typename OPERAND_TYPE::device_type),                              \
   FORMA_RULE_SAME_TYPE(OP_NAME ": " NAME " must be row-major",                               \
                        typename OPERAND_TYPE::layout_type, ::forma::layout_right))
