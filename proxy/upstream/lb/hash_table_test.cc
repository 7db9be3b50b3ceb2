#include "proxy/upstream/lb/hash_table.h"

#include <gtest/gtest.h>

#include <functional>
#include <numeric>
#include <string>
#include <vector>

namespace weft::proxy::upstream::lb {
namespace {

std::vector<std::string> names(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back("10.0." + std::to_string(i) + ".7:8080");
  return out;
}

using Make = std::function<std::shared_ptr<const HashTable>(const std::vector<std::string>&,
                                                            const std::vector<std::uint32_t>&)>;

struct Algorithm {
  const char* name;
  Make make;
};

const Algorithm kMaglev{"Maglev", [](const auto& n, const auto& w) { return make_maglev(n, w); }};
const Algorithm kRing{"RingHash", [](const auto& n, const auto& w) { return make_ring(n, w); }};

// The share of `keys` hashed keys each endpoint gets.
std::vector<double> shares(const HashTable& table, std::size_t endpoints, int keys) {
  std::vector<double> counts(endpoints);
  for (int k = 0; k < keys; ++k) counts[table.endpoint(stable_hash(std::to_string(k)))] += 1;
  for (auto& c : counts) c /= keys;
  return counts;
}

class Tables : public ::testing::TestWithParam<Algorithm> {};

// Keys spread in proportion to the weights: Maglev's slots within a slot
// or so, the ring's arcs within the variance of its 100 points a weight.
TEST_P(Tables, KeysFollowTheWeights) {
  const bool maglev = std::string(GetParam().name) == "Maglev";
  for (const auto& weights : std::vector<std::vector<std::uint32_t>>{{1, 1, 1, 1, 1}, {1, 2, 3}}) {
    auto table = GetParam().make(names(weights.size()), weights);
    const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
    const auto got = shares(*table, weights.size(), 60'000);
    for (std::size_t i = 0; i < weights.size(); ++i) {
      const double expected = weights[i] / total;
      EXPECT_NEAR(got[i], expected, expected * (maglev ? 0.05 : 0.25))
          << GetParam().name << " endpoint " << i << " of " << weights.size();
    }
  }
}

// One of ten endpoints leaves: its keys move, and hardly any other's. The
// ring moves none of the others' (each point stays where it was); Maglev
// a few (its permutations refill some slots of the endpoints left).
TEST_P(Tables, OneLeavingMovesLittleMoreThanItsShare) {
  const bool maglev = std::string(GetParam().name) == "Maglev";
  auto all = names(10);
  const std::vector<std::uint32_t> weights(10, 1);
  auto before = GetParam().make(all, weights);
  auto fewer = all;
  fewer.erase(fewer.begin() + 3);
  auto after = GetParam().make(fewer, std::vector<std::uint32_t>(9, 1));
  int others_moved = 0, keys = 50'000;
  for (int k = 0; k < keys; ++k) {
    const auto hash = stable_hash("key" + std::to_string(k));
    const auto was = before->endpoint(hash);
    if (was == 3) continue;
    const auto now = after->endpoint(hash);
    if (fewer[now] != all[was]) ++others_moved;
  }
  const double moved = static_cast<double>(others_moved) / keys;
  if (maglev) {
    EXPECT_LT(moved, 0.02) << "of keys not on the leaving endpoint";
  } else {
    EXPECT_EQ(others_moved, 0);
  }
}

TEST_P(Tables, EveryProxyBuildsTheSameTable) {
  auto a = GetParam().make(names(7), std::vector<std::uint32_t>(7, 1));
  auto b = GetParam().make(names(7), std::vector<std::uint32_t>(7, 1));
  for (int k = 0; k < 5'000; ++k) {
    const auto hash = stable_hash(std::to_string(k), 99);
    ASSERT_EQ(a->endpoint(hash), b->endpoint(hash));
  }
}

INSTANTIATE_TEST_SUITE_P(Algorithms, Tables, ::testing::Values(kMaglev, kRing),
                         [](const ::testing::TestParamInfo<Algorithm>& param) {
                           return std::string(param.param.name);
                         });

TEST(Tables, MemoryOfEachTable) {
  EXPECT_EQ(make_maglev(names(3), {1, 1, 1})->bytes(), kMaglevSize * sizeof(std::uint32_t));
  // 100 points an endpoint of the lightest weight, 16 bytes each.
  const auto ring = make_ring(names(1'000), std::vector<std::uint32_t>(1'000, 1));
  EXPECT_EQ(ring->bytes(), 100'000 * 16u);
  EXPECT_EQ(make_ring(names(2), {1, 3})->bytes(), 400 * 16u);
}

}  // namespace
}  // namespace weft::proxy::upstream::lb
