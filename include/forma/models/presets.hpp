// forma/models/presets.hpp — configs of published models, checked against their files in tests.
#pragma once

#include "forma/models/llama_config.hpp"

namespace forma::presets {

// Karpathy's tinyllamas stories260K (llama2.c, MIT): GQA 8/4, a 512-token vocabulary (tok512),
// the classifier shared with the embedding. Shipped in models/stories260K/.
inline constexpr LlamaConfig stories260k{.dim = 64,
                                         .hidden = 172,
                                         .layers = 5,
                                         .heads = 8,
                                         .kv_heads = 4,
                                         .vocab = 512,
                                         .max_seq = 512,
                                         .classifier = classifier_kind::shared};

// Any llama2.c checkpoint: every extent read from the file at run time.
inline constexpr LlamaConfig any_llama{};

}  // namespace forma::presets
