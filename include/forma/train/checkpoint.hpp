// forma/train/checkpoint.hpp — writing trained weights as a llama2.c checkpoint.
//
//   save_llama2c(weights, path)   LlamaWeights<C> (e.g. LlamaTrainer::weights()) => the legacy
//                                 format that llama2.c's run.c and forma::io::llama2c::load read:
//     7 × int32 header (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size — negative when
//     the classifier is separate —, seq_len = max_seq), then fp32: token_embedding, rms_att, wq,
//     wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, the RoPE tables (cos then sin, each
//     seq_len × head_dim/2, as llama2.c's precompute_freqs_cis; readers skip them), [classifier].
// The weights only: the optimizer state is not saved. An unwritable path is an Error (errc::io).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "forma/core/error.hpp"
#include "forma/kernels/math.hpp"
#include "forma/models/llama_config.hpp"
#include "forma/models/llama_weights.hpp"

namespace forma::train {

template <LlamaConfig C>
Result<void> save_llama2c(const LlamaWeights<C>& w, const std::string& path) {
  const LlamaShape& s = w.shape;
  struct closer {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, closer> file(std::fopen(path.c_str(), "wb"));
  auto failed = [&] {
    return make_error(errc::io, "save_llama2c: cannot write " + path).with_path(path);
  };
  if (!file) return failed();
  const std::int32_t header[7] = {
      static_cast<std::int32_t>(s.dim),      static_cast<std::int32_t>(s.hidden),
      static_cast<std::int32_t>(s.layers),   static_cast<std::int32_t>(s.heads),
      static_cast<std::int32_t>(s.kv_heads),
      s.shared_classifier ? static_cast<std::int32_t>(s.vocab)
                          : -static_cast<std::int32_t>(s.vocab),
      static_cast<std::int32_t>(s.max_seq)};
  bool ok = std::fwrite(header, sizeof(header), 1, file.get()) == 1;
  auto put = [&](const auto& view) {
    if (ok && view.size() != 0) {
      ok = std::fwrite(view.data(), sizeof(float), view.size(), file.get()) == view.size();
    }
  };
  put(w.token_embedding);
  put(w.rms_att);
  put(w.wq);
  put(w.wk);
  put(w.wv);
  put(w.wo);
  put(w.rms_ffn);
  put(w.w1);
  put(w.w2);
  put(w.w3);
  put(w.rms_final);
  const std::size_t head_dim = s.head_dim(), pairs = head_dim / 2;
  std::vector<float> table(s.max_seq * pairs);
  for (int part = 0; part < 2 && ok; ++part) {
    for (std::size_t t = 0; t < s.max_seq; ++t) {
      for (std::size_t i = 0; i < pairs; ++i) {
        const float angle = static_cast<float>(t) *
                            math::rope_frequency(static_cast<unsigned>(i),
                                                 static_cast<unsigned>(head_dim), C.rope_theta);
        table[t * pairs + i] = part == 0 ? std::cos(angle) : std::sin(angle);
      }
    }
    ok = table.empty() ||
         std::fwrite(table.data(), sizeof(float), table.size(), file.get()) == table.size();
  }
  if (!s.shared_classifier) put(w.classifier);
  if (!ok) return failed();
  if (std::fclose(file.release()) != 0) return failed();
  return {};
}

}  // namespace forma::train
