// kernels/cpu/vexp.hpp: the vectorizable float exp against std::exp in double.
#include <doctest/doctest.h>

#include <cmath>
#include <bit>
#include <cstdint>
#include <limits>
#include <vector>

#include <forma/kernels/cpu/vexp.hpp>

TEST_CASE("exp_approx: within 2 ulp of exp over [-87, 88], exp_inplace the same values") {
  // Every 997th float bit pattern in [-87, 88], both signs, plus the range ends and 0.
  std::vector<float> xs = {0.0f, -0.0f, 1.0f, -1.0f, 88.0f, -87.0f, 1e-30f, -1e-30f};
  for (std::uint32_t bits = 0; bits < 0x42B00000u; bits += 997) {  // 0 .. 88.0
    const float x = std::bit_cast<float>(bits);
    xs.push_back(x);
    if (x <= 87.0f) xs.push_back(-x);
  }
  double worst_ulp = 0;
  float worst_at = 0;
  for (const float x : xs) {
    const double want = std::exp(static_cast<double>(x));
    const float got = forma::kernels::cpu::exp_approx(x);
    const double ulp = std::ldexp(1.0, std::ilogb(want) - 23);
    const double err = std::abs(static_cast<double>(got) - want) / ulp;
    if (err > worst_ulp) worst_ulp = err, worst_at = x;
  }
  MESSAGE("exp_approx over " << xs.size() << " inputs: worst " << worst_ulp << " ulp at " << worst_at);
  CHECK(worst_ulp < 2.0);
  // Below the clamp: tiny, finite, positive (not 0, not NaN); above 88: e^88.
  CHECK(forma::kernels::cpu::exp_approx(-1000.0f) > 0.0f);
  CHECK(forma::kernels::cpu::exp_approx(-1000.0f) < 1.2e-38f);
  CHECK(forma::kernels::cpu::exp_approx(1000.0f) == forma::kernels::cpu::exp_approx(88.0f));
  CHECK(std::isfinite(forma::kernels::cpu::exp_approx(88.0f)));
  std::vector<float> arr(xs);
  forma::kernels::cpu::exp_inplace(arr.data(), arr.size());
  for (std::size_t i = 0; i < xs.size(); ++i) {
    REQUIRE(arr[i] == forma::kernels::cpu::exp_approx(xs[i]));
  }
  std::vector<double> d{0.5, -3.0};
  forma::kernels::cpu::exp_inplace(d.data(), d.size());
  CHECK(d[0] == std::exp(0.5));
  CHECK(d[1] == std::exp(-3.0));
}
