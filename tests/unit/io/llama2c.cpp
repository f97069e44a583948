// Unit tests: llama2.c checkpoints in every format, typed loading, and every error.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <forma/io/llama2c.hpp>
#include <forma/models/presets.hpp>

#include "test_support.hpp"

namespace llama2c = forma::io::llama2c;
using forma::dyn;
using forma::LlamaConfig;

namespace {

constexpr LlamaConfig tiny{.dim = 16, .hidden = 40, .layers = 2, .heads = 4, .kv_heads = 2, .vocab = 24, .max_seq = 8};
const std::string data_dir = FORMA_TEST_DATA_DIR "/llama2c/";
const std::string stories_path = FORMA_SOURCE_DIR "/models/stories260K/stories260K.bin";

template <LlamaConfig C>
std::span<const float> tensor_named(const forma::LlamaWeights<C>& w, const std::string& name) {
  const auto flat = [](const auto& view) { return std::span<const float>(view.data(), view.size()); };
  if (name == "token_embedding") return flat(w.token_embedding);
  if (name == "rms_att") return flat(w.rms_att);
  if (name == "wq") return flat(w.wq);
  if (name == "wk") return flat(w.wk);
  if (name == "wv") return flat(w.wv);
  if (name == "wo") return flat(w.wo);
  if (name == "rms_ffn") return flat(w.rms_ffn);
  if (name == "w1") return flat(w.w1);
  if (name == "w2") return flat(w.w2);
  if (name == "w3") return flat(w.w3);
  if (name == "rms_final") return flat(w.rms_final);
  if (name == "classifier") return flat(w.classifier);
  FAIL("unknown tensor " << name);
  return {};
}

// Checks every spot value NumPy read from `file` against the weights forma mapped.
template <LlamaConfig C>
std::size_t check_spots(const std::string& file, const forma::LlamaWeights<C>& weights) {
  std::ifstream in(data_dir + "spot_values.txt");
  REQUIRE(in.good());
  std::size_t checked = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name_of_file, tensor;
    std::size_t index = 0;
    double value = 0;
    fields >> name_of_file >> tensor >> index >> value;
    if (name_of_file != file) continue;
    const auto span = tensor_named(weights, tensor);
    REQUIRE(index < span.size());
    INFO(file << " " << tensor << "[" << index << "]");
    CHECK(span[index] == static_cast<float>(value));
    ++checked;
  }
  return checked;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::string legacy_header(std::array<std::int32_t, 7> fields) {
  std::string bytes(28, '\0');
  std::memcpy(bytes.data(), fields.data(), 28);
  return bytes;
}

}  // namespace

TEST_CASE("stories260K loads into its static type, zero copy, with the values NumPy reads") {
  auto checkpoint = llama2c::load<forma::presets::stories260k>(stories_path);
  REQUIRE_MESSAGE(checkpoint, forma::testing::error_text(checkpoint));
  const auto& h = checkpoint->header();
  CHECK(h.kind == llama2c::format::legacy);
  CHECK(h.dim == 64);
  CHECK(h.hidden_dim == 172);
  CHECK(h.n_kv_heads == 4);
  CHECK(h.vocab_size == 512);
  CHECK(h.shared_classifier);
  const auto& w = checkpoint->weights();
  static_assert(std::is_same_v<std::remove_cvref_t<decltype(w.wk)>,
                               forma::TensorView<const float, forma::extents<5, 32, 64>>>);
  CHECK(w.classifier.data() == w.token_embedding.data());
  CHECK(check_spots("stories260K.bin", w) == 33);
}

TEST_CASE("the same file loads into an all-dynamic config with the same views") {
  auto fixed = llama2c::load<forma::presets::stories260k>(stories_path).value();
  auto any = llama2c::load<forma::presets::any_llama>(stories_path).value();
  CHECK(any.weights().wk.extent(1) == 32);
  CHECK(any.weights().w2.extent(2) == 172);
  CHECK(any.weights().shape.kv_dim() == 32);
  CHECK(check_spots("stories260K.bin", any.weights()) == 33);
  // Different mappings of one file, same bytes.
  CHECK(std::memcmp(any.weights().w3.data(), fixed.weights().w3.data(), fixed.weights().w3.size_bytes()) == 0);
}

TEST_CASE("legacy, legacy with a separate classifier, and version 1 all map their weights") {
  auto shared = llama2c::load<tiny>(data_dir + "tiny_legacy.bin");
  REQUIRE_MESSAGE(shared, forma::testing::error_text(shared));
  CHECK(check_spots("tiny_legacy.bin", shared->weights()) == 12);
  auto separate = llama2c::load<tiny>(data_dir + "tiny_legacy_separate.bin");
  REQUIRE_MESSAGE(separate, forma::testing::error_text(separate));
  CHECK_FALSE(separate->header().shared_classifier);
  CHECK(check_spots("tiny_legacy_separate.bin", separate->weights()) == 12);
  auto v1 = llama2c::load<tiny>(data_dir + "tiny_v1.bin");
  REQUIRE_MESSAGE(v1, forma::testing::error_text(v1));
  CHECK(v1->header().kind == llama2c::format::fp32_v1);
  CHECK(v1->header().header_bytes == 256);
  CHECK(check_spots("tiny_v1.bin", v1->weights()) == 12);
}

TEST_CASE("version 2 (Q8_0) is parsed and validated, and refused as fp32 weights") {
  auto header = llama2c::read_header(data_dir + "tiny_v2.bin");
  REQUIRE_MESSAGE(header, forma::testing::error_text(header));
  CHECK(header->kind == llama2c::format::q8_0_v2);
  CHECK(header->group_size == 8);
  CHECK_FALSE(header->shared_classifier);
  const std::string bytes = read_bytes(data_dir + "tiny_v2.bin");
  CHECK(llama2c::validate(as_bytes(bytes)).has_value());
  CHECK(llama2c::expected_size(*header).value() == bytes.size());
  const auto loaded = llama2c::load<tiny>(data_dir + "tiny_v2.bin");
  REQUIRE_FALSE(loaded);
  CHECK(loaded.error().code == forma::errc::unsupported);
  CHECK(loaded.error().to_string() == data_dir + "tiny_v2.bin: a Q8_0 (version 2) checkpoint cannot be loaded as fp32 weights");
  // A group size that does not divide the weights is rejected.
  std::string bad = bytes;
  const std::int32_t seven = 7;
  std::memcpy(bad.data() + 37, &seven, 4);
  CHECK(llama2c::parse_header(as_bytes(bad)).error().message ==
        "group_size 7 does not divide token_embedding (384 values)");
  const std::int32_t zero = 0;
  std::memcpy(bad.data() + 37, &zero, 4);
  CHECK(llama2c::parse_header(as_bytes(bad)).error().message == "group_size is 0, must be positive");
  bad = bytes;
  bad[36] = '\x02';
  CHECK(llama2c::parse_header(as_bytes(bad)).error().message == "shared_classifier flag is 2, expected 0 or 1");
}

TEST_CASE("version 2 layout: each matrix's int8 values then its scales, as export.py writes, dequantize to NumPy's values") {
  const std::string bytes = read_bytes(data_dir + "tiny_v2.bin");
  const auto header = llama2c::parse_header(as_bytes(bytes)).value();
  const auto layout = llama2c::q8_0_layout(header).value();
  CHECK(layout.end == bytes.size());
  REQUIRE(layout.tensors.size() == 9);
  const std::size_t norms_bytes = (2 * 2 * 16 + 16) * 4;
  CHECK(layout.tensors[0].name == "token_embedding");
  CHECK(layout.tensors[0].offset == 256 + norms_bytes);
  CHECK(layout.tensors[1].name == "wq");
  CHECK(layout.tensors[1].count == 2);
  CHECK(layout.tensors[1].stride == 16 * 16 + 16 * 16 / 8 * 4);
  CHECK(layout.tensors[8].name == "classifier");
  const auto value_at = [&](const std::string& name, std::size_t index) -> float {
    if (name.starts_with("rms_")) {
      const std::size_t base = name == "rms_att" ? 0 : name == "rms_ffn" ? 2 * 16 : 4 * 16;
      float x = 0;
      std::memcpy(&x, bytes.data() + layout.norms_offset + (base + index) * 4, 4);
      return x;
    }
    for (const auto& t : layout.tensors) {
      if (t.name != name) continue;
      const std::size_t matrix = index / t.values, within = index % t.values;
      REQUIRE(matrix < t.count);
      const std::size_t at = t.offset + matrix * t.stride;
      float scale = 0;
      std::memcpy(&scale, bytes.data() + at + t.values + within / header.group_size * 4, 4);
      return static_cast<float>(static_cast<std::int8_t>(bytes[at + within])) * scale;
    }
    FAIL("no tensor " << name);
    return 0;
  };
  std::ifstream in(data_dir + "spot_values.txt");
  std::string line;
  std::size_t checked = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string file, tensor;
    std::size_t index = 0;
    double value = 0;
    fields >> file >> tensor >> index >> value;
    if (file != "tiny_v2.bin") continue;
    INFO(tensor << "[" << index << "]");
    CHECK(value_at(tensor, index) == static_cast<float>(value));
    ++checked;
  }
  CHECK(checked == 12);
  CHECK(llama2c::q8_0_layout(llama2c::parse_header(as_bytes(read_bytes(data_dir + "tiny_v1.bin"))).value()).error().message ==
        "q8_0_layout: not a version 2 (Q8_0) header");
}

TEST_CASE("version 2: load_fp32 dequantizes to NumPy's values, encode_q8_0_v2 writes export.py's bytes") {
  // tiny_v2.bin's dequantized values (int8 × scale, NumPy) and its fp32 norms, through load_fp32.
  auto v2 = llama2c::load_fp32<tiny>(data_dir + "tiny_v2.bin");
  REQUIRE_MESSAGE(v2, forma::testing::error_text(v2));
  CHECK(v2->header().kind == llama2c::format::q8_0_v2);
  CHECK(check_spots("tiny_v2.bin", v2->weights()) == 12);
  // An fp32 file goes through load_fp32 unchanged (mapped in place).
  auto v1 = llama2c::load_fp32<tiny>(data_dir + "tiny_v1.bin");
  REQUIRE_MESSAGE(v1, forma::testing::error_text(v1));
  CHECK(check_spots("tiny_v1.bin", v1->weights()) == 12);
  // tiny_v1.bin's weights quantized with group size 8: tiny_v2.bin (made from the same weights by
  // scripts/fixtures/make_llama2c_fixtures.py as export.py's quantize_q80 does), byte for byte.
  auto encoded = llama2c::encode_q8_0_v2(v1->weights(), 8);
  REQUIRE_MESSAGE(encoded, forma::testing::error_text(encoded));
  CHECK(*encoded == read_bytes(data_dir + "tiny_v2.bin"));
  auto bad_group = llama2c::encode_q8_0_v2(v1->weights(), 48);
  REQUIRE_FALSE(bad_group);
  CHECK(bad_group.error().message == "group size 48 does not divide wq (256 values)");
  // A shared classifier: stories260K (shared) round-trips its header fields and flag.
  auto stories = llama2c::load<forma::presets::any_llama>(stories_path);
  REQUIRE(stories);
  auto stories_v2 = llama2c::encode_q8_0_v2(stories->weights(), llama2c::q80_group_size(64));
  REQUIRE(stories_v2);
  auto header = llama2c::validate(as_bytes(*stories_v2));
  REQUIRE_MESSAGE(header, forma::testing::error_text(header));
  CHECK(header->shared_classifier);
  CHECK(header->group_size == 64);
  CHECK(header->shape().dim == 64);
  CHECK(header->shape().hidden == 172);
}

TEST_CASE("quantize_q80: scale max|x| / 127, q = round(x / scale) with halves to even, zero groups") {
  // Scale 1: the values are their own quotients; ties go to the even integer (torch.round).
  const float x[8] = {127.0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 3.49f};
  std::int8_t q[16] = {};
  float scales[2] = {};
  llama2c::quantize_q80(x, 8, 8, q, scales);
  CHECK(scales[0] == 1.0f);
  const std::int8_t want[8] = {127, 0, 2, 2, 0, -2, -2, 3};
  for (int i = 0; i < 8; ++i) CHECK(q[i] == want[i]);
  const float zeros[8] = {};
  llama2c::quantize_q80(zeros, 8, 8, q + 8, scales + 1);
  CHECK(scales[1] == 0.0f);
  for (int i = 8; i < 16; ++i) CHECK(q[i] == 0);
  // A subnormal scale: x / scale may pass 127 (export.py's int8 cast would wrap); clamped to ±127.
  // max|x| = 190 ulps of the smallest subnormal: scale = 190/127 ulps rounds to 1 ulp, x / scale = 190.
  const float ulp = std::numeric_limits<float>::denorm_min();
  const float tiny_values[8] = {190 * ulp, -190 * ulp, 100 * ulp, 0.0f, 3 * ulp, ulp, -128 * ulp, 2 * ulp};
  llama2c::quantize_q80(tiny_values, 8, 8, q, scales);
  CHECK(scales[0] == ulp);
  const std::int8_t clamped[8] = {127, -127, 100, 0, 3, 1, -127, 2};
  for (int i = 0; i < 8; ++i) CHECK(q[i] == clamped[i]);
  CHECK(llama2c::q80_group_size(288) == 32);
  CHECK(llama2c::q80_group_size(64) == 64);
  CHECK(llama2c::q80_group_size(16) == 16);
  CHECK(llama2c::q80_group_size(4096) == 64);
}

TEST_CASE("every field the type fixes is checked, and every mismatch is named") {
  constexpr LlamaConfig wrong{.dim = 288, .hidden = 172, .layers = 5, .heads = 8, .kv_heads = 8,
                              .vocab = 512, .max_seq = 256, .classifier = forma::classifier_kind::separate};
  const auto loaded = llama2c::load<wrong>(stories_path);
  REQUIRE_FALSE(loaded);
  CHECK(loaded.error().code == forma::errc::shape_mismatch);
  CHECK(loaded.error().to_string() == stories_path +
        ": dim: type says 288, file says 64; n_kv_heads: type says 8, file says 4; "
        "seq_len: type says 256, file says 512; classifier: type says separate, file says shared");
}

TEST_CASE("every header field is compared by name: all seven and the classifier at once") {
  constexpr LlamaConfig all_wrong{.dim = 32, .hidden = 64, .layers = 4, .heads = 4, .kv_heads = 2,
                                  .vocab = 256, .max_seq = 128, .classifier = forma::classifier_kind::separate};
  const auto loaded = llama2c::load<all_wrong>(stories_path);
  REQUIRE_FALSE(loaded);
  CHECK(loaded.error().message ==
        "dim: type says 32, file says 64; hidden_dim: type says 64, file says 172; n_layers: type says 4, file says 5; "
        "n_heads: type says 4, file says 8; n_kv_heads: type says 2, file says 4; vocab_size: type says 256, file says 512; "
        "seq_len: type says 128, file says 512; classifier: type says separate, file says shared");
  constexpr LlamaConfig wants_shared{.dim = 16, .hidden = 40, .layers = 2, .heads = 4, .kv_heads = 2, .vocab = 24,
                                     .max_seq = 8, .classifier = forma::classifier_kind::shared};
  CHECK(llama2c::load<wants_shared>(data_dir + "tiny_legacy_separate.bin").error().to_string() ==
        data_dir + "tiny_legacy_separate.bin: classifier: type says shared, file says separate");
  // The size check comes first: a truncated file is reported as such whatever the type.
  CHECK(llama2c::load<all_wrong>(data_dir + "truncated_stories260K.bin").error().message ==
        "file has 4096 bytes, the header implies 1056540");
}

TEST_CASE("the weights are views into the mapping, and map_weights refuses bytes that do not fit the header") {
  auto legacy = llama2c::load<forma::presets::stories260k>(stories_path).value();
  const auto* base = legacy.bytes().data();
  CHECK(reinterpret_cast<const std::byte*>(legacy.weights().token_embedding.data()) == base + 28);
  CHECK(reinterpret_cast<const std::byte*>(legacy.weights().rms_att.data()) == base + 28 + 512 * 64 * 4);
  CHECK(reinterpret_cast<const std::byte*>(legacy.weights().rms_final.data() + 64) + 512 * 8 * 4 ==
        base + legacy.bytes().size());  // then only the RoPE tables (seq_len × head_dim floats)
  auto v1 = llama2c::load<tiny>(data_dir + "tiny_v1.bin").value();
  CHECK(reinterpret_cast<const std::byte*>(v1.weights().rms_att.data()) == v1.bytes().data() + 256);
  CHECK(reinterpret_cast<const std::byte*>(v1.weights().classifier.data() + v1.weights().classifier.size()) ==
        v1.bytes().data() + v1.bytes().size());
  const auto header = v1.header();
  std::vector<float> copy(v1.bytes().size() / 4 + 1);
  std::memcpy(copy.data(), v1.bytes().data(), v1.bytes().size());
  const auto* raw = reinterpret_cast<const std::byte*>(copy.data());
  CHECK(llama2c::map_weights<tiny>(header, std::span(raw, v1.bytes().size() - 4)).error().message ==
        "map_weights: " + std::to_string(v1.bytes().size() - 4) + " bytes for a header that implies " +
            std::to_string(v1.bytes().size()));
  CHECK(llama2c::map_weights<tiny>(header, std::span(raw + 1, v1.bytes().size())).error().message ==
        "map_weights: the bytes are not aligned for float");
  CHECK(llama2c::map_weights<tiny>(header, std::span(raw, v1.bytes().size())).has_value());
}

TEST_CASE("file size against the header: truncated and overlong files") {
  const std::string bytes = read_bytes(stories_path);
  const auto truncated = llama2c::validate(as_bytes(bytes.substr(0, bytes.size() - 4)));
  REQUIRE_FALSE(truncated);
  CHECK(truncated.error().code == forma::errc::truncated);
  CHECK(truncated.error().message == "file has 1056536 bytes, the header implies 1056540");
  const auto longer = llama2c::validate(as_bytes(bytes + "xx"));
  REQUIRE_FALSE(longer);
  CHECK(longer.error().message == "file has 1056542 bytes, the header implies 1056540");
  CHECK(llama2c::validate(as_bytes(bytes.substr(0, 10))).error().message ==
        "the file has 10 bytes, too few for a llama2.c header");
}

TEST_CASE("header fields that describe no valid model are errors") {
  const auto message = [](std::array<std::int32_t, 7> fields) {
    return llama2c::parse_header(as_bytes(legacy_header(fields))).error().message;
  };
  CHECK(message({0, 172, 5, 8, 4, 512, 512}) == "dim is 0, must be positive");
  CHECK(message({64, 172, -5, 8, 4, 512, 512}) == "n_layers is -5, must be positive");
  CHECK(message({64, 172, 5, 7, 7, 512, 512}) == "n_heads 7 does not divide dim 64");
  CHECK(message({64, 172, 5, 8, 3, 512, 512}) == "n_kv_heads 3 does not divide n_heads 8");
  CHECK(message({48, 172, 5, 16, 4, 512, 512}) == "head_dim 3 is odd; RoPE needs an even head_dim");
  CHECK(message({64, 172, 5, 8, 4, std::numeric_limits<std::int32_t>::min(), 512}) ==
        "vocab_size is -2147483648, must be positive");
  // Sizes whose product overflows are caught, not wrapped.
  const std::string huge = legacy_header({1 << 30, 1 << 30, 1 << 30, 2, 2, 1 << 30, 1 << 30});
  const auto overflow = llama2c::validate(as_bytes(huge));
  REQUIRE_FALSE(overflow);
  CHECK(overflow.error().message == "the sizes in the header overflow");
  // An unknown version of the ak42 format.
  std::string v9(256, '\0');
  const std::uint32_t magic = llama2c::magic;
  const std::int32_t nine = 9;
  std::memcpy(v9.data(), &magic, 4);
  std::memcpy(v9.data() + 4, &nine, 4);
  CHECK(llama2c::parse_header(as_bytes(v9)).error().message ==
        "llama2.c version 9 is not supported (versions 1 and 2 are)");
}

TEST_CASE("missing files and directories are io errors naming the path") {
  const auto missing = llama2c::load<tiny>("/nonexistent/model.bin");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == forma::errc::io);
  CHECK(missing.error().to_string() == "/nonexistent/model.bin: cannot open: No such file or directory");
  const auto directory = llama2c::read_header(FORMA_TEST_DATA_DIR);
  REQUIRE_FALSE(directory);
  CHECK(directory.error().message == "not a regular file");
}
