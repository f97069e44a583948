// forma/models/llama.hpp — a Llama-family model on llama2.c's weights: the one decoder
// (forma::Decoder) with the Llama config.
//
//   using Stories = forma::Llama<forma::LlamaConfig{.dim = 64, .hidden = 172, .layers = 5,
//                                                   .heads = 8, .kv_heads = 4, .vocab = 512,
//                                                   .max_seq = 512}>;
//   Stories model(weights);                   // LlamaWeights<C>: views, e.g. of an mmapped file
//   auto logits = model.forward(token, pos);  // Result<VectorView<const float, 512>>
//
// Llama<C, PrefillChunk, Sum> is Decoder<llama_decoder(C), PrefillChunk, Sum> built from a
// LlamaWeights (the per-layer tensors of a llama2.c checkpoint stacked on a first axis): the
// forward pass, prefill, the KV cache and the no-allocation decode step are the decoder's. With
// ordered_sum_t the logits are llama2.c run.c's bit for bit.
#pragma once

#include <cstddef>

#include "forma/core/summation.hpp"
#include "forma/models/decoder.hpp"
#include "forma/models/llama_config.hpp"
#include "forma/models/llama_weights.hpp"

namespace forma {

// The decoder weights of a llama2.c-layout model: views of each layer's slice.
template <LlamaConfig C>
DecoderWeights<llama_decoder(C)> decoder_weights(const LlamaWeights<C>& w) {
  constexpr DecoderConfig D = llama_decoder(C);
  DecoderWeights<D> out;
  out.shape = {w.shape.dim,     w.shape.hidden, w.shape.layers,
               w.shape.heads,   w.shape.kv_heads, w.shape.vocab,
               w.shape.max_seq, 0,                w.shape.shared_classifier,
               C.norm_eps,      C.rope_theta};
  out.token_embedding = w.token_embedding;
  out.layers.resize(w.shape.layers);
  for (std::size_t l = 0; l < w.shape.layers; ++l) {
    auto& layer = out.layers[l];
    layer.attn_norm = w.rms_att[l];
    layer.wq = w.wq[l];
    layer.wk = w.wk[l];
    layer.wv = w.wv[l];
    layer.wo = w.wo[l];
    layer.ffn_norm = w.rms_ffn[l];
    layer.w1 = w.w1[l];
    layer.w2 = w.w2[l];
    layer.w3 = w.w3[l];
  }
  out.final_norm = w.rms_final;
  out.classifier = w.classifier;
  return out;
}

// PrefillChunk: how many prompt tokens one batched step processes (its buffers are sized for it).
// Sum: how the projections add their terms — forma::fast_sum_t (SIMD partial sums) or
// forma::ordered_sum_t (left to right: llama2.c's run.c arithmetic, bit for bit).
template <LlamaConfig C, std::size_t PrefillChunk = 32, summation Sum = fast_sum_t>
class Llama : public Decoder<llama_decoder(C), PrefillChunk, Sum> {
  using base = Decoder<llama_decoder(C), PrefillChunk, Sum>;

 public:
  static constexpr LlamaConfig config = C;
  using weights_type = LlamaWeights<C>;

  // Checks the config's invariants against the weights' run-time shape (at compile time for the
  // static fields) and allocates every buffer once. `context` (0 = max_seq) caps the positions
  // the model will run — and so the KV cache it allocates.
  explicit Llama(const weights_type& weights, std::size_t context = 0)
      : base(decoder_weights(weights), context), w_(weights) {}

  const LlamaShape& shape() const noexcept { return w_.shape; }
  const weights_type& weights() const noexcept { return w_; }

 private:
  weights_type w_;
};

}  // namespace forma
