// forma/forma.hpp — everything: core, ops, nn, models, io, text.
#pragma once

#include "forma/core.hpp"
#include "forma/io.hpp"
#include "forma/models.hpp"
#include "forma/nn.hpp"
#include "forma/ops.hpp"
#include "forma/text.hpp"
