// forma/forma.hpp — everything: core, ops (and the layers above them as they land).
#pragma once

#include "forma/core.hpp"
#include "forma/ops.hpp"
