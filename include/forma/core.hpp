// forma/core.hpp — the core layer: extents, dtypes, errors, tensors and views.
#pragma once

#include "forma/core/compare.hpp"
#include "forma/core/config.hpp"
#include "forma/core/contract.hpp"
#include "forma/core/device.hpp"
#include "forma/core/dtype.hpp"
#include "forma/core/error.hpp"
#include "forma/core/extents.hpp"
#include "forma/core/layout.hpp"
#include "forma/core/parallel.hpp"
#include "forma/core/shape_rules.hpp"
#include "forma/core/storage.hpp"
#include "forma/core/tensor.hpp"
#include "forma/core/tensor_view.hpp"
