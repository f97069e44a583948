// forma/io.hpp — file formats: .npy, safetensors, llama2.c and llm.c checkpoints, Hugging Face
// model directories, GGUF files and the models in them (and mmap, JSON).
#pragma once

#include "forma/io/common.hpp"
#include "forma/io/decoder_storage.hpp"
#include "forma/io/gguf.hpp"
#include "forma/io/gguf_model.hpp"
#include "forma/io/hf.hpp"
#include "forma/io/json.hpp"
#include "forma/io/llama2c.hpp"
#include "forma/io/llmc.hpp"
#include "forma/io/mmap.hpp"
#include "forma/io/npy.hpp"
#include "forma/io/safetensors.hpp"
