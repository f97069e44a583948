// forma/train.hpp — the train layer: the Llama-family trainer (parameters, gradients, AdamW
// moments and saved activations in one compile-time-sized allocation) and the optimizers.
#pragma once

#include "forma/train/llama_trainer.hpp"
#include "forma/train/optim.hpp"
