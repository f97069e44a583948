// forma/io/decoder_storage.hpp — one f32 block for every weight of a DecoderWeights<C>: the
// layout loaders that convert a checkpoint on load (io::hf, io::gguf) fill, and the views.
//
//   const io::DecoderOffsets<C> at(shape);                 // offsets only: nothing allocated yet
//   Tensor<float, extents<dyn>> storage(at.size());        // once every tensor has been checked
//   ... write each weight at storage.data() + at.layers[l].wq, ...
//   DecoderWeights<C> weights = at.views(storage.data());  // typed views into the block
//
// Each weight starts on a 64-byte boundary (16 floats) of the block. The families' weights are
// those DecoderWeights<C> documents: the learned positions and the norms' biases for GPT-2 (which
// has no w3 and adds bo, b1, b2), the q/k/v biases for every family but Llama. A shared classifier
// is the embedding (one offset, no second copy).
#pragma once

#include <array>
#include <cstddef>
#include <vector>

#include "forma/core/extents.hpp"
#include "forma/models/decoder_config.hpp"
#include "forma/models/decoder_weights.hpp"

namespace forma::io {

template <DecoderConfig C>
struct DecoderOffsets {
  // Offsets in floats from the start of the block; 0 for a weight the family does not have.
  struct Layer {
    std::size_t attn_norm = 0, attn_norm_bias = 0, wq = 0, wk = 0, wv = 0, wo = 0, bq = 0, bk = 0,
                bv = 0, bo = 0, ffn_norm = 0, ffn_norm_bias = 0, w1 = 0, w2 = 0, w3 = 0, b1 = 0,
                b2 = 0;
  };

  DecoderShape shape;
  std::size_t embedding = 0, positions = 0, final_norm = 0, final_norm_bias = 0, classifier = 0;
  std::vector<Layer> layers;
  std::size_t size = 0;  // floats in the block

  // The offsets for a model of this run-time shape. Only the list of layers is allocated: a
  // caller bounds shape.layers by its file first (hostile metadata may say anything), and
  // allocates size() floats only once every tensor has matched its expected shape.
  explicit DecoderOffsets(const DecoderShape& s) : shape(s), layers(s.layers) {
    const std::size_t D = s.dim, H = s.hidden, KV = s.kv_dim(), V = s.vocab;
    embedding = take(V * D);
    if constexpr (C.learned_positions()) positions = take(s.positions * D);
    final_norm = take(D);
    if constexpr (C.learned_positions()) final_norm_bias = take(D);
    classifier = s.shared_classifier ? embedding : take(V * D);
    for (Layer& o : layers) {
      o.attn_norm = take(D);
      o.ffn_norm = take(D);
      o.wq = take(D * D);
      o.wk = take(KV * D);
      o.wv = take(KV * D);
      o.wo = take(D * D);
      o.w1 = take(H * D);
      o.w2 = take(D * H);
      if constexpr (C.family == model_family::gpt2) {
        o.attn_norm_bias = take(D);
        o.ffn_norm_bias = take(D);
        o.bo = take(D);
        o.b1 = take(H);
        o.b2 = take(D);
      } else {
        o.w3 = take(H * D);
      }
      if constexpr (C.qkv_bias()) {
        o.bq = take(D);
        o.bk = take(KV);
        o.bv = take(KV);
      }
    }
  }

  // The typed views of the weights in a block laid out by these offsets (base: size floats).
  DecoderWeights<C> views(const float* base) const {
    using W = DecoderWeights<C>;
    using LW = DecoderLayerWeights<C>;
    const std::size_t D = shape.dim, H = shape.hidden, KV = shape.kv_dim(), V = shape.vocab;
    W w;
    w.shape = shape;
    w.token_embedding = view<decltype(W::token_embedding)>(base, embedding, V, D);
    if constexpr (C.learned_positions()) {
      w.position_embedding =
          view<decltype(W::position_embedding)>(base, positions, shape.positions, D);
      w.final_norm_bias = view<decltype(W::final_norm_bias)>(base, final_norm_bias, D);
    }
    w.final_norm = view<decltype(W::final_norm)>(base, final_norm, D);
    w.classifier = view<decltype(W::classifier)>(base, classifier, V, D);
    w.layers.resize(layers.size());
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const Layer& o = layers[l];
      LW& lw = w.layers[l];
      lw.attn_norm = view<decltype(LW::attn_norm)>(base, o.attn_norm, D);
      lw.ffn_norm = view<decltype(LW::ffn_norm)>(base, o.ffn_norm, D);
      lw.wq = view<decltype(LW::wq)>(base, o.wq, D, D);
      lw.wk = view<decltype(LW::wk)>(base, o.wk, KV, D);
      lw.wv = view<decltype(LW::wv)>(base, o.wv, KV, D);
      lw.wo = view<decltype(LW::wo)>(base, o.wo, D, D);
      lw.w1 = view<decltype(LW::w1)>(base, o.w1, H, D);
      lw.w2 = view<decltype(LW::w2)>(base, o.w2, D, H);
      if constexpr (C.family == model_family::gpt2) {
        lw.attn_norm_bias = view<decltype(LW::attn_norm_bias)>(base, o.attn_norm_bias, D);
        lw.ffn_norm_bias = view<decltype(LW::ffn_norm_bias)>(base, o.ffn_norm_bias, D);
        lw.bo = view<decltype(LW::bo)>(base, o.bo, D);
        lw.b1 = view<decltype(LW::b1)>(base, o.b1, H);
        lw.b2 = view<decltype(LW::b2)>(base, o.b2, D);
      } else {
        lw.w3 = view<decltype(LW::w3)>(base, o.w3, H, D);
      }
      if constexpr (C.qkv_bias()) {
        lw.bq = view<decltype(LW::bq)>(base, o.bq, D);
        lw.bk = view<decltype(LW::bk)>(base, o.bk, KV);
        lw.bv = view<decltype(LW::bv)>(base, o.bv, KV);
      }
    }
    return w;
  }

 private:
  std::size_t take(std::size_t count) {
    const std::size_t at = size;
    size += (count + 15) / 16 * 16;
    return at;
  }

  template <class View, class... Sizes>
  static View view(const float* base, std::size_t offset, Sizes... sizes) {
    using E = typename View::extents_type;
    return View(base + offset,
                E(std::array<std::size_t, E::rank()>{static_cast<std::size_t>(sizes)...}));
  }
};

}  // namespace forma::io
