// Unit tests: GGUF models (forma::io::gguf::load) run by forma::Decoder — the tiny Llama and Qwen2
// of tests/data/hf converted as llama.cpp converts them (tests/data/gguf/models/, made by
// scripts/fixtures/make_gguf_models.py): F32 logits against forma on the Hugging Face directories
// and against transformers' float64 ones, F16 and Q8_0 against F32 within measured bounds, greedy
// continuations, and every metadata / tensor problem reported as one Error (files edited in memory).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <forma/io/gguf.hpp>
#include <forma/io/gguf_model.hpp>
#include <forma/io/hf.hpp>
#include <forma/io/npy.hpp>
#include <forma/models/decoder.hpp>
#include <forma/models/presets.hpp>

#include "logits_compare.hpp"
#include "test_support.hpp"

namespace gguf = forma::io::gguf;
using forma::dyn;
using forma::testing::error_text;

namespace {

const std::string models_dir = FORMA_TEST_DATA_DIR "/gguf/models/";
const std::string hf_dir = FORMA_TEST_DATA_DIR "/hf/";

// The fixtures' shapes as fully static configs, with the pairing of their architecture.
constexpr forma::DecoderConfig llama_static = forma::llama_decoder(
    {.dim = 64, .hidden = 172, .layers = 2, .heads = 4, .kv_heads = 2, .vocab = 512,
     .max_seq = 256, .classifier = forma::classifier_kind::separate},
    forma::nn::position_kind::rope_interleaved);
constexpr forma::DecoderConfig llama_tied_static = forma::llama_decoder(
    {.dim = 64, .hidden = 172, .layers = 2, .heads = 4, .kv_heads = 2, .vocab = 512,
     .max_seq = 256, .classifier = forma::classifier_kind::shared},
    forma::nn::position_kind::rope_interleaved);
constexpr forma::DecoderConfig qwen2_static = forma::qwen2_decoder(
    {.dim = 64, .hidden = 128, .layers = 2, .heads = 4, .kv_heads = 2, .vocab = 512,
     .max_seq = 256, .classifier = forma::classifier_kind::shared});

constexpr forma::DecoderConfig any_llama = forma::presets::any_gguf_llama;
constexpr forma::DecoderConfig any_qwen2 = forma::presets::any_qwen2;
constexpr forma::DecoderConfig any_hf_llama = forma::presets::any_hf_llama;

// ---- expected values ------------------------------------------------------------------------

struct Expected {
  std::vector<std::int32_t> tokens;
  std::vector<std::int32_t> greedy;  // the 16 new ids of generate(tokens[:4])
  std::vector<double> logits64;      // T × vocab, transformers in float64
};

std::vector<std::int32_t> load_ids(const std::string& path) {
  auto ids = forma::io::load_npy<forma::Vector<std::int32_t, dyn>>(path);
  REQUIRE_MESSAGE(ids, error_text(ids));
  return {ids->data(), ids->data() + ids->size()};
}

// NAME's values from tests/data/hf/expected, or tests/data/gguf/models/expected for the tied Llama.
Expected load_expected(const std::string& name) {
  const std::string base =
      (name == "llama_tiny_tied" ? models_dir + "expected/" : hf_dir + "expected/") + name;
  Expected e;
  e.tokens = load_ids(base + ".tokens.npy");
  e.greedy = load_ids(base + ".greedy.npy");
  auto logits = forma::io::load_npy<forma::Matrix<double, dyn, dyn>>(base + ".logits64.npy");
  REQUIRE_MESSAGE(logits, error_text(logits));
  REQUIRE(logits->extent(0) == e.tokens.size());
  e.logits64.assign(logits->data(), logits->data() + logits->size());
  return e;
}

using forma::testing::agree;
using forma::testing::max_error;
using forma::testing::same_bits;

// ---- running a model ------------------------------------------------------------------------

template <forma::DecoderConfig C>
gguf::Model<C> load_model(const std::string& file) {
  auto model = gguf::load<C>(models_dir + file);
  REQUIRE_MESSAGE(model, error_text(model));
  return std::move(model).value();
}

// Every position's logits, T × vocab: token by token.
template <forma::DecoderConfig C>
std::vector<float> decode_all(const forma::DecoderWeights<C>& weights,
                              std::span<const std::int32_t> tokens) {
  forma::Decoder<C> decoder(weights);
  std::vector<float> out;
  for (std::size_t pos = 0; pos < tokens.size(); ++pos) {
    const auto logits = decoder.forward(tokens[pos], pos);
    REQUIRE_MESSAGE(logits, error_text(logits));
    out.insert(out.end(), logits->begin(), logits->end());
  }
  return out;
}

// The same from one prefill with every row's logits.
template <forma::DecoderConfig C>
std::vector<float> prefill_all(const forma::DecoderWeights<C>& weights,
                               std::span<const std::int32_t> tokens) {
  forma::Decoder<C> decoder(weights);
  const std::size_t vocab = weights.shape.vocab;
  auto all = forma::testing::make<forma::Matrix<float, dyn, C.vocab>>(tokens.size(), vocab);
  const auto last = decoder.prefill(tokens, 0, all.view());
  REQUIRE_MESSAGE(last, error_text(last));
  return {all.data(), all.data() + all.size()};
}

template <class View>
std::int32_t argmax(const View& logits) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < logits.size(); ++i) {
    if (logits(i) > logits(best)) best = i;
  }
  return static_cast<std::int32_t>(best);
}

// Prefill tokens[:4], then 16 greedy steps (the first from the prefill's logits).
template <forma::DecoderConfig C>
std::vector<std::int32_t> greedy(const forma::DecoderWeights<C>& weights,
                                 std::span<const std::int32_t> tokens) {
  forma::Decoder<C> decoder(weights);
  const auto prompt = tokens.first(4);
  const auto first = decoder.prefill(prompt, 0);
  REQUIRE_MESSAGE(first, error_text(first));
  std::vector<std::int32_t> ids{argmax(*first)};
  for (std::size_t pos = prompt.size(); ids.size() < 16; ++pos) {
    const auto logits = decoder.forward(ids.back(), pos);
    REQUIRE_MESSAGE(logits, error_text(logits));
    ids.push_back(argmax(*logits));
  }
  return ids;
}

// The F32 file's logits for the static and the dynamic config, decode and prefill: static and
// dynamic the same bits, decode and prefill within path_tolerance, all within 1e-4 of
// transformers' float64 logits (the Hugging Face tests' bound). Returns the prefilled logits.
template <forma::DecoderConfig Static, forma::DecoderConfig Dynamic>
std::vector<float> check_golden(const std::string& file, const Expected& e) {
  const auto fixed = load_model<Static>(file);
  const auto dynamic = load_model<Dynamic>(file);
  const auto runs = {decode_all<Static>(fixed.weights(), e.tokens),
                     prefill_all<Static>(fixed.weights(), e.tokens),
                     decode_all<Dynamic>(dynamic.weights(), e.tokens),
                     prefill_all<Dynamic>(dynamic.weights(), e.tokens)};
  const std::vector<float>& first = *runs.begin();
  for (const auto& run : runs) {
    CHECK(agree(run, first));
  }
  // Static and dynamic configs: the same bits, decoding and prefilling.
  CHECK(same_bits(*runs.begin(), *(runs.begin() + 2)));
  CHECK(same_bits(*(runs.begin() + 1), *(runs.begin() + 3)));
  double worst = 0;
  for (const auto& run : runs) worst = std::max(worst, max_error(run, e.logits64));
  MESSAGE(file << ": max |forma - transformers float64| over " << e.tokens.size() << " x 512 = "
               << worst);
  CHECK(worst <= 1e-4);
  return *(runs.begin() + 1);
}

// ---- files edited in memory -----------------------------------------------------------------

std::vector<std::byte> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), path);
  const std::vector<char> chars{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::vector<std::byte> bytes(chars.size());
  std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

// The position of the one occurrence of `text` in the bytes (REQUIREs exactly one).
std::size_t find_once(const std::vector<std::byte>& bytes, std::string_view text) {
  const auto as_char = [](std::byte b, char c) { return static_cast<char>(b) == c; };
  const auto it = std::search(bytes.begin(), bytes.end(), text.begin(), text.end(), as_char);
  REQUIRE_MESSAGE(it != bytes.end(), text);
  REQUIRE_MESSAGE(std::search(it + 1, bytes.end(), text.begin(), text.end(), as_char) == bytes.end(),
                  text);
  return static_cast<std::size_t>(it - bytes.begin());
}

void replace_once(std::vector<std::byte>& bytes, std::string_view from, std::string_view to) {
  REQUIRE(from.size() == to.size());
  std::memcpy(bytes.data() + find_once(bytes, from), to.data(), to.size());
}

template <class T>
void put(std::vector<std::byte>& bytes, std::size_t at, T value) {
  REQUIRE(at + sizeof(T) <= bytes.size());
  std::memcpy(bytes.data() + at, &value, sizeof(T));
}

template <class T>
T get(const std::vector<std::byte>& bytes, std::size_t at) {
  T value;
  std::memcpy(&value, bytes.data() + at, sizeof(T));
  return value;
}

// The byte after a metadata key (where its u32 type, then its value, begin). Keys are written
// once; the 8-byte length before them keeps "llama.x" from matching inside a longer key.
std::size_t after_key(const std::vector<std::byte>& bytes, const std::string& key) {
  std::string prefixed(8, '\0');
  const std::uint64_t length = key.size();
  std::memcpy(prefixed.data(), &length, 8);
  return find_once(bytes, prefixed + key) + 8 + key.size();
}

// A uint32 metadata value replaced.
void set_u32(std::vector<std::byte>& bytes, const std::string& key, std::uint32_t value) {
  const std::size_t at = after_key(bytes, key);
  REQUIRE(get<std::uint32_t>(bytes, at) == 4);  // GGUF's uint32 type
  put(bytes, at + 4, value);
}

// A tensor info: the byte after its name (n_dims, ne..., type, offset follow).
std::size_t tensor_info(const std::vector<std::byte>& bytes, const std::string& name) {
  return after_key(bytes, name);
}

template <forma::DecoderConfig C>
forma::Error load_error(const std::vector<std::byte>& bytes) {
  auto file = gguf::File::from_bytes(bytes);
  REQUIRE_MESSAGE(file, error_text(file));
  auto model = gguf::load<C>(*file);
  REQUIRE_FALSE(model);
  const forma::Error error = model.error();
  CHECK(error.to_string().find('\n') == std::string::npos);
  return error;
}

template <forma::DecoderConfig C>
forma::Error load_error(const std::string& path) {
  auto model = gguf::load<C>(path);
  REQUIRE_FALSE(model);
  const forma::Error error = model.error();
  CHECK(error.to_string().find('\n') == std::string::npos);
  return error;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

// ---- 1. F32 files: the same model as the Hugging Face directory -----------------------------

TEST_CASE("gguf llama_tiny F32 logits equal forma's on the Hugging Face directory and transformers' within 1e-4") {
  const Expected e = load_expected("llama_tiny");
  const auto got = check_golden<llama_static, any_llama>("llama_tiny_f32.gguf", e);
  // The same weights on the same decoder: q and k rows permuted and rotated as adjacent pairs
  // instead of (i, i + d/2), so each rotated value is the same float, but the q·k dot products
  // add the same products in another order: equal up to rounding.
  auto hf_model = forma::io::hf::load<any_hf_llama>(hf_dir + "llama_tiny");
  REQUIRE_MESSAGE(hf_model, error_text(hf_model));
  const auto from_hf = prefill_all<any_hf_llama>(hf_model->weights(), e.tokens);
  const double difference = max_error(got, from_hf);
  MESSAGE("llama_tiny: max |GGUF F32 - Hugging Face directory| (both forma) = " << difference);
  CHECK(difference <= 2e-6);
  const auto model = load_model<any_llama>("llama_tiny_f32.gguf");
  CHECK(model.parameter_count() == hf_model->parameter_count());
  CHECK(model.config().architecture == "llama");
  CHECK(model.config().name == "llama_tiny_f32");
  CHECK(model.config().vocab_from == "token_embd.weight");
  CHECK(model.weights().shape == hf_model->weights().shape);
}

TEST_CASE("gguf qwen2_tiny F32 logits are forma's on the Hugging Face directory bit for bit") {
  const Expected e = load_expected("qwen2_tiny");
  const auto got = check_golden<qwen2_static, any_qwen2>("qwen2_tiny_f32.gguf", e);
  // No permutation for qwen2, and bf16 values are exact in F32: the same weights, the same bits.
  auto hf_model = forma::io::hf::load<any_qwen2>(hf_dir + "qwen2_tiny");
  REQUIRE_MESSAGE(hf_model, error_text(hf_model));
  CHECK(same_bits(got, prefill_all<any_qwen2>(hf_model->weights(), e.tokens)));
  const auto model = load_model<any_qwen2>("qwen2_tiny_f32.gguf");
  CHECK(model.parameter_count() == hf_model->parameter_count());
  CHECK(model.weights().shape == hf_model->weights().shape);
}

TEST_CASE("gguf llama_tiny_tied (no output.weight) runs the embedding as the classifier, as transformers' tied Llama") {
  const Expected e = load_expected("llama_tiny_tied");
  check_golden<llama_tied_static, any_llama>("llama_tiny_tied_f32.gguf", e);
  const auto model = load_model<any_llama>("llama_tiny_tied_f32.gguf");
  CHECK(model.weights().shape.shared_classifier);
  CHECK(model.weights().classifier.data() == model.weights().token_embedding.data());
}

TEST_CASE("gguf greedy decoding after a 4-token prefill reproduces transformers generate") {
  const Expected llama = load_expected("llama_tiny");
  CHECK(greedy<any_llama>(load_model<any_llama>("llama_tiny_f32.gguf").weights(), llama.tokens) ==
        llama.greedy);
  const Expected tied = load_expected("llama_tiny_tied");
  CHECK(greedy<any_llama>(load_model<any_llama>("llama_tiny_tied_f32.gguf").weights(), tied.tokens) ==
        tied.greedy);
  const Expected qwen2 = load_expected("qwen2_tiny");
  CHECK(greedy<any_qwen2>(load_model<any_qwen2>("qwen2_tiny_f32.gguf").weights(), qwen2.tokens) ==
        qwen2.greedy);
}

// ---- 2. F16 and Q8_0 against F32 -------------------------------------------------------------

// The logits of the F16 and Q8_0 files: within 1e-4 of the float64 forward of the file's own
// dequantized weights (expected/STEM_KIND.logits64.npy, made by the fixture script with gguf-py's
// dequantization — the same bound as F32 against transformers), and within the measured
// quantization error (bound_f16, bound_q8_0: about twice the measured value) of the F32 file's.
template <forma::DecoderConfig C>
void check_quantized(const std::string& stem, double bound_f16, double bound_q8_0) {
  const Expected e = load_expected(stem);
  const auto f32 = prefill_all<C>(load_model<C>(stem + "_f32.gguf").weights(), e.tokens);
  for (const auto& [kind, bound] : {std::pair<std::string, double>{"f16", bound_f16},
                                    std::pair<std::string, double>{"q8_0", bound_q8_0}}) {
    const auto model = load_model<C>(stem + "_" + kind + ".gguf");
    const auto got = prefill_all<C>(model.weights(), e.tokens);
    CHECK(agree(got, decode_all<C>(model.weights(), e.tokens)));
    auto own = forma::io::load_npy<forma::Matrix<double, dyn, dyn>>(
        models_dir + "expected/" + stem + "_" + kind + ".logits64.npy");
    REQUIRE_MESSAGE(own, error_text(own));
    const double vs_own = max_error(got, std::vector<double>(own->data(), own->data() + own->size()));
    const double vs_f32 = max_error(got, f32);
    const double vs_transformers = max_error(got, e.logits64);
    MESSAGE(stem << " " << kind << ": max |logits - the file's float64 logits| = " << vs_own
                 << ", max |logits - F32 file's| = " << vs_f32
                 << ", max |logits - transformers float64 (unquantized)| = " << vs_transformers);
    CHECK(vs_own <= 1e-4);
    CHECK(vs_f32 <= bound);
  }
}

// Measured: llama F16 2.27e-3, Q8_0 4.82e-2; qwen2 (bf16 weights, nearly all exact in F16) F16
// 4.8e-7, Q8_0 5.19e-2 (logits' std 0.66, max 2.5 / 3.7).
TEST_CASE("gguf llama_tiny F16 and Q8_0 logits: the files' own values, and within measured bounds of F32's") {
  check_quantized<any_llama>("llama_tiny", 5e-3, 0.1);
}

TEST_CASE("gguf qwen2_tiny F16 and Q8_0 logits: the files' own values, and within measured bounds of F32's") {
  check_quantized<any_qwen2>("qwen2_tiny", 2e-6, 0.1);
}

TEST_CASE("gguf a static context shorter than the file's runs with that context") {
  constexpr forma::DecoderConfig short_context = forma::llama_decoder(
      {.dim = 64, .hidden = 172, .layers = 2, .heads = 4, .kv_heads = 2, .vocab = 512,
       .max_seq = 16, .classifier = forma::classifier_kind::separate},
      forma::nn::position_kind::rope_interleaved);
  const auto model = load_model<short_context>("llama_tiny_f32.gguf");
  CHECK(model.weights().shape.max_seq == 16);
  forma::Decoder<short_context> decoder(model.weights());
  CHECK(decoder.max_sequence() == 16);
  const Expected e = load_expected("llama_tiny");
  const auto full = load_model<any_llama>("llama_tiny_f32.gguf");
  CHECK(same_bits(prefill_all<short_context>(model.weights(), e.tokens),
                  prefill_all<any_llama>(full.weights(), e.tokens)));
}

// ---- 3. errors --------------------------------------------------------------------------------

TEST_CASE("gguf a llama file into a half-pair (Hugging Face) RoPE config is an Error that says so") {
  const forma::Error error = load_error<any_hf_llama>(models_dir + "llama_tiny_f32.gguf");
  CHECK(error.code == forma::errc::shape_mismatch);
  CHECK(contains(error.path, "llama_tiny_f32.gguf"));
  CHECK(contains(error.message, "rope layout: type says pairs (i, i + d/2), rope_half, file says "
                                "adjacent pairs (2i, 2i + 1), rope_interleaved (GGUF 'llama': "
                                "llama.cpp's converter permuted q and k for them"));
  // And a qwen2 file into a hand-made qwen2 config with the llama pairing.
  constexpr forma::DecoderConfig qwen2_interleaved = [] {
    forma::DecoderConfig c = forma::presets::any_qwen2;
    c.position = forma::nn::position_kind::rope_interleaved;
    return c;
  }();
  const forma::Error qwen2 = load_error<qwen2_interleaved>(models_dir + "qwen2_tiny_f32.gguf");
  CHECK(contains(qwen2.message, "rope layout: type says adjacent pairs (2i, 2i + 1), "
                                "rope_interleaved, file says pairs (i, i + d/2), rope_half (GGUF 'qwen2')"));
}

TEST_CASE("gguf a file of another architecture is an Error naming both") {
  const forma::Error qwen2 = load_error<any_llama>(models_dir + "qwen2_tiny_f32.gguf");
  CHECK(qwen2.message == "general.architecture: type says llama, file says qwen2");
  const forma::Error llama = load_error<any_qwen2>(models_dir + "llama_tiny_q8_0.gguf");
  CHECK(llama.message == "general.architecture: type says qwen2, file says llama");
  auto bytes = read_bytes(models_dir + "llama_tiny_f32.gguf");
  const std::size_t value = after_key(bytes, "general.architecture") + 4 + 8;
  REQUIRE(std::memcmp(bytes.data() + value, "llama", 5) == 0);
  std::memcpy(bytes.data() + value, "gemma", 5);
  const forma::Error gemma = load_error<any_llama>(bytes);
  CHECK(gemma.code == forma::errc::unsupported);
  CHECK(gemma.message == "architecture 'gemma' is not one forma runs (llama, qwen2)");
}

TEST_CASE("gguf static fields that disagree with the metadata are all named in one error") {
  constexpr forma::DecoderConfig wrong = forma::llama_decoder(
      {.dim = 64, .hidden = 128, .layers = 3, .heads = 8, .kv_heads = 2, .vocab = 500,
       .max_seq = 512, .rope_theta = 500000.0f, .norm_eps = 1e-6f,
       .classifier = forma::classifier_kind::shared},
      forma::nn::position_kind::rope_interleaved);
  const forma::Error error = load_error<wrong>(models_dir + "llama_tiny_f32.gguf");
  CHECK(error.code == forma::errc::shape_mismatch);
  CHECK(contains(error.message, "8 problems: "));
  CHECK(contains(error.message, "llama.feed_forward_length: type says 128, file says 172"));
  CHECK(contains(error.message, "llama.block_count: type says 3, file says 2"));
  CHECK(contains(error.message, "llama.attention.head_count: type says 8, file says 4"));
  CHECK(contains(error.message, "vocab (token_embd.weight): type says 500, file says 512"));
  CHECK(contains(error.message, "context (max_seq): type says 512, file says llama.context_length 256"));
  CHECK(contains(error.message, "llama.attention.layer_norm_rms_epsilon: type says 0.000001, file says 0.000010"));
  CHECK(contains(error.message, "llama.rope.freq_base: type says 500000.000000, file says 10000.000000"));
  CHECK(contains(error.message, "classifier: type says shared with the embedding, file says a separate output.weight"));
  const forma::Error tied = load_error<llama_static>(models_dir + "llama_tiny_tied_f32.gguf");
  CHECK(tied.message == "classifier: type says separate, file says no output.weight (tied to token_embd.weight)");
}

TEST_CASE("gguf a missing tensor is named, and so is the unexpected one beside it") {
  auto bytes = read_bytes(models_dir + "llama_tiny_f32.gguf");
  replace_once(bytes, "blk.1.ffn_up.weight", "blk.1.ffn_uq.weight");
  const forma::Error error = load_error<any_llama>(bytes);
  CHECK(error.code == forma::errc::shape_mismatch);
  CHECK(error.message ==
        "2 problems: missing tensor 'blk.1.ffn_up.weight' [64, 172]; unexpected tensor "
        "'blk.1.ffn_uq.weight' [64, 172] F32");
}

TEST_CASE("gguf a mis-shaped tensor is named with both dims (ne, fastest first)") {
  auto bytes = read_bytes(models_dir + "llama_tiny_q8_0.gguf");
  const std::size_t info = tensor_info(bytes, "blk.0.attn_k.weight");
  REQUIRE(get<std::uint32_t>(bytes, info) == 2);
  REQUIRE(get<std::uint64_t>(bytes, info + 4) == 64);
  REQUIRE(get<std::uint64_t>(bytes, info + 12) == 32);
  put<std::uint64_t>(bytes, info + 4, 32);  // [32, 64]: the same bytes, rows of one Q8_0 block
  put<std::uint64_t>(bytes, info + 12, 64);
  const forma::Error error = load_error<llama_static>(bytes);
  CHECK(error.message == "tensor 'blk.0.attn_k.weight': expected ne [64, 32], file has [32, 64]");
}

TEST_CASE("gguf missing, mis-shaped, undequantizable and unexpected tensors together, and a missing key") {
  auto bytes = read_bytes(models_dir + "llama_tiny_f16.gguf");
  replace_once(bytes, "blk.0.ffn_gate.weight", "blk.0.ffn_gatf.weight");
  const std::size_t q = tensor_info(bytes, "blk.1.attn_q.weight");
  REQUIRE(get<std::uint32_t>(bytes, q + 4 + 16) == 1);  // F16
  put<std::uint32_t>(bytes, q + 4 + 16, 25);            // I16: 2 bytes per element too
  const std::size_t v = tensor_info(bytes, "blk.1.attn_v.weight");
  put<std::uint64_t>(bytes, v + 4, 32);
  put<std::uint64_t>(bytes, v + 12, 64);
  const forma::Error error = load_error<any_llama>(bytes);
  CHECK(contains(error.message, "4 problems: "));
  CHECK(contains(error.message, "missing tensor 'blk.0.ffn_gate.weight' [64, 172]"));
  CHECK(contains(error.message, "tensor 'blk.1.attn_q.weight': type I16 cannot be dequantized yet"));
  CHECK(contains(error.message, "tensor 'blk.1.attn_v.weight': expected ne [64, 32], file has [32, 64]"));
  CHECK(contains(error.message, "unexpected tensor 'blk.0.ffn_gatf.weight' [64, 172] F16"));

  auto keys = read_bytes(models_dir + "llama_tiny_f16.gguf");
  replace_once(keys, "llama.feed_forward_length", "llama.feed_forward_lengtX");
  set_u32(keys, "llama.attention.head_count", 0);
  const forma::Error metadata = load_error<any_llama>(keys);
  CHECK(metadata.code == forma::errc::bad_format);
  CHECK(metadata.message ==
        "2 problems: metadata 'llama.feed_forward_length' is missing; metadata "
        "'llama.attention.head_count' must be a positive integer, it is uint32 0");
}

TEST_CASE("gguf metadata that disagrees with the tensors or asks for what forma does not run") {
  auto llama = read_bytes(models_dir + "llama_tiny_f32.gguf");
  set_u32(llama, "llama.vocab_size", 500);
  set_u32(llama, "llama.rope.dimension_count", 8);
  const forma::Error error = load_error<any_llama>(llama);
  CHECK(error.code == forma::errc::bad_format);
  CHECK(error.message ==
        "2 problems: metadata 'llama.rope.dimension_count' is 8, not the head size "
        "embedding_length / head_count = 16: not implemented; metadata 'llama.vocab_size' is 500 "
        "but token_embd.weight has 512 rows");
}

TEST_CASE("gguf a block count past the file's tensors is an Error before anything is allocated") {
  auto bytes = read_bytes(models_dir + "llama_tiny_f32.gguf");
  set_u32(bytes, "llama.block_count", 1u << 30);
  const forma::Error error = load_error<any_llama>(bytes);
  CHECK(error.message == "metadata 'llama.block_count' says 1073741824 layers; the file holds only 21 tensors");
  // llama.cpp's vocabulary-only file: Llama 7B's metadata and no tensors.
  const forma::Error vocab_only = load_error<any_llama>(FORMA_TEST_DATA_DIR "/gguf/ggml-vocab-llama-spm.gguf");
  CHECK(contains(vocab_only.message, "says 32 layers; the file holds only 0 tensors"));
}

TEST_CASE("gguf a GGUF that is not a model, and a config that breaks a family rule, are Errors") {
  const forma::Error metadata = load_error<any_llama>(FORMA_TEST_DATA_DIR "/gguf/metadata.gguf");
  CHECK(metadata.message == "architecture 'forma-test' is not one forma runs (llama, qwen2)");
  auto bytes = read_bytes(models_dir + "qwen2_tiny_f32.gguf");
  set_u32(bytes, "qwen2.attention.head_count", 5);
  const forma::Error rule = load_error<any_qwen2>(bytes);
  CHECK(contains(rule.message, "Qwen2Config: heads must divide the width"));
}
