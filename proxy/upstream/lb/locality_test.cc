#include "proxy/upstream/lb/locality.h"

#include <gtest/gtest.h>

#include <map>

#include "proxy/upstream/lb/locality_balancer.h"

namespace weft::proxy::upstream::lb {
namespace {

using std::chrono::seconds;

const Clock::time_point kT0 = Clock::time_point(seconds(1000));

TEST(Locality, TierOfEndpointsAroundAProxy) {
  const Locality proxy{"eu-west", "eu-west-1a"};
  struct Case {
    Locality endpoint;
    Tier tier;
  };
  for (const auto& c : std::vector<Case>{
           {{"eu-west", "eu-west-1a"}, Tier::kZone},
           {{"", "eu-west-1a"}, Tier::kZone},  // a zone hint without a region
           {{"eu-west", "eu-west-1b"}, Tier::kRegion},
           {{"eu-west", ""}, Tier::kRegion},
           {{"us-east", "eu-west-1a"}, Tier::kOther},  // the same zone name elsewhere
           {{"us-east", "us-east-1a"}, Tier::kOther},
           {{"", ""}, Tier::kOther},  // unknown is not near
       }) {
    EXPECT_EQ(tier_of(proxy, c.endpoint), c.tier) << c.endpoint.region << "/" << c.endpoint.zone;
  }
  // A proxy that knows only its zone has no region tier.
  EXPECT_EQ(tier_of({"", "z1"}, {"r", "z1"}), Tier::kZone);
  EXPECT_EQ(tier_of({"", "z1"}, {"r", "z2"}), Tier::kOther);
}

// Envoy's priority load with an overprovisioning factor of 100 / threshold.
TEST(Locality, SharesSpillOverTierByTier) {
  struct Case {
    const char* name;
    std::array<TierCount, kTiers> counts;
    std::uint32_t threshold;
    TierShares shares;
  };
  for (const auto& c : std::vector<Case>{
           {"all healthy: the zone takes all", {{{3, 3}, {3, 3}, {3, 3}}}, 70, {10000, 0, 0}},
           {"at the threshold: still all", {{{7, 10}, {3, 3}, {0, 0}}}, 70, {10000, 0, 0}},
           // 2/3 healthy * 100/70 = 95.24%.
           {"one of three out", {{{2, 3}, {3, 3}, {3, 3}}}, 70, {9523, 477, 0}},
           {"one of three left", {{{1, 3}, {3, 3}, {3, 3}}}, 70, {4761, 5239, 0}},
           {"zone gone: the region", {{{0, 3}, {3, 3}, {3, 3}}}, 70, {0, 10000, 0}},
           {"zone and region thin: on to other", {{{1, 3}, {1, 3}, {3, 3}}}, 70, {4761, 4761, 478}},
           {"no region tier", {{{0, 2}, {0, 0}, {4, 4}}}, 70, {0, 0, 10000}},
           // Together they cannot take it all: each its part (1/3 and 1/6
           // scaled alike, 2:1).
           {"too few anywhere", {{{1, 3}, {0, 3}, {1, 6}}}, 100, {6668, 0, 3332}},
           {"threshold 100: any loss spills", {{{9, 10}, {5, 5}, {0, 0}}}, 100, {9000, 1000, 0}},
           {"none healthy", {{{0, 3}, {0, 3}, {0, 0}}}, 70, {0, 0, 0}},
       }) {
    EXPECT_EQ(tier_shares(c.counts, c.threshold), c.shares) << c.name;
  }
}

std::vector<std::shared_ptr<EndpointLoad>> fresh_loads(std::size_t n) {
  std::vector<std::shared_ptr<EndpointLoad>> loads;
  for (std::size_t i = 0; i < n; ++i) loads.push_back(std::make_shared<EndpointLoad>());
  return loads;
}

// A cluster of three endpoints in the proxy's zone (0-2), three in its
// region (3-5) and two elsewhere (6-7), with outlier detection's health.
struct TieredCluster {
  explicit TieredCluster(Algorithm algorithm = Algorithm::kRoundRobin,
                         std::uint32_t panic_threshold = 50)
      : health(8), loads(fresh_loads(8)) {
    const Policy policy{algorithm, {}, panic_threshold};
    Policy alone = policy;
    alone.panic_threshold = 0;
    const std::vector<std::vector<std::size_t>> members{{0, 1, 2}, {3, 4, 5}, {6, 7}};
    std::vector<LocalityBalancer::TierSet> tiers;
    std::uint64_t seed = 1;
    for (std::size_t t = 0; t < members.size(); ++t) {
      std::vector<std::shared_ptr<EndpointLoad>> tier_loads;
      std::vector<const outlier::EndpointHealth*> tier_health;
      for (auto i : members[t]) {
        tier_loads.push_back(loads[i]);
        tier_health.push_back(&health[i]);
      }
      tiers.push_back({static_cast<Tier>(t),
                       Balancer(alone, std::vector<std::uint32_t>(members[t].size(), 1),
                                std::move(tier_loads), ++seed, std::move(tier_health)),
                       members[t]});
    }
    std::vector<const outlier::EndpointHealth*> all;
    for (auto& h : health) all.push_back(&h);
    balancer.emplace(Balancer(policy, std::vector<std::uint32_t>(8, 1), loads, 99, all),
                     std::move(tiers), 70, 5);
  }
  // `tell`: as this worker's own ejection does; else as a health check's
  // verdict or another worker's ejection, seen at the next recount.
  void eject(std::size_t endpoint, Clock::time_point at, bool tell = true) {
    outlier::Policy ejecting;
    ejecting.consecutive_5xx = 1;
    health[endpoint].eject(ejecting, at);
    if (tell) balancer->recount_soon();
  }
  // Requests per tier ("" for the whole cluster) and per endpoint.
  std::map<std::string, int> by_tier(Clock::time_point at, int requests,
                                     std::vector<int>* endpoints = nullptr) {
    std::map<std::string, int> counts;
    for (int i = 0; i < requests; ++i) {
      auto choice = balancer->pick(at);
      ++counts[choice.tier ? std::string(tier_label(*choice.tier)) : ""];
      if (endpoints != nullptr) ++(*endpoints)[choice.endpoint];
    }
    return counts;
  }

  std::vector<outlier::EndpointHealth> health;
  std::vector<std::shared_ptr<EndpointLoad>> loads;
  std::optional<LocalityBalancer> balancer;
};

TEST(LocalityBalancer, KeepsRequestsInTheZoneWhileItIsHealthy) {
  TieredCluster cluster;
  std::vector<int> endpoints(8);
  EXPECT_EQ(cluster.by_tier(kT0, 900, &endpoints), (std::map<std::string, int>{{"zone", 900}}));
  EXPECT_EQ(endpoints, (std::vector<int>{300, 300, 300, 0, 0, 0, 0, 0})) << "round robin within";
}

// One zone endpoint out: 95% stays; two out: 48% stays, the rest goes to
// the region; all three out: the region takes all. They come back when the
// ejection ends.
TEST(LocalityBalancer, SpillsToTheRegionAsTheZoneFailsAndReturns) {
  TieredCluster cluster(Algorithm::kRandom);
  cluster.eject(0, kT0);
  auto counts = cluster.by_tier(kT0, 10000);
  EXPECT_NEAR(counts["zone"], 9523, 150);
  EXPECT_NEAR(counts["region"], 477, 150);
  EXPECT_EQ(counts["other"], 0);

  cluster.eject(1, kT0);
  counts = cluster.by_tier(kT0, 10000);
  EXPECT_NEAR(counts["zone"], 4761, 250);
  EXPECT_NEAR(counts["region"], 5239, 250);

  cluster.eject(2, kT0);
  std::vector<int> endpoints(8);
  counts = cluster.by_tier(kT0, 3000, &endpoints);
  EXPECT_EQ(counts["region"], 3000);
  EXPECT_EQ(endpoints[0] + endpoints[1] + endpoints[2], 0) << "ejected endpoints get none";

  // Past the 30 s ejection: back in the zone, within one recount.
  const auto later = kT0 + seconds(31);
  EXPECT_EQ(cluster.by_tier(later, 1000), (std::map<std::string, int>{{"zone", 1000}}));
}

// The whole zone going out between two recounts (health checks judge on
// the main thread, other workers eject): not one request goes to it.
TEST(LocalityBalancer, AZoneGoneSinceTheLastRecountGetsNothing) {
  TieredCluster cluster(Algorithm::kRandom);
  EXPECT_EQ(cluster.by_tier(kT0, 100), (std::map<std::string, int>{{"zone", 100}}));
  for (std::size_t e : {0, 1, 2}) cluster.eject(e, kT0, false);
  EXPECT_EQ(cluster.by_tier(kT0 + std::chrono::milliseconds(1), 100),
            (std::map<std::string, int>{{"region", 100}}));
}

// Below the cluster's panic threshold over all endpoints (5 of 8 out),
// every endpoint takes requests as without locality; a tier's own
// failures never panic it alone.
TEST(LocalityBalancer, PanicsOverTheWholeClusterOnly) {
  TieredCluster cluster(Algorithm::kRandom);
  for (std::size_t e : {0, 1, 2}) cluster.eject(e, kT0);
  std::vector<int> endpoints(8);
  cluster.by_tier(kT0, 2000, &endpoints);
  EXPECT_EQ(endpoints[0] + endpoints[1] + endpoints[2], 0) << "3 of 8 out: no panic";

  for (std::size_t e : {3, 4}) cluster.eject(e, kT0);
  endpoints.assign(8, 0);
  auto counts = cluster.by_tier(kT0, 4000, &endpoints);
  EXPECT_EQ(counts[""], 4000) << "panic: the whole cluster, not a tier";
  for (auto count : endpoints) EXPECT_GT(count, 300);
}

// With consistent hashing a key keeps its tier and its endpoint while the
// shares hold.
TEST(LocalityBalancer, HashedKeysStayPut) {
  TieredCluster cluster(Algorithm::kRandom);
  cluster.eject(0, kT0);  // 4.8% of keys spill to the region
  std::map<std::uint64_t, std::size_t> first;
  int spilled = 0;
  for (std::uint64_t key = 0; key < 2000; ++key) {
    const auto hash = key * 0x9E3779B97F4A7C15ull;
    const auto choice = cluster.balancer->pick(kT0, hash);
    spilled += choice.tier == Tier::kRegion ? 1 : 0;
    first[key] = static_cast<std::size_t>(*choice.tier);
  }
  EXPECT_NEAR(spilled, 95, 40);
  for (std::uint64_t key = 0; key < 2000; ++key) {
    const auto choice = cluster.balancer->pick(kT0, key * 0x9E3779B97F4A7C15ull);
    EXPECT_EQ(static_cast<std::size_t>(*choice.tier), first[key]) << key;
  }
}

TEST(LocalityBalancer, OneTierIsNoTiers) {
  Balancer all({Algorithm::kRoundRobin, {}}, {1, 1}, fresh_loads(2), 3);
  LocalityBalancer balancer(std::move(all), {}, 70, 4);
  EXPECT_FALSE(balancer.pick(kT0).tier);
}

}  // namespace
}  // namespace weft::proxy::upstream::lb
