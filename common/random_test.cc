#include "common/random.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>

namespace weft {
namespace {

// The first outputs of the reference SplitMix64 (splitmix64.c by Sebastiano
// Vigna) seeded with 1234567.
TEST(FastRandom, MatchesTheReferenceSequence) {
  FastRandom random(1234567);
  const std::array<std::uint64_t, 5> expected = {6457827717110365317ULL, 3203168211198807973ULL,
                                                 9817491932198370423ULL, 4593380528125082431ULL,
                                                 16408922859458223821ULL};
  for (auto value : expected) EXPECT_EQ(random(), value);
}

// Each of 16 buckets of the top 4 bits gets its share of 160,000 draws
// (a chi-square bound a uniform source fails with odds below 1e-6).
TEST(FastRandom, TopBitsAreUniform) {
  FastRandom random(42);
  std::array<int, 16> buckets{};
  constexpr int kDraws = 160000;
  for (int i = 0; i < kDraws; ++i) ++buckets[random() >> 60];
  double chi_square = 0;
  for (int count : buckets) {
    const double expected = kDraws / 16.0;
    chi_square += (count - expected) * (count - expected) / expected;
  }
  EXPECT_LT(chi_square, 50.0);  // 15 degrees of freedom
}

TEST(FastRandom, SeedsFromTheSystemDiffer) {
  FastRandom a, b;
  EXPECT_NE(a(), b());
}

}  // namespace
}  // namespace weft
