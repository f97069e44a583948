// forma/models/decoder_weights.hpp — typed, read-only views of a decoder's weights.
//
// Every matrix is stored out × in (row-major), the layout of torch.nn.Linear and llama2.c, so a
// projection is matmul_nt / matvec (GPT-2's Conv1D [in, out] weights are transposed by their
// loader). The views point into memory someone else owns: an mmapped checkpoint, or tensors a
// loader keeps alive next to them (forma::io::hf::Model, forma::io::llmc::Model).
//
//   token_embedding (vocab, dim)     position_embedding (positions, dim) — learned positions only
//   per layer:  attn_norm (dim) [+ attn_norm_bias (dim) for LayerNorm]
//               wq (dim, dim), wk, wv (kv_dim, dim), wo (dim, dim) [+ bq (dim), bk, bv (kv_dim)
//               with qkv biases, bo (dim) with an output bias]
//               ffn_norm (dim) [+ ffn_norm_bias (dim)]
//               w1 (hidden, dim): SwiGLU's gate / GPT-2's c_fc;  w2 (dim, hidden): down / c_proj;
//               w3 (hidden, dim): SwiGLU's up;  b1 (hidden), b2 (dim): the GELU MLP's biases
//   final_norm (dim) [+ final_norm_bias (dim)]      classifier (vocab, dim) — the embedding when tied
// Views a family does not use stay empty (null data).
#pragma once

#include <cstddef>
#include <vector>

#include "forma/core/extents.hpp"
#include "forma/core/tensor_view.hpp"
#include "forma/models/decoder_config.hpp"

namespace forma {

template <DecoderConfig C>
struct DecoderLayerWeights {
  template <std::size_t... Es>
  using weight = TensorView<const float, extents<Es...>>;

  weight<C.dim> attn_norm, attn_norm_bias;
  weight<C.dim, C.dim> wq;
  weight<C.kv_dim(), C.dim> wk, wv;
  weight<C.dim, C.dim> wo;
  weight<C.dim> bq;
  weight<C.kv_dim()> bk, bv;
  weight<C.dim> bo;
  weight<C.dim> ffn_norm, ffn_norm_bias;
  weight<C.hidden, C.dim> w1;
  weight<C.dim, C.hidden> w2;
  weight<C.hidden, C.dim> w3;
  weight<C.hidden> b1;
  weight<C.dim> b2;
};

template <DecoderConfig C>
struct DecoderWeights {
  template <std::size_t... Es>
  using weight = TensorView<const float, extents<Es...>>;
  static constexpr std::size_t position_rows = C.learned_positions() ? C.positions : dyn;

  DecoderShape shape;  // the run-time values of C (equal to C's fields where static)

  weight<C.vocab, C.dim> token_embedding;
  weight<position_rows, C.dim> position_embedding;
  std::vector<DecoderLayerWeights<C>> layers;
  weight<C.dim> final_norm, final_norm_bias;
  weight<C.vocab, C.dim> classifier;
};

}  // namespace forma
