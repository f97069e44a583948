// Unit tests: Hugging Face model directories (forma::io::hf) run by forma::Decoder — transformers'
// float64 logits for Llama, Qwen2 and GPT-2 (static and dynamic configs, decode and prefill),
// greedy continuations, no allocation per token, and every config.json / tensor problem reported
// as one Error (directories edited at run time under the temp directory).
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <forma/io/hf.hpp>
#include <forma/io/npy.hpp>
#include <forma/io/safetensors.hpp>
#include <forma/models/decoder.hpp>
#include <forma/models/presets.hpp>

#include "allocation_counter.hpp"
#include "logits_compare.hpp"
#include "test_support.hpp"

namespace hf = forma::io::hf;
namespace fs = std::filesystem;
using forma::dyn;
using forma::testing::error_text;

namespace {

const std::string hf_dir = FORMA_TEST_DATA_DIR "/hf/";

// The fixtures' shapes, written out as fully static configs.
constexpr forma::DecoderConfig llama_static = forma::llama_decoder(
    {.dim = 64, .hidden = 172, .layers = 2, .heads = 4, .kv_heads = 2, .vocab = 512,
     .max_seq = 256, .classifier = forma::classifier_kind::separate},
    forma::nn::position_kind::rope_half);
constexpr forma::DecoderConfig qwen2_static = forma::qwen2_decoder(
    {.dim = 64, .hidden = 128, .layers = 2, .heads = 4, .kv_heads = 2, .vocab = 512,
     .max_seq = 256, .classifier = forma::classifier_kind::shared});
constexpr forma::DecoderConfig gpt2_static =
    forma::gpt2_decoder({.dim = 32, .layers = 2, .heads = 2, .vocab = 50257, .max_seq = 64});

constexpr forma::DecoderConfig any_llama = forma::presets::any_hf_llama;
constexpr forma::DecoderConfig any_qwen2 = forma::presets::any_qwen2;
constexpr forma::DecoderConfig any_gpt2 = forma::presets::any_gpt2;

// ---- expected values ------------------------------------------------------------------------

struct Expected {
  std::vector<std::int32_t> tokens;
  std::vector<std::int32_t> greedy;  // the 16 new ids of generate(tokens[:4])
  std::size_t vocab = 0;
  std::vector<double> logits64;  // T × vocab, row-major
};

std::vector<std::int32_t> load_ids(const std::string& path) {
  auto ids = forma::io::load_npy<forma::Vector<std::int32_t, dyn>>(path);
  REQUIRE_MESSAGE(ids, error_text(ids));
  return {ids->data(), ids->data() + ids->size()};
}

Expected load_expected(const std::string& name) {
  const std::string base = hf_dir + "expected/" + name;
  Expected e;
  e.tokens = load_ids(base + ".tokens.npy");
  e.greedy = load_ids(base + ".greedy.npy");
  auto logits = forma::io::load_npy<forma::Matrix<double, dyn, dyn>>(base + ".logits64.npy");
  REQUIRE_MESSAGE(logits, error_text(logits));
  REQUIRE(logits->extent(0) == e.tokens.size());
  e.vocab = logits->extent(1);
  e.logits64.assign(logits->data(), logits->data() + logits->size());
  REQUIRE(e.greedy.size() == 16);
  return e;
}

using forma::testing::agree;
using forma::testing::max_error;
using forma::testing::same_bits;

// ---- running a model ------------------------------------------------------------------------

template <forma::DecoderConfig C>
hf::Model<C> load_model(const std::string& dir) {
  auto model = hf::load<C>(dir);
  REQUIRE_MESSAGE(model, error_text(model));
  return std::move(model).value();
}

// Every position's logits, T × vocab: token by token, or one prefill with all_logits (the last
// row also checked against prefill's returned logits).
template <forma::DecoderConfig C>
std::vector<float> decode_all(const hf::Model<C>& model, std::span<const std::int32_t> tokens) {
  forma::Decoder<C> decoder(model.weights());
  std::vector<float> out;
  for (std::size_t pos = 0; pos < tokens.size(); ++pos) {
    const auto logits = decoder.forward(tokens[pos], pos);
    REQUIRE_MESSAGE(logits, error_text(logits));
    out.insert(out.end(), logits->begin(), logits->end());
  }
  return out;
}

template <forma::DecoderConfig C, std::size_t Chunk>
std::vector<float> prefill_all(const hf::Model<C>& model, std::span<const std::int32_t> tokens) {
  forma::Decoder<C, Chunk> decoder(model.weights());
  const std::size_t vocab = model.config().shape.vocab;
  auto all = forma::testing::make<forma::Matrix<float, dyn, C.vocab>>(tokens.size(), vocab);
  const auto last = decoder.prefill(tokens, 0, all.view());
  REQUIRE_MESSAGE(last, error_text(last));
  REQUIRE(last->size() == vocab);
  CHECK(std::memcmp(last->data(), all.data() + (tokens.size() - 1) * vocab, last->size_bytes()) == 0);
  CHECK(decoder.cached_positions() == tokens.size());
  return {all.data(), all.data() + all.size()};
}

struct Runs {
  std::vector<float> decoded, prefilled, chunked;  // chunked: prefill 5 rows at a time
};

template <forma::DecoderConfig C>
Runs run_all(const std::string& dir, std::span<const std::int32_t> tokens) {
  const auto model = load_model<C>(dir);
  return {decode_all(model, tokens), prefill_all<C, 32>(model, tokens),
          prefill_all<C, 5>(model, tokens)};
}

// Logits within 1e-4 of transformers' float64 ones for the static and the dynamic config, decode
// and prefill; static and dynamic give the same bits, decode and prefill agree within
// path_tolerance (the same bits with ordered_sum: llama2c_parity tests).
template <forma::DecoderConfig Static, forma::DecoderConfig Dynamic>
void check_golden(const std::string& fixture, const std::string& expected_name) {
  const Expected e = load_expected(expected_name);
  REQUIRE(e.tokens.size() > 5);  // the chunked prefill takes more than one chunk
  const Runs fixed = run_all<Static>(hf_dir + fixture, e.tokens);
  const Runs dynamic = run_all<Dynamic>(hf_dir + fixture, e.tokens);
  const auto report = [&](const std::string& what, const std::vector<float>& got) {
    const double worst = max_error(got, e.logits64);
    MESSAGE(fixture << " " << what << ": max |forma - logits64| over " << e.tokens.size() << " x "
                    << e.vocab << " = " << worst);
    CHECK(worst <= 1e-4);
  };
  report("static decode", fixed.decoded);
  report("static prefill", fixed.prefilled);
  report("static prefill (chunk 5)", fixed.chunked);
  report("dynamic decode", dynamic.decoded);
  report("dynamic prefill", dynamic.prefilled);
  report("dynamic prefill (chunk 5)", dynamic.chunked);
  CHECK(same_bits(fixed.decoded, dynamic.decoded));
  CHECK(same_bits(fixed.prefilled, dynamic.prefilled));
  CHECK(same_bits(fixed.chunked, dynamic.chunked));
  CHECK(agree(fixed.decoded, fixed.prefilled));
  CHECK(agree(fixed.decoded, fixed.chunked));
  CHECK(agree(dynamic.decoded, dynamic.prefilled));
  CHECK(agree(dynamic.decoded, dynamic.chunked));
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
std::vector<std::int32_t> greedy(const std::string& dir, std::span<const std::int32_t> tokens) {
  const auto model = load_model<C>(dir);
  forma::Decoder<C> decoder(model.weights());
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

// ---- directories edited at run time ---------------------------------------------------------

// A fresh directory under the temp directory, removed with everything in it.
class TempDir {
 public:
  explicit TempDir(const std::string& what) {
    static std::atomic<unsigned> counter{0};
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    path_ = fs::temp_directory_path() /
            ("forma_hf_test_" + what + "_" + std::to_string(std::random_device{}()) + "_" +
             std::to_string(now) + "_" + std::to_string(counter++));
    fs::create_directories(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string str() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// A copy of the fixture's files (all of them, or those `keep` accepts).
void copy_fixture(const std::string& fixture, const TempDir& to,
                  const std::function<bool(const std::string&)>& keep = {}) {
  for (const auto& entry : fs::directory_iterator(hf_dir + fixture)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || (keep && !keep(name))) continue;
    fs::copy_file(entry.path(), to.file(name), fs::copy_options::overwrite_existing);
  }
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  REQUIRE_MESSAGE(out.good(), path);
}

// Replaces the one occurrence of `from` in the file.
void edit(const std::string& path, const std::string& from, const std::string& to) {
  std::string text = read_text(path);
  const auto at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from << " is not in " << path);
  REQUIRE_MESSAGE(text.find(from, at + 1) == std::string::npos, from << " is in " << path << " twice");
  text.replace(at, from.size(), to);
  write_text(path, text);
}

// Writes `to` with the tensors of the safetensors file `from`, changed by `change` (the named
// tensors view from's bytes, valid during the call).
void rewrite_safetensors(const std::string& from, const std::string& to,
                         const std::function<void(std::vector<forma::io::NamedTensor>&)>& change) {
  auto file = forma::io::Safetensors::open(from);
  REQUIRE_MESSAGE(file, error_text(file));
  std::vector<forma::io::NamedTensor> tensors;
  for (const auto& e : file->tensors()) tensors.push_back({e.name, e.type, e.shape, file->bytes(e)});
  change(tensors);
  const auto saved = forma::io::save_safetensors(to, tensors);
  REQUIRE_MESSAGE(saved, error_text(saved));
}

void erase_tensor(std::vector<forma::io::NamedTensor>& tensors, const std::string& name) {
  const auto it = std::find_if(tensors.begin(), tensors.end(),
                               [&](const auto& t) { return t.name == name; });
  REQUIRE_MESSAGE(it != tensors.end(), name);
  tensors.erase(it);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

bool one_line(const forma::Error& error) {
  return error.to_string().find('\n') == std::string::npos;
}

// The error of a Result that must fail (REQUIREs it).
template <class R>
forma::Error error_of(const R& result) {
  REQUIRE_FALSE(result);
  return result.error();
}

}  // namespace

// ---- 1. logits against transformers ---------------------------------------------------------

TEST_CASE("hf llama_tiny logits match transformers float64 within 1e-4 (static and dynamic, decode and prefill)") {
  check_golden<llama_static, any_llama>("llama_tiny", "llama_tiny");
}

TEST_CASE("hf llama_tiny_v4 (transformers 4 config, sharded, inv_freq buffers) logits match transformers float64") {
  check_golden<llama_static, any_llama>("llama_tiny_v4", "llama_tiny");
}

TEST_CASE("hf qwen2_tiny (bf16, tied) logits match transformers float64 within 1e-4 (static and dynamic, decode and prefill)") {
  check_golden<qwen2_static, any_qwen2>("qwen2_tiny", "qwen2_tiny");
}

TEST_CASE("hf gpt2_tiny (f16, transformer. names) logits match transformers float64 within 1e-4 (static and dynamic, decode and prefill)") {
  check_golden<gpt2_static, any_gpt2>("gpt2_tiny", "gpt2_tiny");
}

TEST_CASE("hf gpt2_hub_style (bare names, attn.bias buffers) logits match transformers float64 within 1e-4") {
  check_golden<gpt2_static, any_gpt2>("gpt2_hub_style", "gpt2_tiny");
}

// ---- 2. greedy continuations ----------------------------------------------------------------

TEST_CASE("hf greedy decoding after a 4-token prefill reproduces transformers generate for every family") {
  const Expected llama = load_expected("llama_tiny");
  CHECK(greedy<llama_static>(hf_dir + "llama_tiny", llama.tokens) == llama.greedy);
  CHECK(greedy<any_llama>(hf_dir + "llama_tiny", llama.tokens) == llama.greedy);
  CHECK(greedy<any_llama>(hf_dir + "llama_tiny_v4", llama.tokens) == llama.greedy);
  const Expected qwen2 = load_expected("qwen2_tiny");
  CHECK(greedy<qwen2_static>(hf_dir + "qwen2_tiny", qwen2.tokens) == qwen2.greedy);
  CHECK(greedy<any_qwen2>(hf_dir + "qwen2_tiny", qwen2.tokens) == qwen2.greedy);
  const Expected gpt2 = load_expected("gpt2_tiny");
  CHECK(greedy<gpt2_static>(hf_dir + "gpt2_tiny", gpt2.tokens) == gpt2.greedy);
  CHECK(greedy<any_gpt2>(hf_dir + "gpt2_tiny", gpt2.tokens) == gpt2.greedy);
  CHECK(greedy<any_gpt2>(hf_dir + "gpt2_hub_style", gpt2.tokens) == gpt2.greedy);
}

// ---- 3. no allocation per token -------------------------------------------------------------

TEST_CASE_TEMPLATE_DEFINE("hf decoders allocate nothing per decoded token", Case, hf_allocations) {
  constexpr forma::DecoderConfig C = Case::value;
  const auto model = load_model<C>(hf_dir + Case::fixture);
  forma::Decoder<C> decoder(model.weights());
  const std::size_t vocab = model.config().shape.vocab;
  (void)decoder.forward(1, 0).value();
  const std::size_t before = forma::testing::allocations_now().count;
  std::int32_t token = 1;
  for (std::size_t pos = 1; pos < 48; ++pos) {
    const auto logits = decoder.forward(token, pos);
    REQUIRE(logits);
    token = static_cast<std::int32_t>((static_cast<std::size_t>(argmax(*logits)) * 7 + pos) % vocab);
  }
  CHECK(forma::testing::allocations_now().count - before == 0);
  // A prefill into a caller's buffer allocates nothing either.
  std::vector<std::int32_t> prompt;
  for (std::size_t i = 0; i < 40; ++i) prompt.push_back(static_cast<std::int32_t>((i * 131 + 3) % vocab));
  auto all = forma::testing::make<forma::Matrix<float, dyn, C.vocab>>(prompt.size(), vocab);
  decoder.reset();
  const std::size_t before_prefill = forma::testing::allocations_now().count;
  const auto last = decoder.prefill(prompt, 0, all.view());
  const std::size_t prefill_allocations = forma::testing::allocations_now().count - before_prefill;
  REQUIRE(last);
  CHECK(prefill_allocations == 0);
}

namespace {
struct Qwen2Static {
  static constexpr forma::DecoderConfig value = qwen2_static;
  static constexpr const char* fixture = "qwen2_tiny";
};
struct Qwen2Dynamic {
  static constexpr forma::DecoderConfig value = any_qwen2;
  static constexpr const char* fixture = "qwen2_tiny";
};
struct Gpt2Static {
  static constexpr forma::DecoderConfig value = gpt2_static;
  static constexpr const char* fixture = "gpt2_tiny";
};
struct Gpt2Dynamic {
  static constexpr forma::DecoderConfig value = any_gpt2;
  static constexpr const char* fixture = "gpt2_hub_style";
};
}  // namespace

TEST_CASE_TEMPLATE_INVOKE(hf_allocations, Qwen2Static, Qwen2Dynamic, Gpt2Static, Gpt2Dynamic);

// ---- 4. config.json forms and errors --------------------------------------------------------

TEST_CASE("hf the transformers 5 and transformers 4 config forms give identical logits") {
  const Expected e = load_expected("llama_tiny");
  // The fixtures as saved: v5 form with one file, v4 form sharded with inv_freq buffers.
  const auto v5 = decode_all(load_model<any_llama>(hf_dir + "llama_tiny"), e.tokens);
  const auto v4 = decode_all(load_model<any_llama>(hf_dir + "llama_tiny_v4"), e.tokens);
  CHECK(same_bits(v5, v4));
  // Only the config differs: llama_tiny's weights with the v4 config.json.
  TempDir dir("v4_config");
  copy_fixture("llama_tiny", dir);
  fs::copy_file(hf_dir + "llama_tiny_v4/config.json", dir.file("config.json"),
                fs::copy_options::overwrite_existing);
  const auto config = hf::read_config(dir.str());
  REQUIRE_MESSAGE(config, error_text(config));
  CHECK(config->rope_from == "rope_theta");
  CHECK(config->dtype == "float32");
  const auto v5_config = hf::read_config(hf_dir + "llama_tiny");
  REQUIRE_MESSAGE(v5_config, error_text(v5_config));
  CHECK(v5_config->rope_from == "rope_parameters");
  CHECK(config->shape == v5_config->shape);
  CHECK(same_bits(decode_all(load_model<llama_static>(dir.str()), e.tokens), v5));
}

TEST_CASE("hf torch_dtype and dtype are informational: each tensor's own dtype rules") {
  const Expected e = load_expected("llama_tiny");
  TempDir dir("dtype");
  copy_fixture("llama_tiny", dir);
  edit(dir.file("config.json"), "\"dtype\": \"float32\"", "\"dtype\": \"bfloat16\"");
  const auto model = load_model<any_llama>(dir.str());
  CHECK(model.config().dtype == "bfloat16");
  CHECK(same_bits(decode_all(model, e.tokens),
                  decode_all(load_model<any_llama>(hf_dir + "llama_tiny"), e.tokens)));
}

TEST_CASE("hf unsupported rope types are one-line errors naming the type") {
  SUBCASE("rope_parameters yarn (transformers 5)") {
    TempDir dir("yarn");
    copy_fixture("llama_tiny", dir);
    edit(dir.file("config.json"), "\"rope_type\": \"default\"",
         "\"rope_type\": \"yarn\",\n    \"factor\": 4.0,\n    \"original_max_position_embeddings\": 64");
    const forma::Error error = error_of(hf::load<any_llama>(dir.str()));
    MESSAGE(error.to_string());
    CHECK(error.code == forma::errc::unsupported);
    CHECK(contains(error.message, "yarn"));
    CHECK(contains(error.message, "rope_parameters"));
    CHECK(error.path == dir.file("config.json"));
    CHECK(one_line(error));
    CHECK(error_of(hf::read_config(dir.str())).message == error.message);
  }
  SUBCASE("rope_scaling linear (transformers 4)") {
    TempDir dir("linear");
    copy_fixture("llama_tiny_v4", dir);
    edit(dir.file("config.json"), "\"rope_scaling\": null",
         "\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 2}");
    const forma::Error error = error_of(hf::load<any_llama>(dir.str()));
    MESSAGE(error.to_string());
    CHECK(error.code == forma::errc::unsupported);
    CHECK(contains(error.message, "linear"));
    CHECK(contains(error.message, "rope_scaling"));
    CHECK(error.path == dir.file("config.json"));
    CHECK(one_line(error));
  }
  SUBCASE("rope_scaling with the older type key") {
    TempDir dir("dynamic_rope");
    copy_fixture("llama_tiny_v4", dir);
    edit(dir.file("config.json"), "\"rope_scaling\": null",
         "\"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 2.0}");
    const forma::Error error = error_of(hf::load<any_llama>(dir.str()));
    CHECK(error.code == forma::errc::unsupported);
    CHECK(contains(error.message, "dynamic"));
    CHECK(one_line(error));
  }
  SUBCASE("rope_scaling with rope_type default loads") {
    TempDir dir("default_rope");
    copy_fixture("llama_tiny_v4", dir);
    edit(dir.file("config.json"), "\"rope_scaling\": null",
         "\"rope_scaling\": {\"rope_type\": \"default\"}");
    const auto model = hf::load<any_llama>(dir.str());
    CHECK_MESSAGE(model, error_text(model));
  }
}

TEST_CASE("hf an extra tensor is an error naming it") {
  SUBCASE("in model.safetensors") {
    TempDir dir("extra");
    copy_fixture("llama_tiny", dir);
    const forma::Vector<float, 8> extra;
    rewrite_safetensors(hf_dir + "llama_tiny/model.safetensors", dir.file("model.safetensors"),
                        [&](auto& tensors) {
                          tensors.push_back(forma::io::named("model.layers.0.self_attn.q_norm.weight", extra));
                        });
    const forma::Error error = error_of(hf::load<any_llama>(dir.str()));
    MESSAGE(error.to_string());
    CHECK(error.code == forma::errc::shape_mismatch);
    CHECK(error.message == "unexpected tensor 'model.layers.0.self_attn.q_norm.weight' (8,)");
    CHECK(error.path == dir.str());
    CHECK(one_line(error));
  }
  SUBCASE("in a shard the index maps it to") {
    TempDir dir("extra_shard");
    copy_fixture("llama_tiny_v4", dir);
    const forma::Vector<float, 4> extra;
    const std::string shard = "model-00002-of-00002.safetensors";
    rewrite_safetensors(hf_dir + "llama_tiny_v4/" + shard, dir.file(shard), [&](auto& tensors) {
      tensors.push_back(forma::io::named("model.extra_scale", extra));
    });
    edit(dir.file("model.safetensors.index.json"), "\"weight_map\": {",
         "\"weight_map\": {\n    \"model.extra_scale\": \"" + shard + "\",");
    const forma::Error error = error_of(hf::load<any_llama>(dir.str()));
    MESSAGE(error.to_string());
    CHECK(error.code == forma::errc::shape_mismatch);
    CHECK(error.message == "unexpected tensor 'model.extra_scale' (4,)");
    CHECK(one_line(error));
  }
  SUBCASE("in a shard but not in the index") {
    TempDir dir("unmapped_shard");
    copy_fixture("llama_tiny_v4", dir);
    const forma::Vector<float, 4> extra;
    const std::string shard = "model-00001-of-00002.safetensors";
    rewrite_safetensors(hf_dir + "llama_tiny_v4/" + shard, dir.file(shard), [&](auto& tensors) {
      tensors.push_back(forma::io::named("model.extra_scale", extra));
    });
    const forma::Error error = error_of(hf::load<any_llama>(dir.str()));
    MESSAGE(error.to_string());
    CHECK(contains(error.message, "model.extra_scale"));
    CHECK(one_line(error));
  }
}

TEST_CASE("hf missing and wrong-shaped tensors are all named in one error") {
  TempDir dir("missing_and_shape");
  copy_fixture("llama_tiny", dir);
  const forma::Vector<float, 65> long_norm;
  rewrite_safetensors(hf_dir + "llama_tiny/model.safetensors", dir.file("model.safetensors"),
                      [&](auto& tensors) {
                        erase_tensor(tensors, "model.layers.1.mlp.up_proj.weight");
                        erase_tensor(tensors, "model.norm.weight");
                        tensors.push_back(forma::io::named("model.norm.weight", long_norm));
                      });
  const forma::Error error = error_of(hf::load<any_llama>(dir.str()));
  MESSAGE(error.to_string());
  CHECK(error.code == forma::errc::shape_mismatch);
  CHECK(error.message ==
        "2 problems: missing tensor 'model.layers.1.mlp.up_proj.weight' (172, 64); tensor "
        "'model.norm.weight': expected shape (64,), file has (65,)");
  CHECK(error.path == dir.str());
  CHECK(one_line(error));
  // The static config reports the same.
  CHECK(error_of(hf::load<llama_static>(dir.str())).message == error.message);
}

TEST_CASE("hf missing, mis-shaped, mistyped and unexpected tensors together") {
  TempDir dir("four_problems");
  copy_fixture("qwen2_tiny", dir);
  const forma::Vector<std::int32_t, 64> int_norm;
  const forma::Matrix<float, 32, 65> wide_k;
  const forma::Vector<float, 3> extra;
  rewrite_safetensors(hf_dir + "qwen2_tiny/model.safetensors", dir.file("model.safetensors"),
                      [&](auto& tensors) {
                        erase_tensor(tensors, "model.layers.0.self_attn.q_proj.bias");
                        erase_tensor(tensors, "model.layers.1.self_attn.k_proj.weight");
                        tensors.push_back(forma::io::named("model.layers.1.self_attn.k_proj.weight", wide_k));
                        erase_tensor(tensors, "model.norm.weight");
                        tensors.push_back(forma::io::named("model.norm.weight", int_norm));
                        tensors.push_back(forma::io::named("model.layers.1.mlp.extra", extra));
                      });
  const forma::Error error = error_of(hf::load<any_qwen2>(dir.str()));
  MESSAGE(error.to_string());
  CHECK(error.code == forma::errc::shape_mismatch);
  CHECK(contains(error.message, "4 problems: "));
  CHECK(contains(error.message, "missing tensor 'model.layers.0.self_attn.q_proj.bias' (64,)"));
  CHECK(contains(error.message,
                 "tensor 'model.layers.1.self_attn.k_proj.weight': expected shape (32, 64), file has (32, 65)"));
  CHECK(contains(error.message, "tensor 'model.norm.weight': expected dtype F32, F16 or BF16"));
  CHECK(contains(error.message, "unexpected tensor 'model.layers.1.mlp.extra' (3,)"));
  CHECK(one_line(error));
}

TEST_CASE("hf a tied head's duplicate lm_head.weight is skipped") {
  const Expected e = load_expected("qwen2_tiny");
  TempDir dir("tied_duplicate");
  copy_fixture("qwen2_tiny", dir);
  rewrite_safetensors(hf_dir + "qwen2_tiny/model.safetensors", dir.file("model.safetensors"),
                      [&](auto& tensors) {
                        const auto embedding = *std::find_if(tensors.begin(), tensors.end(), [](const auto& t) {
                          return t.name == "model.embed_tokens.weight";
                        });
                        tensors.push_back({"lm_head.weight", embedding.type, embedding.shape, embedding.data});
                      });
  const auto model = load_model<any_qwen2>(dir.str());
  CHECK(model.skipped() == std::vector<std::string>{"lm_head.weight"});
  CHECK(same_bits(decode_all(model, e.tokens),
                  decode_all(load_model<any_qwen2>(hf_dir + "qwen2_tiny"), e.tokens)));
}

TEST_CASE("hf model.safetensors next to an index is a one-line error") {
  TempDir dir("both");
  copy_fixture("llama_tiny_v4", dir);
  fs::copy_file(hf_dir + "llama_tiny/model.safetensors", dir.file("model.safetensors"));
  const forma::Error error = error_of(hf::load<any_llama>(dir.str()));
  MESSAGE(error.to_string());
  CHECK(contains(error.message, "model.safetensors and model.safetensors.index.json"));
  CHECK(error.path == dir.str());
  CHECK(one_line(error));
}

TEST_CASE("hf an index naming a missing shard is an error naming the shard file") {
  TempDir dir("missing_shard");
  copy_fixture("llama_tiny_v4", dir, [](const std::string& name) {
    return name != "model-00002-of-00002.safetensors";
  });
  const forma::Error error = error_of(hf::load<any_llama>(dir.str()));
  MESSAGE(error.to_string());
  CHECK(error.code == forma::errc::not_found);
  CHECK(contains(error.message, "'model-00002-of-00002.safetensors'"));
  CHECK(error.path == dir.file("model.safetensors.index.json"));
  CHECK(one_line(error));
}

TEST_CASE("hf a directory without weights or config is an error") {
  TempDir dir("empty");
  CHECK_FALSE(hf::load<any_llama>(dir.str()));
  fs::copy_file(hf_dir + "llama_tiny/config.json", dir.file("config.json"));
  const forma::Error error = error_of(hf::load<any_llama>(dir.str()));
  CHECK(error.code == forma::errc::not_found);
  CHECK(contains(error.message, "no model.safetensors"));
}

TEST_CASE("hf buffers are listed in skipped") {
  const auto v4 = load_model<any_llama>(hf_dir + "llama_tiny_v4");
  CHECK(v4.skipped() == std::vector<std::string>{"model.layers.0.self_attn.rotary_emb.inv_freq",
                                                 "model.layers.1.self_attn.rotary_emb.inv_freq"});
  const auto hub = load_model<any_gpt2>(hf_dir + "gpt2_hub_style");
  CHECK(hub.skipped() == std::vector<std::string>{"h.0.attn.bias", "h.0.attn.masked_bias",
                                                  "h.1.attn.bias", "h.1.attn.masked_bias"});
  CHECK(load_model<any_llama>(hf_dir + "llama_tiny").skipped().empty());
  CHECK(load_model<any_qwen2>(hf_dir + "qwen2_tiny").skipped().empty());
  CHECK(load_model<gpt2_static>(hf_dir + "gpt2_tiny").skipped().empty());
  CHECK(hf::classify(forma::model_family::gpt2, "h.0.attn.bias", true) == hf::tensor_role::buffer);
  CHECK(hf::classify(forma::model_family::gpt2, "transformer.h.11.attn.masked_bias", true) ==
        hf::tensor_role::buffer);
  CHECK(hf::classify(forma::model_family::gpt2, "h.0.attn.c_attn.bias", true) == hf::tensor_role::parameter);
  CHECK(hf::classify(forma::model_family::llama, "lm_head.weight", true) == hf::tensor_role::tied_duplicate);
  CHECK(hf::classify(forma::model_family::llama, "lm_head.weight", false) == hf::tensor_role::parameter);
}

namespace {
// Disagrees with qwen2_tiny in hidden_size, num_key_value_heads and tie_word_embeddings.
constexpr forma::DecoderConfig qwen2_wrong = forma::qwen2_decoder(
    {.dim = 128, .hidden = 128, .layers = 2, .heads = 4, .kv_heads = 4, .vocab = 512,
     .max_seq = 256, .classifier = forma::classifier_kind::separate});
// GPT-2 running a longer context than n_positions (64): with its own 128-row table, and with the
// table's rows read from the file.
constexpr forma::DecoderConfig gpt2_long =
    forma::gpt2_decoder({.dim = 32, .layers = 2, .heads = 2, .vocab = 50257, .max_seq = 128});
constexpr forma::DecoderConfig gpt2_long_context = forma::gpt2_decoder(
    {.dim = 32, .layers = 2, .heads = 2, .vocab = 50257, .max_seq = 128, .positions = dyn});
}  // namespace

TEST_CASE("hf check_config names every field a static config disagrees in") {
  const auto config = hf::read_config(hf_dir + "qwen2_tiny");
  REQUIRE_MESSAGE(config, error_text(config));
  CHECK(hf::check_config<qwen2_static>(*config));
  CHECK(hf::check_config<any_qwen2>(*config));
  const forma::Error error = error_of(hf::check_config<qwen2_wrong>(*config));
  MESSAGE(error.to_string());
  CHECK(error.code == forma::errc::shape_mismatch);
  CHECK(error.message ==
        "hidden_size: type says 128, file says 64; num_key_value_heads: type says 4, file says 2; "
        "tie_word_embeddings: type says false, file says true");
  CHECK(error.path == hf_dir + "qwen2_tiny/config.json");
  CHECK(one_line(error));
  CHECK(error_of(hf::load<qwen2_wrong>(hf_dir + "qwen2_tiny")).message == error.message);
}

TEST_CASE("hf a family mismatch is an error naming model_type") {
  const auto llama = hf::read_config(hf_dir + "llama_tiny");
  REQUIRE_MESSAGE(llama, error_text(llama));
  const forma::Error error = error_of(hf::check_config<any_gpt2>(*llama));
  CHECK(error.message == "model_type: type says gpt2, file says llama");
  CHECK(error.code == forma::errc::shape_mismatch);
  CHECK(error_of(hf::load<any_gpt2>(hf_dir + "llama_tiny")).message == error.message);
  CHECK(error_of(hf::load<any_qwen2>(hf_dir + "llama_tiny")).message ==
        "model_type: type says qwen2, file says llama");
  CHECK(error_of(hf::load<any_llama>(hf_dir + "gpt2_tiny")).message ==
        "model_type: type says llama, file says gpt2");
}

TEST_CASE("hf check_config compares norm_eps rope_theta and the GPT-2 activation") {
  const std::string llama_text = R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 172,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512,
    "max_position_embeddings": 256, "rms_norm_eps": 1e-06, "rope_theta": 500000.0})";
  const auto llama = hf::parse_config(llama_text, "x/config.json");
  REQUIRE_MESSAGE(llama, error_text(llama));
  CHECK(llama->shape.rope_theta == 500000.0f);
  CHECK(llama->shape.norm_eps == 1e-6f);
  const forma::Error error = error_of(hf::check_config<llama_static>(*llama));
  MESSAGE(error.to_string());
  CHECK(contains(error.message, "rms_norm_eps"));
  CHECK(contains(error.message, "rope_theta"));
  CHECK(hf::check_config<any_llama>(*llama));
  const std::string gelu_text = R"({"model_type": "gpt2", "n_embd": 32, "n_head": 2, "n_layer": 2,
    "n_positions": 64, "vocab_size": 50257, "activation_function": "gelu"})";
  const auto gelu = hf::parse_config(gelu_text, "g/config.json");
  REQUIRE_MESSAGE(gelu, error_text(gelu));
  CHECK(error_of(hf::check_config<any_gpt2>(*gelu)).message ==
        "activation_function: type says gelu_new, file says gelu");
  CHECK(hf::check_config<forma::presets::any_gpt2_erf>(*gelu));
}

TEST_CASE("hf parse_config reads defaults and refuses what it cannot run") {
  const std::string path = "some/model/config.json";
  const auto parse = [&](const std::string& text) { return hf::parse_config(text, path); };
  const std::string llama_fields = R"("model_type": "llama", "hidden_size": 64, "intermediate_size": 172,
    "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 512,
    "max_position_embeddings": 256, "rms_norm_eps": 1e-05)";
  const std::string gpt2_fields = R"("model_type": "gpt2", "n_embd": 32, "n_head": 2, "n_layer": 2,
    "n_positions": 64, "vocab_size": 50257)";

  SUBCASE("num_key_value_heads absent is the number of heads") {
    const auto c = parse("{" + llama_fields + "}");
    REQUIRE_MESSAGE(c, error_text(c));
    CHECK(c->family == forma::model_family::llama);
    CHECK(c->shape.heads == 4);
    CHECK(c->shape.kv_heads == 4);
    CHECK(c->shape.rope_theta == 10000.0f);
    CHECK(c->rope_from == "default");
    CHECK_FALSE(c->shape.shared_classifier);
    CHECK(c->position == forma::nn::position_kind::rope_half);
    CHECK(c->dtype.empty());
    CHECK(c->path == path);
  }
  SUBCASE("GPT-2 n_inner null is 4 n_embd and gelu is the erf GELU") {
    const auto tanh = parse("{" + gpt2_fields + R"(, "n_inner": null})");
    REQUIRE_MESSAGE(tanh, error_text(tanh));
    CHECK(tanh->family == forma::model_family::gpt2);
    CHECK(tanh->shape.hidden == 128);
    CHECK(tanh->shape.kv_heads == 2);
    CHECK(tanh->shape.positions == 64);
    CHECK(tanh->shape.max_seq == 64);
    CHECK(tanh->shape.shared_classifier);
    CHECK(tanh->ffn == forma::nn::ffn_kind::gelu_tanh);
    CHECK(tanh->position == forma::nn::position_kind::learned);
    const auto erf = parse("{" + gpt2_fields + R"(, "n_inner": 100, "activation_function": "gelu"})");
    REQUIRE_MESSAGE(erf, error_text(erf));
    CHECK(erf->shape.hidden == 100);
    CHECK(erf->ffn == forma::nn::ffn_kind::gelu_erf);
    const auto relu = parse("{" + gpt2_fields + R"(, "activation_function": "relu"})");
    CHECK(contains(error_of(relu).message, "relu"));
    // n_ctx stands in for n_positions.
    const auto ctx = parse(R"({"model_type": "gpt2", "n_embd": 32, "n_head": 2, "n_layer": 2,
      "n_ctx": 48, "vocab_size": 100})");
    REQUIRE_MESSAGE(ctx, error_text(ctx));
    CHECK(ctx->shape.positions == 48);
  }
  SUBCASE("head_dim must be hidden_size / num_attention_heads") {
    const auto fits = parse("{" + llama_fields + R"(, "head_dim": 16})");
    CHECK_MESSAGE(fits, error_text(fits));
    const forma::Error error = error_of(parse("{" + llama_fields + R"(, "head_dim": 32})"));
    MESSAGE(error.to_string());
    CHECK(contains(error.message, "head_dim 32"));
    CHECK(error.path == path);
    CHECK(one_line(error));
  }
  SUBCASE("torch_dtype and dtype are read as information") {
    const auto v4 = parse("{" + llama_fields + R"(, "torch_dtype": "bfloat16"})");
    REQUIRE_MESSAGE(v4, error_text(v4));
    CHECK(v4->dtype == "bfloat16");
    const auto v5 = parse("{" + llama_fields + R"(, "dtype": "float16"})");
    REQUIRE_MESSAGE(v5, error_text(v5));
    CHECK(v5->dtype == "float16");
  }
  SUBCASE("a missing hidden_size is an error naming it") {
    const forma::Error error = error_of(parse(R"({"model_type": "qwen2", "intermediate_size": 128,
      "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 512,
      "max_position_embeddings": 256, "rms_norm_eps": 1e-06})"));
    MESSAGE(error.to_string());
    CHECK(error.code == forma::errc::bad_format);
    CHECK(contains(error.message, "'hidden_size' is missing"));
    CHECK(error.path == path);
    const forma::Error gpt2 = error_of(parse(R"({"model_type": "gpt2", "n_head": 2, "n_layer": 2,
      "n_positions": 64, "vocab_size": 50257})"));
    CHECK(contains(gpt2.message, "'n_embd' is missing"));
  }
  SUBCASE("malformed JSON is an error with the path") {
    for (const std::string& text : {std::string("{\"model_type\": \"llama\", \"hidden_size\": 64,"),
                                   std::string("not json"), std::string(),
                                   "{" + llama_fields + "} trailing"}) {
      CAPTURE(text);
      const forma::Error error = error_of(parse(text));
      CHECK(error.path == path);
      CHECK(one_line(error));
    }
    TempDir dir("malformed");
    write_text(dir.file("config.json"), "{\"model_type\": \"llama\", ");
    const forma::Error error = error_of(hf::load<any_llama>(dir.str()));
    CHECK(error.path == dir.file("config.json"));
  }
  SUBCASE("other model types and bad values") {
    const forma::Error mistral = error_of(parse(R"({"model_type": "mistral"})"));
    CHECK(mistral.code == forma::errc::unsupported);
    CHECK(contains(mistral.message, "mistral"));
    CHECK(contains(error_of(parse("{}")).message, "model_type"));
    CHECK(contains(error_of(parse(R"({"model_type": "llama", "hidden_size": -64, "intermediate_size": 172,
      "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 512,
      "max_position_embeddings": 256, "rms_norm_eps": 1e-05})")).message, "hidden_size"));
    CHECK(contains(error_of(parse("{" + llama_fields + R"(, "hidden_act": "gelu"})")).message, "hidden_act"));
    CHECK(contains(error_of(parse("{" + llama_fields + R"(, "attention_bias": true})")).message,
                   "attention_bias"));
  }
}

// ---- 5. bad inputs --------------------------------------------------------------------------

TEST_CASE("hf token ids outside the vocabulary are Errors from forward and prefill") {
  const auto qwen2 = load_model<any_qwen2>(hf_dir + "qwen2_tiny");
  forma::Decoder<any_qwen2> model(qwen2.weights());
  const forma::Error bad = error_of(model.forward(512, 0));
  CHECK(bad.code == forma::errc::out_of_range);
  CHECK(bad.message == "embedding: token id 512 is out of range for a vocabulary of 512");
  CHECK_FALSE(model.forward(-1, 0));
  CHECK(model.cached_positions() == 0);
  const std::vector<std::int32_t> with_bad{1, 2, 3, 4, 5, 6, 700};
  const forma::Error bad_prefill = error_of(model.prefill(with_bad, 0));
  CHECK(bad_prefill.code == forma::errc::out_of_range);
  CHECK(model.cached_positions() == 0);
  // Still usable.
  CHECK(model.forward(1, 0));

  const auto gpt2 = load_model<gpt2_static>(hf_dir + "gpt2_tiny");
  forma::Decoder<gpt2_static, 4> g(gpt2.weights());
  CHECK(error_of(g.forward(50257, 0)).code == forma::errc::out_of_range);
  const std::vector<std::int32_t> gpt2_bad{15496, 11, 616, 3290, 318, 50257};
  CHECK(error_of(g.prefill(gpt2_bad, 0)).code == forma::errc::out_of_range);
  CHECK(g.cached_positions() == 0);
  CHECK(g.forward(50256, 0));
}

TEST_CASE("hf positions past max_seq are Errors") {
  const auto gpt2 = load_model<any_gpt2>(hf_dir + "gpt2_tiny");
  forma::Decoder<any_gpt2> model(gpt2.weights());
  CHECK(model.max_sequence() == 64);
  std::vector<std::int32_t> tokens(64, 50256);
  const std::vector<std::int32_t> too_many(65, 50256);
  const forma::Error overflow = error_of(model.prefill(too_many, 0));
  CHECK(overflow.code == forma::errc::capacity);
  CHECK(overflow.message == "gpt2: position 64 is past max_seq 64");
  REQUIRE(model.prefill(tokens, 0));
  const forma::Error past = error_of(model.forward(50256, 64));
  CHECK(past.code == forma::errc::capacity);
  CHECK(model.cached_positions() == 64);
  CHECK(error_of(model.forward(50256, 70)).code == forma::errc::out_of_range);
  CHECK(model.forward(50256, 63));

  const auto qwen2 = load_model<qwen2_static>(hf_dir + "qwen2_tiny");
  forma::Decoder<qwen2_static> short_context(qwen2.weights(), 8);
  CHECK(short_context.max_sequence() == 8);
  const std::vector<std::int32_t> eight{1, 2, 3, 4, 5, 6, 7, 8};
  REQUIRE(short_context.prefill(eight, 0));
  CHECK(error_of(short_context.forward(9, 8)).message == "qwen2: position 8 is past the context of 8");
  forma::Decoder<qwen2_static> full(qwen2.weights());
  const std::vector<std::int32_t> long_prompt(257, 3);
  CHECK(error_of(full.prefill(long_prompt, 0)).message == "qwen2: position 256 is past max_seq 256");
  CHECK(full.cached_positions() == 0);
  CHECK_THROWS_AS(forma::Decoder<qwen2_static>(qwen2.weights(), 257), forma::shape_error);
}

TEST_CASE("hf a GPT-2 context longer than n_positions is an error at check and load") {
  const auto config = hf::read_config(hf_dir + "gpt2_tiny");
  REQUIRE_MESSAGE(config, error_text(config));
  const forma::Error own_table = error_of(hf::check_config<gpt2_long>(*config));
  MESSAGE(own_table.to_string());
  CHECK(own_table.message ==
        "n_positions: type says 128, file says 64; context (max_seq): type says 128, file says "
        "n_positions 64");
  CHECK(error_of(hf::load<gpt2_long>(hf_dir + "gpt2_tiny")).message == own_table.message);
  const forma::Error file_table = error_of(hf::check_config<gpt2_long_context>(*config));
  MESSAGE(file_table.to_string());
  CHECK(file_table.message == "context (max_seq): type says 128, file says n_positions 64");
  CHECK(error_of(hf::load<gpt2_long_context>(hf_dir + "gpt2_hub_style")).message == file_table.message);
}

TEST_CASE("hf a config.json that breaks a family rule is an Error from load, never an exception") {
  {
    TempDir dir("kv_heads");
    copy_fixture("llama_tiny", dir);
    edit(dir.file("config.json"), "\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3");
    const forma::Error error = error_of(hf::load<any_llama>(dir.str()));
    MESSAGE(error.to_string());
    CHECK(error.message == "LlamaConfig: kv_heads must divide heads (query heads per kv head): 3 does not divide 4");
    CHECK(error.path == dir.file("config.json"));
  }
  {
    TempDir dir("heads");
    copy_fixture("qwen2_tiny", dir);
    edit(dir.file("config.json"), "\"num_attention_heads\": 4", "\"num_attention_heads\": 3");
    const forma::Error error = error_of(hf::load<forma::presets::any_qwen2>(dir.str()));
    MESSAGE(error.to_string());
    CHECK(contains(error.message, "Qwen2Config: heads must divide the width"));
  }
  {
    TempDir dir("layers");
    copy_fixture("gpt2_tiny", dir, [](const std::string& name) { return name != "tokenizer.json"; });
    edit(dir.file("config.json"), "\"n_layer\": 2", "\"n_layer\": 1099511627776");
    const forma::Error error = error_of(hf::load<forma::presets::any_gpt2>(dir.str()));
    MESSAGE(error.to_string());
    CHECK(contains(error.message, "config.json says 1099511627776 layers; the files hold only"));
  }
}
