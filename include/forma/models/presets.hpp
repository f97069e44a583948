// forma/models/presets.hpp — configs of published models, checked against their files in tests.
#pragma once

#include "forma/models/decoder_config.hpp"
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

// Any Hugging Face checkpoint of a family: every extent, rope_theta and norm_eps read from
// config.json at run time (Llama with Hugging Face's half-layout RoPE).
inline constexpr DecoderConfig any_hf_llama = llama_decoder(
    LlamaConfig{.rope_theta = from_checkpoint, .norm_eps = from_checkpoint},
    nn::position_kind::rope_half);
inline constexpr DecoderConfig any_qwen2 =
    qwen2_decoder({.rope_theta = from_checkpoint, .norm_eps = from_checkpoint});
// Any GGUF "llama" file: the same fields from its metadata, with the interleaved (adjacent-pair)
// RoPE that llama.cpp's converter lays q and k out for. A GGUF "qwen2" file loads into any_qwen2.
inline constexpr DecoderConfig any_gguf_llama = llama_decoder(
    LlamaConfig{.rope_theta = from_checkpoint, .norm_eps = from_checkpoint},
    nn::position_kind::rope_interleaved);
// GPT-2 with its tanh GELU (activation_function gelu_new); any_gpt2_erf for "gelu".
inline constexpr DecoderConfig any_gpt2 = gpt2_decoder({.norm_eps = from_checkpoint});
inline constexpr DecoderConfig any_gpt2_erf =
    gpt2_decoder({.norm_eps = from_checkpoint, .ffn = nn::ffn_kind::gelu_erf});

}  // namespace forma::presets
