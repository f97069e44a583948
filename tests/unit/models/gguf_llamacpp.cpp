// GGUF files that llama.cpp itself wrote (tests/data/gguf/llamacpp_quant, made by
// scripts/fixtures/make_llamacpp_fixtures.py: written F32 by forma-convert, quantized by llama.cpp's
// llama_model_quantize): a random 256-wide Llama quantized to ten llama.cpp file types (Q2_K,
// Q3_K_M, Q4_K_M, Q5_K_M, Q6_K, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1).
// - every tensor of every file dequantizes to the bits of gguf-py 0.19.0's dequantization (hashes);
// - forma's logits on each file are within llama.cpp's own quantized-vs-F32 error of llama.cpp's
//   logits on the same file (llama.cpp also rounds the activations to 8 bits; forma keeps them f32).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <forma/io/gguf.hpp>
#include <forma/io/gguf_model.hpp>
#include <forma/io/npy.hpp>
#include <forma/models/decoder.hpp>
#include <forma/models/presets.hpp>

#include "test_support.hpp"

namespace gguf = forma::io::gguf;
using forma::dyn;
using forma::testing::error_text;

namespace {

const std::string dir = FORMA_TEST_DATA_DIR "/gguf/llamacpp_quant/";

std::vector<std::vector<std::string>> read_tsv(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    std::istringstream cells(line);
    for (std::string cell; std::getline(cells, cell, '\t');) fields.push_back(cell);
    rows.push_back(std::move(fields));
  }
  return rows;
}

std::uint64_t fnv1a64(const std::vector<float>& values) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  const auto* bytes = reinterpret_cast<const unsigned char*>(values.data());
  for (std::size_t i = 0; i < values.size() * sizeof(float); ++i) {
    h ^= bytes[i];
    h *= 0x100000001B3ull;
  }
  return h;
}

std::vector<std::int32_t> tokens() {
  std::ifstream in(dir + "tokens.txt");
  REQUIRE(in.good());
  std::vector<std::int32_t> ids;
  for (std::string item; std::getline(in, item, ',');) ids.push_back(static_cast<std::int32_t>(std::stol(item)));
  return ids;
}

std::vector<float> load_logits(const std::string& file) {
  auto logits = forma::io::load_npy<forma::Matrix<float, dyn, dyn>>(dir + file);
  REQUIRE_MESSAGE(logits, error_text(logits));
  return {logits->data(), logits->data() + logits->size()};
}

}  // namespace

TEST_CASE("llama.cpp-quantized GGUF: every tensor dequantizes to gguf-py's bits (Q2_K to Q6_K, Q4_0 to Q8_0)") {
  const auto rows = read_tsv(dir + "dequantized.tsv");
  REQUIRE(rows.size() >= 4 * 9);
  std::map<std::string, gguf::File> files;
  std::set<std::string> types;
  std::size_t equal = 0;
  for (const auto& row : rows) {
    REQUIRE(row.size() == 4);
    const std::string& file = row[0];
    if (!files.contains(file)) {
      auto opened = gguf::File::open(dir + file);
      REQUIRE_MESSAGE(opened, error_text(opened));
      files.emplace(file, std::move(*opened));
    }
    const gguf::File& f = files.at(file);
    auto info = f.tensor(row[1]);
    REQUIRE_MESSAGE(info, error_text(info));
    auto values = f.dequantize(**info);
    REQUIRE_MESSAGE(values, error_text(values));
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(fnv1a64(*values)));
    INFO(file << " " << row[1] << " (" << row[2] << ")");
    CHECK(std::string(hash) == row[3]);
    equal += std::string(hash) == row[3] ? 1 : 0;
    types.insert(row[2]);
  }
  for (const char* t : {"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"}) {
    CHECK_MESSAGE(types.contains(t), t);
  }
  MESSAGE(equal << " of " << rows.size() << " tensors equal gguf-py's dequantization; types: " << types.size());
}

TEST_CASE("llama.cpp-quantized GGUF: forma's logits are within llama.cpp's own quantization error of llama.cpp's") {
  const auto ids = tokens();
  const auto f32 = load_logits("tiny256_f32.logits.npy");
  for (const auto& row : read_tsv(dir + "tolerances.tsv")) {
    REQUIRE(row.size() == 4);
    const std::string& type = row[0];
    const std::string& file = row[1];
    const double llamacpp_error = std::stod(row[2]);
    CAPTURE(type);
    auto model = gguf::load<forma::presets::any_gguf_llama>(dir + file);
    REQUIRE_MESSAGE(model, error_text(model));
    forma::Decoder<forma::presets::any_gguf_llama> decoder(model->weights());
    std::vector<float> got;
    for (std::size_t pos = 0; pos < ids.size(); ++pos) {
      const auto logits = decoder.forward(ids[pos], pos);
      REQUIRE_MESSAGE(logits, error_text(logits));
      got.insert(got.end(), logits->begin(), logits->end());
    }
    const auto expected = load_logits(file.substr(0, file.size() - 5) + ".logits.npy");
    REQUIRE(got.size() == expected.size());
    double vs_llamacpp = 0, vs_f32 = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      vs_llamacpp = std::max(vs_llamacpp, std::fabs(static_cast<double>(got[i]) - expected[i]));
      vs_f32 = std::max(vs_f32, std::fabs(static_cast<double>(got[i]) - f32[i]));
    }
    MESSAGE(type << ": max |forma - llama.cpp| on the same file = " << vs_llamacpp
                 << " (bound: llama.cpp's own quantized-vs-F32 error " << llamacpp_error
                 << "); forma vs llama.cpp's F32 = " << vs_f32);
    CHECK(vs_llamacpp <= llamacpp_error);
  }
}
