// forma-inspect FILE... — a first look at .npy, safetensors, GGUF, llama2.c and llm.c files and
// Hugging Face model directories.
//
// Prints each file's format and every tensor's name, dtype, shape and byte range (or the
// llama2.c / llm.c header). For GGUF, like llama.cpp's gguf-dump: the version, every metadata
// entry (arrays abbreviated to their type, length and first values) and every tensor (name, ggml
// type, dims fastest-first, offset in the data section, bytes). For a model directory: what config.json says, then every tensor of
// its safetensors file(s) with its role — a parameter, or a buffer / tied head the loader skips. A file that does not validate gets the loader's one-line error on stderr, and
// the exit status is 1 if any file failed.
#include <cstdio>
#include <cstring>
#include <string>

#include <filesystem>

#include <forma/io/gguf.hpp>
#include <forma/io/hf.hpp>
#include <forma/io/llama2c.hpp>
#include <forma/io/llmc.hpp>
#include <forma/io/mmap.hpp>
#include <forma/io/npy.hpp>
#include <forma/io/safetensors.hpp>

namespace {

namespace io = forma::io;

forma::Result<void> inspect_npy(const std::string& path, std::span<const std::byte> bytes) {
  auto header = io::parse_npy_header(bytes);
  if (!header) return std::move(header).error();
  if (auto data = io::npy_data(*header, bytes); !data) return std::move(data).error();
  std::printf("%s: npy %d.%d\n", path.c_str(), header->major, header->minor);
  std::printf("  dtype %s (%s), shape %s, %s order, bytes %zu-%zu\n", header->descr.c_str(),
              std::string(forma::name_of(header->type)).c_str(), io::shape_text(header->shape).c_str(),
              header->fortran_order ? "Fortran" : "C", header->data_offset, header->data_offset + header->data_bytes);
  return {};
}

forma::Result<void> inspect_safetensors(const std::string& path, std::span<const std::byte> bytes) {
  auto file = io::Safetensors::parse(bytes);
  if (!file) return std::move(file).error();
  std::printf("%s: safetensors, %zu tensors, data at byte %zu\n", path.c_str(), file->tensors().size(),
              file->data_offset());
  for (const auto& [key, value] : file->metadata()) std::printf("  metadata %s = %s\n", key.c_str(), value.c_str());
  for (const auto& e : file->tensors()) {
    std::printf("  %-32s %-5s %-18s bytes %zu-%zu\n", e.name.c_str(),
                std::string(io::safetensors_detail::dtype_text(e.type)).c_str(), io::shape_text(e.shape).c_str(),
                file->data_offset() + e.begin, file->data_offset() + e.end);
  }
  return {};
}

forma::Result<void> inspect_gguf(const std::string& path, std::span<const std::byte> bytes) {
  namespace gguf = io::gguf;
  auto file = gguf::File::from_bytes(bytes);
  if (!file) return std::move(file).error();
  std::printf("%s: GGUF version %u, %zu metadata entries, %zu tensors, alignment %u, data at byte %zu\n", path.c_str(),
              file->version(), file->metadata().size(), file->tensors().size(), file->alignment(), file->data_offset());
  for (const auto& [key, value] : file->metadata()) {
    std::printf("  %-40s %-8s %s\n", gguf::printable(key).c_str(), std::string(gguf::name_of(value.type())).c_str(),
                value.text(5).c_str());
  }
  for (const auto& t : file->tensors()) {
    std::string dims = "[";
    for (std::size_t i = 0; i < t.dims().size(); ++i) dims += (i ? ", " : "") + std::to_string(t.dims()[i]);
    dims += "]";
    std::printf("  %-40s %-7s %-24s offset %-10llu bytes %llu\n", gguf::printable(t.name).c_str(),
                std::string(gguf::name_of(t.type)).c_str(), dims.c_str(), static_cast<unsigned long long>(t.offset),
                static_cast<unsigned long long>(t.bytes));
  }
  return {};
}

forma::Result<void> inspect_llama2c(const std::string& path, std::span<const std::byte> bytes) {
  auto header = io::llama2c::validate(bytes);
  if (!header) return std::move(header).error();
  const auto& h = *header;
  std::printf("%s: %s, %zu bytes\n", path.c_str(), std::string(io::llama2c::name_of(h.kind)).c_str(), bytes.size());
  std::printf("  dim %zu, hidden_dim %zu, n_layers %zu, n_heads %zu, n_kv_heads %zu, vocab_size %zu, seq_len %zu\n",
              h.dim, h.hidden_dim, h.n_layers, h.n_heads, h.n_kv_heads, h.vocab_size, h.seq_len);
  std::printf("  head_dim %zu, kv_dim %zu, classifier %s\n", h.head_dim(), h.kv_dim(),
              h.shared_classifier ? "shared with the embedding" : "separate");
  if (h.kind != io::llama2c::format::q8_0_v2) return {};
  auto layout = io::llama2c::q8_0_layout(h);
  if (!layout) return std::move(layout).error();
  std::printf("  Q8_0 group size %zu; fp32 norms at bytes %zu-%zu\n", h.group_size, layout->norms_offset,
              layout->tensors.front().offset);
  for (const auto& t : layout->tensors) {
    std::printf("  %-16s %zu x (%zu, %zu) int8 + %zu fp32 scales each, bytes %zu-%zu\n", std::string(t.name).c_str(),
                t.count, t.rows, t.cols, t.scales, t.offset, t.offset + t.count * t.stride);
  }
  return {};
}

forma::Result<void> inspect_llmc(const std::string& path, std::span<const std::byte> bytes) {
  auto header = io::llmc::parse_header(bytes, path);
  if (!header) return std::move(header).error();
  const auto& h = *header;
  std::printf("%s: llm.c GPT-2 checkpoint version %d (%s), %zu bytes\n", path.c_str(), h.version,
              h.version == 5 ? "bfloat16" : "float32", bytes.size());
  std::printf("  maxT %zu, V %zu (padded Vp %zu), L %zu, NH %zu, C %zu; %zu parameters\n", h.max_t, h.vocab,
              h.padded_vocab, h.layers, h.heads, h.channels, h.parameter_count());
  return {};
}

forma::Result<void> inspect_hf(const std::string& dir) {
  namespace hf = io::hf;
  auto config = hf::read_config(dir);
  if (!config) return std::move(config).error();
  const auto& c = *config;
  const auto& s = c.shape;
  std::printf("%s: Hugging Face model directory, model_type %s\n", dir.c_str(), c.model_type.c_str());
  std::printf("  dim %zu, hidden %zu, layers %zu, heads %zu, kv_heads %zu, vocab %zu, max_seq %zu\n", s.dim,
              s.hidden, s.layers, s.heads, s.kv_heads, s.vocab, s.max_seq);
  if (c.family == forma::model_family::gpt2) {
    std::printf("  learned positions %zu, layer_norm_epsilon %g, GELU %s, head tied\n", s.positions,
                static_cast<double>(s.norm_eps), c.ffn == forma::nn::ffn_kind::gelu_tanh ? "tanh" : "erf");
  } else {
    std::printf("  rope_theta %g (from %s), rms_norm_eps %g, classifier %s\n", static_cast<double>(s.rope_theta),
                c.rope_from.c_str(), static_cast<double>(s.norm_eps),
                s.shared_classifier ? "tied to the embedding" : "separate");
  }
  if (!c.dtype.empty()) std::printf("  dtype %s (informational: each tensor's own dtype rules)\n", c.dtype.c_str());
  auto files = hf::Files::open(dir);
  if (!files) return std::move(files).error();
  if (!files->index_path().empty()) {
    std::printf("  %zu shards (%s)\n", files->file_count(), files->index_path().c_str());
  }
  std::size_t buffers = 0;
  for (const auto& [name, where] : files->tensors()) {
    const auto role = hf::classify(c.family, name, s.shared_classifier);
    const char* role_text = role == hf::tensor_role::buffer           ? "buffer (not a parameter: skipped)"
                            : role == hf::tensor_role::tied_duplicate ? "tied head (skipped: the embedding is used)"
                                                                      : "parameter";
    if (role != hf::tensor_role::parameter) ++buffers;
    const auto& e = *where.entry;
    std::printf("  %-48s %-5s %-18s %s\n", name.c_str(), std::string(io::safetensors_detail::dtype_text(e.type)).c_str(),
                io::shape_text(e.shape).c_str(), role_text);
  }
  std::printf("  %zu tensors, %zu skipped on load\n", files->tensors().size(), buffers);
  return {};
}

// The format by its first bytes; llama2.c legacy files have no magic, so they come last.
forma::Result<void> inspect(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return inspect_hf(path);
  auto mapped = io::MappedFile::open(path);
  if (!mapped) return std::move(mapped).error();
  const auto bytes = mapped->bytes();
  const auto starts_with = [&](const char* prefix, std::size_t length) {
    return bytes.size() >= length && std::memcmp(bytes.data(), prefix, length) == 0;
  };
  forma::Result<void> result;
  if (starts_with("\x93NUMPY", 6)) {
    result = inspect_npy(path, bytes);
  } else if (starts_with("GGUF", 4)) {
    result = inspect_gguf(path, bytes);
  } else if (bytes.size() >= 9 && static_cast<char>(bytes[8]) == '{') {
    result = inspect_safetensors(path, bytes);
  } else if (bytes.size() >= 4 && [&] {
               std::int32_t magic = 0;
               std::memcpy(&magic, bytes.data(), 4);
               return magic == io::llmc::magic;
             }()) {
    result = inspect_llmc(path, bytes);
  } else if (starts_with("\x32\x34\x6b\x61", 4)) {
    result = inspect_llama2c(path, bytes);
  } else if (auto legacy = io::llama2c::parse_header(bytes); legacy) {
    result = inspect_llama2c(path, bytes);
  } else {
    // A legacy llama2.c file has no magic: say why it is not one either.
    return forma::make_error(forma::errc::bad_format, "not a .npy, safetensors or llama2.c file (as a llama2.c legacy header: " +
                                                          legacy.error().message + ")")
        .with_path(path);
  }
  if (!result) return std::move(result).error().with_path(path);
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: forma-inspect FILE...  (.npy, .safetensors, .gguf, llama2.c or llm.c .bin, Hugging Face model directory)\n");
    return 2;
  }
  int status = 0;
  for (int i = 1; i < argc; ++i) {
    if (auto ok = inspect(argv[i]); !ok) {
      std::fprintf(stderr, "forma-inspect: %s\n", ok.error().to_string().c_str());
      status = 1;
    }
  }
  return status;
}
