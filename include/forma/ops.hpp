// forma/ops.hpp — the shape-checked ops.
#pragma once

#include "forma/ops/activation.hpp"
#include "forma/ops/attention.hpp"
#include "forma/ops/broadcast.hpp"
#include "forma/ops/copy.hpp"
#include "forma/ops/cross_entropy.hpp"
#include "forma/ops/elementwise.hpp"
#include "forma/ops/embedding.hpp"
#include "forma/ops/flash_attention.hpp"
#include "forma/ops/matmul.hpp"
#include "forma/ops/norm.hpp"
#include "forma/ops/reduce.hpp"
#include "forma/ops/residual.hpp"
#include "forma/ops/rope.hpp"
#include "forma/ops/softmax.hpp"
