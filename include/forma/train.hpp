// forma/train.hpp — the train layer: the Llama-family and GPT-2-family trainers (parameters,
// gradients, AdamW moments and saved activations in one compile-time-sized allocation), the
// optimizers, and llama2.c checkpoints of the trained weights, and the token-stream loader
// forma-train reads.
#pragma once

#include "forma/train/checkpoint.hpp"
#include "forma/train/data.hpp"
#include "forma/train/gpt2_trainer.hpp"
#include "forma/train/llama_trainer.hpp"
#include "forma/train/optim.hpp"
