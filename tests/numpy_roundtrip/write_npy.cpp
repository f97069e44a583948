// Writes .npy files with forma::io::save_npy for check_npy.py to read back with NumPy.
#include <cstdio>
#include <string>

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
  check(forma::io::save_npy(dir + "/f4_scalar.npy", forma::Tensor<float, forma::extents<>>{}));
  check(forma::io::save_npy(dir + "/f4_empty.npy", forma::Matrix<float, forma::dyn, 5>(0)));
  check(forma::io::save_safetensors(dir + "/mixed.safetensors",
                                    {forma::io::named("m", m), forma::io::named("ints", ints),
                                     forma::io::named("halves", halves)},
                                    {{"format", "pt"}}));
  return 0;
}
