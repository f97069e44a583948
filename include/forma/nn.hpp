// forma/nn.hpp — the nn layer: blocks holding typed views of their weights, the KV cache.
#pragma once

#include "forma/nn/attention.hpp"
#include "forma/nn/config.hpp"
#include "forma/nn/embedding.hpp"
#include "forma/nn/feed_forward.hpp"
#include "forma/nn/kv_cache.hpp"
#include "forma/nn/linear.hpp"
#include "forma/nn/norm.hpp"
#include "forma/nn/transformer_block.hpp"
