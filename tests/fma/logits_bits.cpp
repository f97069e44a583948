// tests/fma — forma's run.c arithmetic (ordered_sum) where the compiler may use fused multiply-add
// instructions: -mfma, which -march=native turns on for every current x86-64 CPU. The program is
// built twice, without and with -mfma (forma's builds pass -ffp-contract=off: the same source must
// round the same way either way), and the two builds must print the same bits.
//
//   logits_bits <stories260K.bin>   for 160 greedy positions from BOS: the token and a hash of the
//                                   logits' bits, by decoding token by token and by one prefill
//   logits_bits --rope              rope_row, both layouts, against run.c's formula with every
//                                   float operation rounded on its own (computed in double: one
//                                   rounding to float after each exact or double-rounded step,
//                                   which is innocuous for +, −, ×, ÷ since 53 ≥ 2·24 + 2)
// Exit status 77 (skipped) when built for FMA on a CPU without it, 1 on a mismatch.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include <forma/io/llama2c.hpp>
#include <forma/kernels/cpu/rope.hpp>
#include <forma/models/llama.hpp>
#include <forma/models/presets.hpp>
#include <forma/text/sampler.hpp>

namespace {

std::uint64_t bits_hash(const float* values, std::size_t count) {
  std::uint64_t hash = 1469598103934665603ull;  // FNV-1a over the float bit patterns
  for (std::size_t i = 0; i < count; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, &values[i], sizeof bits);
    hash = (hash ^ bits) * 1099511628211ull;
  }
  return hash;
}

// One float operation, rounded once (see the header). The volatile store keeps the compiler from
// seeing through the roundings: it would otherwise recognise float arithmetic here and vectorize
// the reference into the very fused instructions under test.
float rounded(double value) {
  volatile float result = static_cast<float>(value);
  return result;
}
float mul(float a, float b) { return rounded(static_cast<double>(a) * static_cast<double>(b)); }
float sub(float a, float b) { return rounded(static_cast<double>(a) - static_cast<double>(b)); }
float add(float a, float b) { return rounded(static_cast<double>(a) + static_cast<double>(b)); }
float div(float a, float b) { return rounded(static_cast<double>(a) / static_cast<double>(b)); }

template <forma::kernels::cpu::rope_layout Layout>
int check_rope(std::size_t heads, std::size_t head_dim, std::size_t position) {
  std::vector<float> x(heads * head_dim), expected(heads * head_dim);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = expected[i] = std::sin(0.37f * static_cast<float>(i + 1)) * 3.0f;
  forma::kernels::cpu::rope_row<Layout>(x.data(), heads, head_dim, position, 10000.0f);
  const std::size_t pairs = head_dim / 2;
  for (std::size_t i = 0; i < pairs; ++i) {
    const float frequency = div(1.0f, std::pow(10000.0f, div(static_cast<float>(2 * i), static_cast<float>(head_dim))));
    const float angle = mul(static_cast<float>(position), frequency);
    const float c = std::cos(angle), s = std::sin(angle);
    for (std::size_t h = 0; h < heads; ++h) {
      float* head = expected.data() + h * head_dim;
      float& a = Layout == forma::kernels::cpu::rope_layout::interleaved ? head[2 * i] : head[i];
      float& b = Layout == forma::kernels::cpu::rope_layout::interleaved ? head[2 * i + 1] : head[i + pairs];
      const float a0 = a, b0 = b;
      a = sub(mul(a0, c), mul(b0, s));
      b = add(mul(a0, s), mul(b0, c));
    }
  }
  if (std::memcmp(x.data(), expected.data(), x.size() * sizeof(float)) != 0) {
    std::printf("rope_row (%s, %zu heads of %zu) differs from run.c's rounding at position %zu\n",
                Layout == forma::kernels::cpu::rope_layout::interleaved ? "interleaved" : "half", heads,
                head_dim, position);
    return 1;
  }
  return 0;
}

int rope() {
  int failures = 0;
  for (const std::size_t position : {1u, 2u, 7u, 100u, 511u, 4000u}) {
    for (const std::size_t head_dim : {8u, 12u, 64u, 128u}) {
      for (const std::size_t heads : {1u, 4u, 8u}) {
        failures += check_rope<forma::kernels::cpu::rope_layout::interleaved>(heads, head_dim, position);
        failures += check_rope<forma::kernels::cpu::rope_layout::half>(heads, head_dim, position);
      }
    }
  }
  std::printf("%d rope mismatches\n", failures);
  return failures == 0 ? 0 : 1;
}

// The static instantiation (the checkpoint's shape in the type) and the dynamic one (any_llama,
// as forma-run runs an unknown checkpoint) compile different loops: both are printed.
template <forma::LlamaConfig C>
int logits(const char* checkpoint_path, const char* name) {
  auto checkpoint = forma::io::llama2c::load<C>(checkpoint_path);
  if (!checkpoint) {
    std::printf("%s\n", checkpoint.error().to_string().c_str());
    return 1;
  }
  constexpr std::size_t positions = 160;
  forma::Llama<C, 32, forma::ordered_sum_t> model(checkpoint->weights());
  const std::size_t vocab = model.vocab_size();
  std::vector<std::int32_t> tokens{1};
  for (std::size_t pos = 0; pos < positions; ++pos) {
    auto step = model.forward(tokens.back(), pos);
    if (!step) return 1;
    const std::int32_t next = forma::text::Sampler::argmax(std::span<const float>(step->data(), vocab));
    std::printf("%s decode %zu %d %016llx\n", name, pos, next,
                static_cast<unsigned long long>(bits_hash(step->data(), vocab)));
    tokens.push_back(next);
  }
  std::vector<float> all(positions * vocab);
  using rows_view = forma::TensorView<float, forma::extents<forma::dyn, C.vocab>>;
  const rows_view rows = [&] {
    if constexpr (C.vocab == forma::dyn) {
      return rows_view(all.data(), positions, vocab);
    } else {
      return rows_view(all.data(), positions);
    }
  }();
  if (!model.prefill(std::span<const std::int32_t>(tokens).first(positions), 0, rows)) return 1;
  for (std::size_t pos = 0; pos < positions; ++pos) {
    std::printf("%s prefill %zu %016llx\n", name, pos,
                static_cast<unsigned long long>(bits_hash(all.data() + pos * vocab, vocab)));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
#if defined(__FMA__) && (defined(__GNUC__) || defined(__clang__))
  if (!__builtin_cpu_supports("fma")) {
    std::printf("skipped: this CPU has no FMA instructions\n");
    return 77;
  }
#endif
  if (argc == 2 && std::string_view(argv[1]) == "--rope") return rope();
  if (argc == 2) {
    const int failed_static = logits<forma::presets::stories260k>(argv[1], "static");
    return failed_static != 0 ? failed_static : logits<forma::presets::any_llama>(argv[1], "dynamic");
  }
  std::fprintf(stderr, "usage: logits_bits <stories260K.bin> | --rope\n");
  return 2;
}
