// Writes .npy files with forma::io::save_npy for check_npy.py to read back with NumPy.
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <type_traits>

#include <forma/core.hpp>
#include <forma/io/npy.hpp>
#include <forma/io/safetensors.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: write_npy <directory>\n");
    return 2;
  }
  const std::string dir = argv[1];
  const auto check = [](forma::Result<void> r) {
    if (!r) {
      std::fprintf(stderr, "%s\n", r.error().to_string().c_str());
      std::exit(1);
    }
  };
  forma::Matrix<float, 3, 4> m;
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t j = 0; j < 4; ++j) m(i, j) = static_cast<float>(i * 4 + j) / 4.0f;
  }
  check(forma::io::save_npy(dir + "/f4_3x4.npy", m));
  check(forma::io::save_npy(dir + "/f4_4x3_transposed.npy", forma::transpose(m)));
  forma::Tensor<double, forma::extents<2, 2, 2>> cube;
  for (std::size_t i = 0; i < cube.size(); ++i) cube.data()[i] = -static_cast<double>(i);
  check(forma::io::save_npy(dir + "/f8_2x2x2.npy", cube));
  auto ints = forma::Vector<std::int64_t, 3>::from_values({-1, 0, 1LL << 40});
  check(forma::io::save_npy(dir + "/i8_3.npy", ints));
  auto flags = forma::Vector<bool, 2>::from_values({true, false});
  check(forma::io::save_npy(dir + "/b1_2.npy", flags));
  auto halves = forma::Vector<forma::f16, 2>::from_values({forma::f16(0.5f), forma::f16(-65504.0f)});
  check(forma::io::save_npy(dir + "/f2_2.npy", halves));
  // Every integer width at its limits: [min, -1 or 1, max].
  const auto limits = [&]<class T>(const char* code) {
    auto v = forma::Vector<T, 3>::from_values(
        {std::numeric_limits<T>::min(), static_cast<T>(std::is_signed_v<T> ? -1 : 1), std::numeric_limits<T>::max()});
    check(forma::io::save_npy(dir + "/" + code + "_limits.npy", v));
    return v;
  };
  const auto i1 = limits.operator()<std::int8_t>("i1");
  const auto i2 = limits.operator()<std::int16_t>("i2");
  const auto i4 = limits.operator()<std::int32_t>("i4");
  const auto i8 = limits.operator()<std::int64_t>("i8");
  const auto u1 = limits.operator()<std::uint8_t>("u1");
  const auto u2 = limits.operator()<std::uint16_t>("u2");
  const auto u4 = limits.operator()<std::uint32_t>("u4");
  const auto u8 = limits.operator()<std::uint64_t>("u8");
  check(forma::io::save_npy(dir + "/f4_scalar.npy", forma::Tensor<float, forma::extents<>>{}));
  check(forma::io::save_npy(dir + "/f4_empty.npy", forma::Matrix<float, forma::dyn, 5>(0)));
  check(forma::io::save_safetensors(dir + "/mixed.safetensors",
                                    {forma::io::named("m", m), forma::io::named("ints", ints),
                                     forma::io::named("halves", halves)},
                                    {{"format", "pt"}}));
  auto brains = forma::Vector<forma::bf16, 3>::from_values({forma::bf16(-1.5f), forma::bf16(0.0f), forma::bf16(0x1p100f)});
  auto doubles = forma::Vector<double, 2>::from_values({0.1, -1e300});
  auto floats = forma::Vector<float, 2>::from_values({0.1f, -3.0f});
  check(forma::io::save_safetensors(
      dir + "/all.safetensors",
      {forma::io::named("F64", doubles), forma::io::named("F32", floats), forma::io::named("F16", halves),
       forma::io::named("BF16", brains), forma::io::named("I64", i8), forma::io::named("I32", i4),
       forma::io::named("I16", i2), forma::io::named("I8", i1), forma::io::named("U64", u8),
       forma::io::named("U32", u4), forma::io::named("U16", u2), forma::io::named("U8", u1),
       forma::io::named("BOOL", flags), forma::io::named("scalar", forma::Tensor<float, forma::extents<>>{}),
       forma::io::named("empty", forma::Matrix<float, forma::dyn, 5>(0))}));
  return 0;
}
