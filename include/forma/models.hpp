// forma/models.hpp — model configs, weights and forward passes: the one decoder (Llama, GPT-2 and
// Qwen2 as configs) and the Llama model over llama2.c's weights.
#pragma once

#include "forma/models/decoder.hpp"
#include "forma/models/decoder_config.hpp"
#include "forma/models/decoder_weights.hpp"
#include "forma/models/llama.hpp"
#include "forma/models/llama_config.hpp"
#include "forma/models/llama_weights.hpp"
#include "forma/models/presets.hpp"
