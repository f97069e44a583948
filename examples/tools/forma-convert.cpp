// forma-convert — Llama models to GGUF (llama.cpp's format), as llama.cpp's converters write them.
//
//   forma-convert INPUT OUTPUT.gguf [--type f32|f16|bf16|q8_0] [-z tokenizer.bin]
//   forma-convert INPUT.bin OUTPUT.bin --format llama2c --type q8_0 [--group-size 64]
//
// INPUT is a llama2.c checkpoint (.bin: legacy or version 1 fp32, or version 2 Q8_0, dequantized),
// a Hugging Face model directory (config.json + safetensors) of model_type llama or qwen2, or a
// GGUF model (llama or qwen2, any type forma dequantizes: re-encoded as --type says, its
// general.name and tokenizer.* keys copied).
//
// --format llama2c writes a llama2.c version 2 file (magic "ak42", Q8_0: int8 values and one fp32
// scale per group, the norms in fp32) from a llama2.c checkpoint, byte for byte as llama2.c's
// export.py --version 2 does: groups of --group-size (default 64, halved until it divides dim, as
// export.py backs off), scale = max|x| / 127, q = round(x / scale) with halves to even (torch.round).
// forma-run and runq.c run the file.
//
// The file: general.architecture "llama" (llama2.c, Hugging Face Llama) or "qwen2", general.name,
// general.file_type (llama.cpp's LlamaFileType), {arch}.context_length, .embedding_length,
// .block_count, .feed_forward_length, .attention.head_count, .attention.head_count_kv,
// .rope.freq_base, .attention.layer_norm_rms_epsilon (llama2.c: run.c's 10000 and 1e-5), and for
// llama .vocab_size and .rope.dimension_count. Tensors by llama.cpp's names (token_embd.weight,
// blk.N.attn_q.weight, ..., output_norm.weight, output.weight — absent when the classifier is the
// embedding). Hugging Face Llama's q and k rows are permuted as llama.cpp's convert_hf_to_gguf.py
// does (LlamaModel.permute), so that GGUF "llama" rotates adjacent pairs as llama2.c does; a
// llama2.c checkpoint is already laid out that way and Qwen2 keeps its (i, i + d/2) pairs.
//
// --type (default f32) is the type of the matrices; 1-D tensors (norms, biases) stay F32, and a
// Q8_0 matrix whose rows are not a multiple of 32 long is written F16, as llama.cpp does.
//
// -z tokenizer.bin (llama2.c input): the vocabulary goes into the file as tokenizer.ggml.model
// "llama" — tokens (spaces as U+2581; ids 0, 1, 2 named <unk>, <s>, </s>), scores, token types
// (unknown, control, byte for the <0xXX> pieces, normal), bos/eos/unk ids 1/2/0 —, so forma-run
// and llama.cpp generate from the file alone.
//
// Hugging Face input with a byte-level BPE tokenizer.json beside the weights: tokenizer.ggml.model
// "gpt2" with its tokens (ids without a token up to the model's vocabulary filled with "[PAD<id>]",
// type unused, as llama.cpp does), merges, token types (added special tokens control, other added
// tokens user-defined) and config.json's bos/eos ids; tokenizer.ggml.pre from the pre_tokenizer:
// ByteLevel with its regex → "gpt-2"; Split by Qwen2's or Llama 3's exact regex then ByteLevel
// without one → "qwen2" / "llama-bpe". Any other tokenizer (SentencePiece, another split, BPE with
// byte fallback) is not written, and a note says why; run such a file with -z or --tokens. A file
// without a tokenizer says tokenizer.ggml.model "no_vocab", as llama.cpp wants it (it then runs
// the model on token ids).
//
// The file is written atomically (OUTPUT.tmp, renamed when complete). Every error is one line on
// stderr naming the file, with exit status 1.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <forma/io/atomic_file.hpp>
#include <forma/io/gguf.hpp>
#include <forma/io/gguf_model.hpp>
#include <forma/io/gguf_writer.hpp>
#include <forma/io/hf.hpp>
#include <forma/io/json.hpp>
#include <forma/io/llama2c.hpp>
#include <forma/models/presets.hpp>
#include <forma/text/bpe.hpp>
#include <forma/text/tokenizer.hpp>

namespace {

namespace gguf = forma::io::gguf;

struct Options {
  std::string input, output;
  std::string type = "f32";
  std::string format = "gguf";
  std::optional<std::string> tokenizer;
  std::optional<std::size_t> group_size;
};

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "forma-convert: %s\n", message.c_str());
  std::exit(EXIT_FAILURE);
}

constexpr const char* usage_text =
    "usage: forma-convert INPUT OUTPUT [--type f32|f16|bf16|q8_0] [-z tokenizer.bin] "
    "[--format gguf|llama2c] [--group-size N]";

Options parse(int argc, char** argv) {
  Options o;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--type" || arg == "-z" || arg == "--format" || arg == "--group-size") {
      if (i + 1 >= argc) fail(std::string(arg) + " needs a value (" + usage_text + ")");
      const std::string value = argv[++i];
      if (arg == "--type") o.type = value;
      if (arg == "-z") o.tokenizer = value;
      if (arg == "--format") o.format = value;
      if (arg == "--group-size") {
        char* end = nullptr;
        const unsigned long long n = std::strtoull(value.c_str(), &end, 10);
        if (value.empty() || *end != '\0' || value[0] == '-' || n == 0 || n > (1u << 30)) {
          fail("--group-size '" + value + "': a positive integer");
        }
        o.group_size = static_cast<std::size_t>(n);
      }
    } else if (arg.starts_with("-") && arg.size() > 1) {
      fail("unknown flag '" + std::string(arg) + "' (" + usage_text + ")");
    } else {
      positional.emplace_back(arg);
    }
  }
  if (positional.size() != 2) fail(usage_text);
  o.input = positional[0];
  o.output = positional[1];
  if (o.type != "f32" && o.type != "f16" && o.type != "bf16" && o.type != "q8_0") {
    fail("--type '" + o.type + "': f32, f16, bf16 or q8_0");
  }
  if (o.format != "gguf" && o.format != "llama2c") fail("--format '" + o.format + "': gguf or llama2c");
  if (o.format == "llama2c" && o.type != "q8_0") {
    fail("--format llama2c writes version 2 (Q8_0) files: give --type q8_0");
  }
  if (o.format == "llama2c" && o.tokenizer) fail("-z: a llama2.c checkpoint holds no tokenizer");
  if (o.group_size && o.format != "llama2c") fail("--group-size is for --format llama2c");
  std::error_code ec;
  if (std::filesystem::equivalent(o.input, o.output, ec)) fail(o.output + ": the output would replace the input");
  return o;
}

// One tensor to write: its GGUF name, ne (fastest first) and f32 values.
struct Source {
  std::string name;
  std::vector<std::uint64_t> ne;
  std::span<const float> values;
};

// A model as GGUF wants it.
struct Converted {
  std::string architecture;  // "llama" or "qwen2"
  std::string name;          // general.name (empty: the input's file or directory name)
  std::vector<std::pair<std::string, gguf::MetaValue>> copied;  // a GGUF input's tokenizer.* keys
  forma::DecoderShape shape;
  std::vector<Source> tensors;
  std::vector<std::vector<float>> owned;  // permuted copies the tensors point into
};

// A (rows, cols) row-major matrix: ne = {cols, rows}.
Source matrix(std::string name, const float* data, std::size_t rows, std::size_t cols) {
  return {std::move(name), {cols, rows}, {data, rows * cols}};
}
Source vector(std::string name, const float* data, std::size_t n) { return {std::move(name), {n}, {data, n}}; }

// llama.cpp's LlamaModel.permute: each head's rows [first half; second half] (Hugging Face's
// rotate_half pairs (i, i + d/2)) interleaved as (2i, 2i + 1).
std::vector<float> permute_rows(const float* w, std::size_t heads, std::size_t head_dim, std::size_t cols) {
  std::vector<float> out(heads * head_dim * cols);
  const std::size_t half = head_dim / 2;
  for (std::size_t h = 0; h < heads; ++h) {
    for (std::size_t i = 0; i < half; ++i) {
      for (std::size_t j = 0; j < 2; ++j) {
        const float* from = w + (h * head_dim + j * half + i) * cols;
        std::copy(from, from + cols, out.begin() + static_cast<std::ptrdiff_t>((h * head_dim + 2 * i + j) * cols));
      }
    }
  }
  return out;
}

// A llama2.c checkpoint's tensors (views into the mapped file).
template <forma::LlamaConfig C>
Converted from_llama2c(const forma::LlamaWeights<C>& w) {
  Converted m;
  m.architecture = "llama";
  const forma::LlamaShape& s = w.shape;
  m.shape = {.dim = s.dim, .hidden = s.hidden, .layers = s.layers, .heads = s.heads, .kv_heads = s.kv_heads,
             .vocab = s.vocab, .max_seq = s.max_seq, .positions = 0, .shared_classifier = s.shared_classifier,
             .norm_eps = 1e-5f, .rope_theta = 10000.0f};
  const std::size_t D = s.dim, H = s.hidden, KV = s.kv_heads * (s.dim / s.heads), V = s.vocab;
  m.tensors.push_back(matrix("token_embd.weight", w.token_embedding.data(), V, D));
  for (std::size_t l = 0; l < s.layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    m.tensors.push_back(vector(b + "attn_norm.weight", w.rms_att.data() + l * D, D));
    m.tensors.push_back(matrix(b + "attn_q.weight", w.wq.data() + l * D * D, D, D));
    m.tensors.push_back(matrix(b + "attn_k.weight", w.wk.data() + l * KV * D, KV, D));
    m.tensors.push_back(matrix(b + "attn_v.weight", w.wv.data() + l * KV * D, KV, D));
    m.tensors.push_back(matrix(b + "attn_output.weight", w.wo.data() + l * D * D, D, D));
    m.tensors.push_back(vector(b + "ffn_norm.weight", w.rms_ffn.data() + l * D, D));
    m.tensors.push_back(matrix(b + "ffn_gate.weight", w.w1.data() + l * H * D, H, D));
    m.tensors.push_back(matrix(b + "ffn_up.weight", w.w3.data() + l * H * D, H, D));
    m.tensors.push_back(matrix(b + "ffn_down.weight", w.w2.data() + l * D * H, D, H));
  }
  m.tensors.push_back(vector("output_norm.weight", w.rms_final.data(), D));
  if (!s.shared_classifier) m.tensors.push_back(matrix("output.weight", w.classifier.data(), V, D));
  return m;
}

// A decoder's tensors (views into the loaded model; with `permute`, a Hugging Face Llama's q and k
// rows as permuted copies).
template <forma::DecoderConfig C>
Converted from_decoder(const forma::DecoderWeights<C>& w, std::string architecture, bool permute) {
  Converted m;
  m.architecture = std::move(architecture);
  m.shape = w.shape;
  const forma::DecoderShape& s = w.shape;
  const std::size_t D = s.dim, H = s.hidden, KV = s.kv_dim(), V = s.vocab, head_dim = s.head_dim();
  m.owned.reserve(2 * s.layers);
  m.tensors.push_back(matrix("token_embd.weight", w.token_embedding.data(), V, D));
  for (std::size_t l = 0; l < s.layers; ++l) {
    const auto& L = w.layers[l];
    const std::string b = "blk." + std::to_string(l) + ".";
    const float* wq = L.wq.data();
    const float* wk = L.wk.data();
    if (permute) {
      wq = m.owned.emplace_back(permute_rows(wq, s.heads, head_dim, D)).data();
      wk = m.owned.emplace_back(permute_rows(wk, s.kv_heads, head_dim, D)).data();
    }
    m.tensors.push_back(vector(b + "attn_norm.weight", L.attn_norm.data(), D));
    m.tensors.push_back(matrix(b + "attn_q.weight", wq, D, D));
    m.tensors.push_back(matrix(b + "attn_k.weight", wk, KV, D));
    m.tensors.push_back(matrix(b + "attn_v.weight", L.wv.data(), KV, D));
    if constexpr (C.qkv_bias()) {
      m.tensors.push_back(vector(b + "attn_q.bias", L.bq.data(), D));
      m.tensors.push_back(vector(b + "attn_k.bias", L.bk.data(), KV));
      m.tensors.push_back(vector(b + "attn_v.bias", L.bv.data(), KV));
    }
    m.tensors.push_back(matrix(b + "attn_output.weight", L.wo.data(), D, D));
    m.tensors.push_back(vector(b + "ffn_norm.weight", L.ffn_norm.data(), D));
    m.tensors.push_back(matrix(b + "ffn_gate.weight", L.w1.data(), H, D));
    m.tensors.push_back(matrix(b + "ffn_up.weight", L.w3.data(), H, D));
    m.tensors.push_back(matrix(b + "ffn_down.weight", L.w2.data(), D, H));
  }
  m.tensors.push_back(vector("output_norm.weight", w.final_norm.data(), D));
  if (!s.shared_classifier) m.tensors.push_back(matrix("output.weight", w.classifier.data(), V, D));
  return m;
}

// tokenizer.bin as tokenizer.ggml.* "llama" (the layout llama.cpp's converters give SentencePiece).
void add_tokenizer(gguf::Writer& w, const forma::text::Tokenizer& t, const std::string& path) {
  using forma::text::TokenType;
  const std::size_t n = t.vocab_size();
  if (n < 3) fail(path + ": a tokenizer with " + std::to_string(n) + " tokens has no <unk>, <s>, </s>");
  std::vector<std::string> pieces(n);
  std::vector<float> scores(n);
  std::vector<std::int32_t> types(n);
  const auto is_byte_piece = [](std::string_view p) {
    const auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
    return p.size() == 6 && p.starts_with("<0x") && hex(p[3]) && hex(p[4]) && p[5] == '>';
  };
  for (std::size_t i = 0; i < n; ++i) {
    const auto id = static_cast<std::int32_t>(i);
    const std::string_view piece = t.piece(id);
    scores[i] = t.score(id);
    if (i < 3) {
      static constexpr const char* special[] = {"<unk>", "<s>", "</s>"};
      pieces[i] = special[i];
      types[i] = static_cast<std::int32_t>(i == 0 ? TokenType::unknown : TokenType::control);
    } else if (is_byte_piece(piece)) {
      pieces[i] = std::string(piece);
      types[i] = static_cast<std::int32_t>(TokenType::byte);
    } else {
      std::string text;
      for (const char c : piece) text += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
      pieces[i] = std::move(text);
      types[i] = static_cast<std::int32_t>(TokenType::normal);
    }
  }
  const auto check = [&](forma::Result<void> ok) {
    if (!ok) fail(ok.error().to_string());
  };
  check(w.set("tokenizer.ggml.model", "llama"));
  check(w.set("tokenizer.ggml.tokens", gguf::MetaValue::array(std::move(pieces))));
  check(w.set("tokenizer.ggml.scores", gguf::MetaValue::array(scores)));
  check(w.set("tokenizer.ggml.token_type", gguf::MetaValue::array(types)));
  check(w.set("tokenizer.ggml.bos_token_id", std::uint32_t{1}));
  check(w.set("tokenizer.ggml.eos_token_id", std::uint32_t{2}));
  check(w.set("tokenizer.ggml.unknown_token_id", std::uint32_t{0}));
}

// A Hugging Face tokenizer.json as GGUF's "gpt2" tokenizer keys.
struct BpeVocab {
  std::vector<std::string> tokens;
  std::vector<std::int32_t> types;
  std::vector<std::string> merges;
  std::string pre;
};

// The exact regexes of the Split pre-tokenizers forma (and llama.cpp) know by name.
constexpr std::string_view qwen2_split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view llama3_split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace json = forma::io::json;

// A failure: an Error (malformed JSON: fatal) or a reason the tokenizer is not one GGUF "gpt2"
// describes (a note; the file is written without a tokenizer).
struct Unsupported {
  std::string why;
};

template <class F>
forma::Result<void> members(json::Reader& r, F&& each) {
  if (auto ok = r.begin_object(); !ok) return ok;
  std::string key;
  while (true) {
    auto more = r.next_key(key);
    if (!more) return std::move(more).error();
    if (!*more) return {};
    if (auto ok = each(key); !ok) return ok;
  }
}

forma::Result<bool> read_bool(json::Reader& r) {
  auto kind = r.value_kind();
  if (!kind) return std::move(kind).error();
  if (*kind == json::Kind::null) {
    if (auto ok = r.null(); !ok) return std::move(ok).error();
    return false;
  }
  return r.boolean();
}

// One pre-tokenizer object: its type, Split's regex and behavior, ByteLevel's use_regex.
struct PreTokenizer {
  std::string type, regex, behavior;
  bool invert = false, use_regex = true, has_pattern_string = false;
  std::vector<PreTokenizer> sequence;
};

forma::Result<void> read_pre_tokenizer(json::Reader& r, PreTokenizer& p, int depth) {
  return members(r, [&](const std::string& key) -> forma::Result<void> {
    if (key == "type") {
      auto v = r.string();
      if (!v) return std::move(v).error();
      p.type = *v;
    } else if (key == "behavior") {
      auto v = r.string();
      if (!v) return std::move(v).error();
      p.behavior = *v;
    } else if (key == "invert" || key == "use_regex") {
      auto v = read_bool(r);
      if (!v) return std::move(v).error();
      (key == "invert" ? p.invert : p.use_regex) = *v;
    } else if (key == "pattern") {
      return members(r, [&](const std::string& kind) -> forma::Result<void> {
        auto v = r.string();
        if (!v) return std::move(v).error();
        p.regex = *v;
        p.has_pattern_string = kind != "Regex";
        return {};
      });
    } else if (key == "pretokenizers" && depth == 0) {
      if (auto ok = r.begin_array(); !ok) return ok;
      while (true) {
        auto more = r.next_element();
        if (!more) return std::move(more).error();
        if (!*more) break;
        p.sequence.emplace_back();
        if (auto ok = read_pre_tokenizer(r, p.sequence.back(), depth + 1); !ok) return ok;
      }
    } else {
      return r.skip();
    }
    return {};
  });
}

// The tokenizer.json at `path` for a model of `vocab` rows; nothing (with a reason) when GGUF's
// "gpt2" tokenizer cannot describe it.
std::variant<BpeVocab, Unsupported> read_tokenizer_json(const std::string& path, std::size_t vocab) {
  auto text = forma::io::hf::detail::read_text(path);
  if (!text) fail(text.error().to_string());
  json::Reader r(*text);
  std::map<std::int32_t, std::string> by_id;
  std::map<std::int32_t, bool> added;  // id -> special
  std::vector<std::string> merges;
  std::string model_type;
  bool byte_fallback = false, has_pre = false;
  PreTokenizer pre;
  const auto id_of = [&](const std::string& where) -> forma::Result<std::int32_t> {
    auto n = r.number();
    if (!n) return std::move(n).error();
    if (!n->integer || *n->integer > 0x7FFFFFFF) fail(path + ": " + where + " is not a token id");
    return static_cast<std::int32_t>(*n->integer);
  };
  auto parsed = members(r, [&](const std::string& key) -> forma::Result<void> {
    if (key == "added_tokens") {
      if (auto ok = r.begin_array(); !ok) return ok;
      while (true) {
        auto more = r.next_element();
        if (!more) return std::move(more).error();
        if (!*more) return {};
        std::int32_t id = -1;
        std::string content;
        bool special = false;
        auto ok = members(r, [&](const std::string& field) -> forma::Result<void> {
          if (field == "id") {
            auto v = id_of("added_tokens.id");
            if (!v) return std::move(v).error();
            id = *v;
          } else if (field == "content") {
            auto v = r.string();
            if (!v) return std::move(v).error();
            content = *v;
          } else if (field == "special") {
            auto v = read_bool(r);
            if (!v) return std::move(v).error();
            special = *v;
          } else {
            return r.skip();
          }
          return {};
        });
        if (!ok) return ok;
        if (id < 0) fail(path + ": an added token without an id");
        if (const auto it = by_id.find(id); it != by_id.end() && it->second != content) {
          fail(path + ": id " + std::to_string(id) + " is both \"" + gguf::printable(it->second) + "\" and \"" +
               gguf::printable(content) + "\"");
        }
        by_id[id] = content;
        added[id] = special;
      }
    }
    if (key == "pre_tokenizer") {
      auto kind = r.value_kind();
      if (!kind) return std::move(kind).error();
      if (*kind == json::Kind::null) return r.null();
      has_pre = true;
      return read_pre_tokenizer(r, pre, 0);
    }
    if (key == "model") {
      return members(r, [&](const std::string& field) -> forma::Result<void> {
        if (field == "type") {
          auto v = r.string();
          if (!v) return std::move(v).error();
          model_type = *v;
        } else if (field == "byte_fallback") {
          auto v = read_bool(r);
          if (!v) return std::move(v).error();
          byte_fallback = *v;
        } else if (field == "vocab") {
          auto kind = r.value_kind();
          if (!kind) return std::move(kind).error();
          if (*kind != json::Kind::object) return r.skip();  // a Unigram's list: refused below
          std::string token;
          if (auto ok = r.begin_object(); !ok) return ok;
          while (true) {
            auto more = r.next_key(token);
            if (!more) return std::move(more).error();
            if (!*more) return {};
            auto id = id_of("model.vocab");
            if (!id) return std::move(id).error();
            if (const auto it = by_id.find(*id); it != by_id.end() && it->second != token) {
              fail(path + ": id " + std::to_string(*id) + " is both \"" + gguf::printable(it->second) + "\" and \"" +
                   gguf::printable(token) + "\"");
            }
            by_id.emplace(*id, token);
          }
        } else if (field == "merges") {
          if (auto ok = r.begin_array(); !ok) return ok;
          while (true) {
            auto more = r.next_element();
            if (!more) return std::move(more).error();
            if (!*more) return {};
            auto kind = r.value_kind();
            if (!kind) return std::move(kind).error();
            if (*kind == json::Kind::string) {
              auto v = r.string();
              if (!v) return std::move(v).error();
              merges.push_back(*v);
              continue;
            }
            if (auto ok = r.begin_array(); !ok) return ok;
            std::vector<std::string> pair;
            while (true) {
              auto element = r.next_element();
              if (!element) return std::move(element).error();
              if (!*element) break;
              auto v = r.string();
              if (!v) return std::move(v).error();
              pair.push_back(*v);
            }
            if (pair.size() != 2) fail(path + ": a merge that is not a pair");
            merges.push_back(pair[0] + " " + pair[1]);
          }
        } else {
          return r.skip();
        }
        return {};
      });
    }
    return r.skip();
  });
  if (!parsed) fail(std::move(parsed).error().with_path(path).to_string());
  if (auto ok = r.finish(); !ok) fail(std::move(ok).error().with_path(path).to_string());

  if (model_type != "BPE") return Unsupported{"its model is " + (model_type.empty() ? "missing" : model_type) + ", not BPE"};
  if (byte_fallback) return Unsupported{"BPE with byte_fallback (SentencePiece-style) is not GGUF's gpt2 tokenizer"};
  BpeVocab v;
  const auto byte_level = [](const PreTokenizer& p, bool regex) { return p.type == "ByteLevel" && p.use_regex == regex; };
  if (has_pre && byte_level(pre, true)) {
    v.pre = "gpt-2";
  } else if (has_pre && pre.type == "Sequence" && pre.sequence.size() == 2 && pre.sequence[0].type == "Split" &&
             !pre.sequence[0].has_pattern_string && pre.sequence[0].behavior == "Isolated" &&
             !pre.sequence[0].invert && byte_level(pre.sequence[1], false) &&
             (pre.sequence[0].regex == qwen2_split || pre.sequence[0].regex == llama3_split)) {
    v.pre = pre.sequence[0].regex == qwen2_split ? "qwen2" : "llama-bpe";
  } else {
    return Unsupported{"its pre_tokenizer is not ByteLevel, nor a Split by Qwen2's or Llama 3's regex then ByteLevel"};
  }
  if (by_id.empty()) return Unsupported{"it has no vocabulary"};
  const auto largest = static_cast<std::size_t>(by_id.rbegin()->first);
  if (largest >= vocab) {
    return Unsupported{"its token id " + std::to_string(largest) + " is outside the model's vocabulary of " +
                       std::to_string(vocab)};
  }
  v.tokens.resize(vocab);
  v.types.resize(vocab);
  for (std::size_t i = 0; i < vocab; ++i) {
    const auto id = static_cast<std::int32_t>(i);
    const auto it = by_id.find(id);
    if (it == by_id.end()) {
      v.tokens[i] = "[PAD" + std::to_string(i) + "]";
      v.types[i] = static_cast<std::int32_t>(forma::text::TokenType::unused);
      continue;
    }
    v.tokens[i] = it->second;
    const auto a = added.find(id);
    v.types[i] = static_cast<std::int32_t>(a == added.end() ? forma::text::TokenType::normal
                                           : a->second      ? forma::text::TokenType::control
                                                            : forma::text::TokenType::user_defined);
  }
  v.merges = std::move(merges);
  // What forma-run will build from the file's keys, built now: a merge of tokens not in the
  // vocabulary, a duplicate token and the like fail here, naming tokenizer.json, not later.
  std::vector<std::string_view> tokens(v.tokens.begin(), v.tokens.end()), merge_lines(v.merges.begin(), v.merges.end());
  std::vector<forma::text::BpeAddedToken> added_tokens;
  for (const auto& [id, special] : added) {
    added_tokens.push_back({v.tokens[static_cast<std::size_t>(id)], id, special, false, false});
  }
  const auto kind = v.pre == "qwen2"       ? forma::text::BpePreTokenizer::qwen2
                    : v.pre == "llama-bpe" ? forma::text::BpePreTokenizer::llama3
                                           : forma::text::BpePreTokenizer::gpt2;
  auto check = forma::text::BpeTokenizer::from_vocab(tokens, merge_lines, std::move(added_tokens), "model.vocab",
                                                     "model.merges", kind, v.pre == "llama-bpe");
  if (!check) fail(path + ": " + check.error().to_string());
  return v;
}

struct HfTokenizer {
  BpeVocab vocab;
  std::optional<std::size_t> bos, eos;
};

int convert(const Options& o, const Converted& m, const forma::text::Tokenizer* tokenizer,
            const HfTokenizer* bpe = nullptr, const std::string& no_tokenizer_note = {}) {
  const std::map<std::string, std::pair<gguf::tensor_type, std::uint32_t>> types{
      {"f32", {gguf::tensor_type::f32, 0}},
      {"f16", {gguf::tensor_type::f16, 1}},
      {"q8_0", {gguf::tensor_type::q8_0, 7}},
      {"bf16", {gguf::tensor_type::bf16, 32}}};  // llama.cpp's LlamaFileType numbers
  const auto [matrix_type, file_type] = types.at(o.type);
  const auto check = [&](forma::Result<void> ok) {
    if (!ok) fail(o.output + ": " + ok.error().to_string());
  };
  const std::string& a = m.architecture;
  const forma::DecoderShape& s = m.shape;
  gguf::Writer w;
  check(w.set("general.architecture", a));
  const std::filesystem::path input = std::filesystem::path(o.input).lexically_normal();
  const std::filesystem::path last = input.has_filename() ? input : input.parent_path();
  std::error_code not_a_directory;
  const std::string name = (std::filesystem::is_directory(last, not_a_directory) ? last.filename() : last.stem()).string();
  check(w.set("general.name", m.name.empty() ? name : m.name));
  check(w.set("general.file_type", file_type));
  if (matrix_type == gguf::tensor_type::q8_0) check(w.set("general.quantization_version", std::uint32_t{2}));
  const auto u32_key = [&](const std::string& key, std::size_t value) {
    if (value > UINT32_MAX) fail(o.input + ": " + key + " " + std::to_string(value) + " does not fit a uint32");
    check(w.set(key, static_cast<std::uint32_t>(value)));
  };
  const auto u32 = [&](const std::string& key, std::size_t value) { u32_key(a + "." + key, value); };
  u32("context_length", s.max_seq);
  u32("embedding_length", s.dim);
  u32("block_count", s.layers);
  u32("feed_forward_length", s.hidden);
  u32("attention.head_count", s.heads);
  u32("attention.head_count_kv", s.kv_heads);
  check(w.set(a + ".rope.freq_base", s.rope_theta));
  check(w.set(a + ".attention.layer_norm_rms_epsilon", s.norm_eps));
  if (a == "llama") {
    u32("vocab_size", s.vocab);
    u32("rope.dimension_count", s.head_dim());
  }
  if (tokenizer != nullptr) add_tokenizer(w, *tokenizer, *o.tokenizer);
  for (const auto& [key, value] : m.copied) check(w.set(key, value));
  if (tokenizer == nullptr && bpe == nullptr && m.copied.empty()) {
    check(w.set("tokenizer.ggml.model", "no_vocab"));  // llama.cpp's word for a file without one
  }
  if (bpe != nullptr) {
    check(w.set("tokenizer.ggml.model", "gpt2"));
    check(w.set("tokenizer.ggml.pre", bpe->vocab.pre));
    check(w.set("tokenizer.ggml.tokens", gguf::MetaValue::array(bpe->vocab.tokens)));
    check(w.set("tokenizer.ggml.token_type", gguf::MetaValue::array(bpe->vocab.types)));
    check(w.set("tokenizer.ggml.merges", gguf::MetaValue::array(bpe->vocab.merges)));
    if (bpe->bos) u32_key("tokenizer.ggml.bos_token_id", *bpe->bos);
    if (bpe->eos) u32_key("tokenizer.ggml.eos_token_id", *bpe->eos);
  }

  std::map<std::string, std::size_t> counts;
  std::size_t fallback = 0;
  for (const Source& t : m.tensors) {
    gguf::tensor_type type = t.ne.size() == 1 ? gguf::tensor_type::f32 : matrix_type;
    if (type == gguf::tensor_type::q8_0 && t.ne[0] % 32 != 0) {
      type = gguf::tensor_type::f16;  // llama.cpp's converter does the same
      ++fallback;
    }
    check(w.add_tensor(t.name, t.ne, type, t.values));
    ++counts[std::string(gguf::name_of(type))];
  }
  check(w.write(o.output));

  std::string listing;
  for (const auto& [name, n] : counts) listing += (listing.empty() ? "" : ", ") + std::to_string(n) + " " + name;
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(o.output, ec);
  std::printf("%s: GGUF %s, %zu tensors (%s), %zu layers, vocab %zu, %ju bytes\n", o.output.c_str(), a.c_str(),
              m.tensors.size(), listing.c_str(), s.layers, s.vocab, static_cast<std::uintmax_t>(bytes));
  if (fallback > 0) {
    std::printf("  %zu matrices with rows not a multiple of 32 written as F16 (Q8_0 blocks are 32 long)\n", fallback);
  }
  if (bpe != nullptr) {
    std::printf("  tokenizer: gpt2, pre-tokenizer %s, %zu tokens, %zu merges\n", bpe->vocab.pre.c_str(),
                bpe->vocab.tokens.size(), bpe->vocab.merges.size());
  } else if (!m.copied.empty()) {
    std::printf("  tokenizer: the %zu tokenizer.* keys of %s, copied\n", m.copied.size(), o.input.c_str());
  } else if (tokenizer == nullptr) {
    std::printf("  no tokenizer in the file%s: generate with forma-run -z TOKENIZER, or use --tokens\n",
                no_tokenizer_note.c_str());
  }
  return 0;
}

bool is_gguf(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  std::uint32_t magic = 0;
  const bool read = std::fread(&magic, sizeof magic, 1, f) == 1;
  std::fclose(f);
  return read && magic == gguf::magic;
}

// A GGUF model (any type forma dequantizes) re-encoded: its weights in the order and names above,
// its general.name and tokenizer.* keys copied.
int from_gguf(const Options& o) {
  if (o.format == "llama2c") fail(o.input + ": --format llama2c converts llama2.c checkpoints");
  if (o.tokenizer) fail("-z is for llama2.c checkpoints; " + o.input + "'s own tokenizer is copied");
  auto file = gguf::File::open(o.input);
  if (!file) fail(file.error().to_string());
  auto config = gguf::read_model_config(*file);
  if (!config) fail(config.error().to_string());
  const auto finish = [&](Converted m) {
    m.name = config->name;
    for (const auto& entry : file->metadata()) {
      if (entry.key.starts_with("tokenizer.")) m.copied.emplace_back(std::string(entry.key), gguf::MetaValue::copy(entry.value));
    }
    return convert(o, m, nullptr);
  };
  if (config->family == forma::model_family::qwen2) {
    auto model = gguf::load<forma::presets::any_qwen2>(*file);
    if (!model) fail(model.error().to_string());
    return finish(from_decoder(model->weights(), "qwen2", false));
  }
  auto model = gguf::load<forma::presets::any_gguf_llama>(*file);
  if (!model) fail(model.error().to_string());
  return finish(from_decoder(model->weights(), "llama", false));  // already in GGUF llama's layout
}

// A llama2.c version 2 (Q8_0) file, as export.py --version 2 writes it.
template <forma::LlamaConfig C>
int write_llama2c_q8_0(const Options& o, const forma::LlamaWeights<C>& w) {
  namespace llama2c = forma::io::llama2c;
  const std::size_t group = o.group_size.value_or(llama2c::q80_group_size(w.shape.dim));
  auto bytes = llama2c::encode_q8_0_v2(w, group);
  if (!bytes) fail(o.input + ": " + bytes.error().to_string());
  if (auto ok = forma::io::write_file_atomically(o.output, *bytes); !ok) fail(ok.error().to_string());
  std::printf("%s: llama2.c version 2 (Q8_0), group size %zu, %zu layers, vocab %zu, %zu bytes\n", o.output.c_str(),
              group, w.shape.layers, w.shape.vocab, bytes->size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::error_code ec;
  if (std::filesystem::is_directory(o.input, ec)) {
    if (o.format == "llama2c") fail(o.input + ": --format llama2c converts llama2.c checkpoints");
    if (o.tokenizer) fail("-z is for llama2.c checkpoints (a tokenizer.bin); " + o.input + " is a directory");
    auto config = forma::io::hf::read_config(o.input);
    if (!config) fail(config.error().to_string());
    // The tokenizer beside the weights, when GGUF's "gpt2" tokenizer can hold it.
    std::optional<HfTokenizer> bpe;
    std::string note = " (no tokenizer.json in the directory)";
    const std::string json_path = (std::filesystem::path(o.input) / "tokenizer.json").string();
    if (config->family != forma::model_family::gpt2 && std::filesystem::exists(json_path, ec)) {
      auto read = read_tokenizer_json(json_path, config->shape.vocab);
      if (auto* v = std::get_if<BpeVocab>(&read)) {
        bpe.emplace();
        bpe->vocab = std::move(*v);
        if (config->has_bos) bpe->bos = config->bos;
        if (config->has_eos) bpe->eos = config->eos;
      } else {
        note = " (" + json_path + ": " + std::get<Unsupported>(read).why + ")";
      }
    }
    const HfTokenizer* bpe_ptr = bpe ? &*bpe : nullptr;
    if (config->family == forma::model_family::llama) {
      auto model = forma::io::hf::load<forma::presets::any_hf_llama>(o.input);
      if (!model) fail(model.error().to_string());
      return convert(o, from_decoder(model->weights(), "llama", true), nullptr, bpe_ptr, note);
    }
    if (config->family == forma::model_family::qwen2) {
      auto model = forma::io::hf::load<forma::presets::any_qwen2>(o.input);
      if (!model) fail(model.error().to_string());
      return convert(o, from_decoder(model->weights(), "qwen2", false), nullptr, bpe_ptr, note);
    }
    fail(config->path + ": model_type '" + config->model_type + "': forma-convert writes llama and qwen2");
  }
  if (is_gguf(o.input)) return from_gguf(o);
  auto checkpoint = forma::io::llama2c::load_fp32<forma::presets::any_llama>(o.input);
  if (!checkpoint) fail(checkpoint.error().to_string());
  if (o.format == "llama2c") return write_llama2c_q8_0(o, checkpoint->weights());
  std::optional<forma::text::Tokenizer> tokenizer;
  if (o.tokenizer) {
    auto loaded = forma::text::Tokenizer::load(*o.tokenizer, checkpoint->weights().shape.vocab);
    if (!loaded) fail(loaded.error().to_string());
    tokenizer.emplace(std::move(*loaded));
  }
  return convert(o, from_llama2c(checkpoint->weights()), tokenizer ? &*tokenizer : nullptr);
}
