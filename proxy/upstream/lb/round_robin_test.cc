#include "proxy/upstream/lb/round_robin.h"

#include <gtest/gtest.h>

namespace weft::proxy::upstream::lb {
namespace {

struct Case {
  const char* name;
  std::vector<std::uint32_t> weights;
  std::vector<std::size_t> first_picks;
};

// Test names, not bytes, in gtest's output.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class RoundRobinPicks : public ::testing::TestWithParam<Case> {};

TEST_P(RoundRobinPicks, InterleavedInProportion) {
  RoundRobin rr(GetParam().weights);
  std::vector<std::size_t> picks;
  for (std::size_t i = 0; i < GetParam().first_picks.size(); ++i) picks.push_back(rr.next());
  EXPECT_EQ(picks, GetParam().first_picks);

  // Over many full cycles every endpoint gets exactly its share.
  std::uint64_t total = 0;
  for (auto w : GetParam().weights) total += w;
  std::vector<std::uint64_t> counts(GetParam().weights.size());
  RoundRobin fresh(GetParam().weights);
  for (std::uint64_t i = 0; i < total * 50; ++i) ++counts[fresh.next()];
  for (std::size_t i = 0; i < counts.size(); ++i) EXPECT_EQ(counts[i], GetParam().weights[i] * 50);
}

INSTANTIATE_TEST_SUITE_P(Cases, RoundRobinPicks,
                         ::testing::Values(Case{"single", {1}, {0, 0, 0}},
                                           Case{"equal", {1, 1, 1}, {0, 1, 2, 0, 1, 2}},
                                           Case{"smooth_5_1_1", {5, 1, 1}, {0, 0, 1, 0, 2, 0, 0}},
                                           Case{"three_to_one", {3, 1}, {0, 0, 1, 0, 0, 0, 1, 0}}),
                         [](const auto& test) { return std::string(test.param.name); });

}  // namespace
}  // namespace weft::proxy::upstream::lb
