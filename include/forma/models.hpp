// forma/models.hpp — model configs, weights and forward passes.
#pragma once

#include "forma/models/llama.hpp"
#include "forma/models/llama_config.hpp"
#include "forma/models/llama_weights.hpp"
#include "forma/models/presets.hpp"
