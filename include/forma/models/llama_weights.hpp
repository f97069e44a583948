// forma/models/llama_weights.hpp — typed, read-only views of a Llama model's weights.
//
// Every matrix is stored out × in (row-major), the layout of llama2.c checkpoints and of
// torch.nn.Linear, so a projection is matmul_nt / matvec. Per-layer tensors carry the layer as
// their first axis. The views point into memory someone else owns (an mmapped checkpoint or
// tensors the caller keeps alive).
//
//   token_embedding (vocab, dim)          rms_att  (layers, dim)     rms_ffn (layers, dim)
//   wq (layers, dim, dim)                 wk, wv   (layers, kv_dim, dim)
//   wo (layers, dim, dim)                 w1, w3   (layers, hidden, dim)   w2 (layers, dim, hidden)
//   rms_final (dim)                       classifier (vocab, dim) — the embedding when shared
#pragma once

#include "forma/core/extents.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/models/llama_config.hpp"

namespace forma {

template <LlamaConfig C>
struct LlamaWeights {
  template <std::size_t... Es>
  using weight = TensorView<const float, extents<Es...>>;

  LlamaShape shape;  // the run-time values of C (equal to C's fields where static)

  weight<C.vocab, C.dim> token_embedding;
  weight<C.layers, C.dim> rms_att;
  weight<C.layers, C.dim, C.dim> wq;
  weight<C.layers, C.kv_dim(), C.dim> wk;
  weight<C.layers, C.kv_dim(), C.dim> wv;
  weight<C.layers, C.dim, C.dim> wo;
  weight<C.layers, C.dim> rms_ffn;
  weight<C.layers, C.hidden, C.dim> w1;
  weight<C.layers, C.dim, C.hidden> w2;
  weight<C.layers, C.hidden, C.dim> w3;
  weight<C.dim> rms_final;
  weight<C.vocab, C.dim> classifier;
};

}  // namespace forma
