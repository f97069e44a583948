// forma/ops.hpp — the shape-checked ops.
#pragma once

#include "forma/ops/broadcast.hpp"
#include "forma/ops/copy.hpp"
#include "forma/ops/elementwise.hpp"
#include "forma/ops/matmul.hpp"
#include "forma/ops/reduce.hpp"
