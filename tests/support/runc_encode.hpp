// runc_encode.hpp — an independent transcription of llama2.c run.c's encode(), the reference
// that forma::text::Tokenizer's run.c mode is checked against (tests/unit/text/tokenizer.cpp) and
// the peer it is measured against (benchmarks/tokenizer.cpp). It follows run.c's structure step
// by step, on purpose slowly: every pass looks up every adjacent pair's concatenation and rescans
// all of them for the best score (strictly greater than the best so far, starting at −1e10), so
// the leftmost of equal scores wins; O(n²) lookups. Only the tokenizer's public lookups are used
// (find, score, piece); run.c's bsearch over the sorted vocabulary is find().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <forma/text/tokenizer.hpp>

namespace forma_test {

inline std::vector<std::int32_t> runc_encode(const forma::text::Tokenizer& t, std::string_view text, bool bos,
                                             bool eos) {
  std::vector<std::int32_t> tokens;
  if (bos) tokens.push_back(1);
  if (!text.empty()) tokens.push_back(t.find(" "));  // the dummy prefix
  std::string buffer;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0u) != 0x80u) buffer.clear();  // a new code point starts
    buffer.push_back(static_cast<char>(c));
    const bool continuation_follows =
        i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xC0u) == 0x80u;
    if (continuation_follows && buffer.size() < 4) continue;
    const std::int32_t id = t.find(buffer);
    if (id != -1) {
      tokens.push_back(id);
    } else {
      for (const char byte : buffer) tokens.push_back(static_cast<unsigned char>(byte) + 3);
    }
    buffer.clear();
  }
  while (true) {
    float best_score = -1e10f;
    std::int32_t best_id = -1;
    std::ptrdiff_t best_index = -1;
    for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
      const std::string pair = std::string(t.piece(tokens[i])) + std::string(t.piece(tokens[i + 1]));
      const std::int32_t id = t.find(pair);
      if (id != -1 && t.score(id) > best_score) {
        best_score = t.score(id);
        best_id = id;
        best_index = static_cast<std::ptrdiff_t>(i);
      }
    }
    if (best_index == -1) break;
    tokens[static_cast<std::size_t>(best_index)] = best_id;
    tokens.erase(tokens.begin() + best_index + 1);
  }
  if (eos) tokens.push_back(2);
  return tokens;
}

}  // namespace forma_test
