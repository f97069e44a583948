// forma/forma.hpp — everything: core, ops, nn (and the layers above them as they land).
#pragma once

#include "forma/core.hpp"
#include "forma/nn.hpp"
#include "forma/ops.hpp"
