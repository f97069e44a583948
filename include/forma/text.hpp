// forma/text.hpp — the text layer: the llama2.c/SentencePiece tokenizer, GPT-2's byte-level BPE
// tokenizer, run.c's sampler, and generation and chat over any causal language model.
#pragma once

#include "forma/text/bpe.hpp"
#include "forma/text/generate.hpp"
#include "forma/text/gguf_tokenizer.hpp"
#include "forma/text/sampler.hpp"
#include "forma/text/tokenizer.hpp"
