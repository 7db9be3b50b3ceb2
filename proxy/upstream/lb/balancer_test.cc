#include "proxy/upstream/lb/balancer.h"

#include <gtest/gtest.h>

#include <numeric>

namespace weft::proxy::upstream::lb {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const Clock::time_point kT0 = Clock::time_point(seconds(1000));

std::vector<std::shared_ptr<EndpointLoad>> fresh_loads(std::size_t n) {
  std::vector<std::shared_ptr<EndpointLoad>> loads;
  for (std::size_t i = 0; i < n; ++i) loads.push_back(std::make_shared<EndpointLoad>());
  return loads;
}

Balancer balancer(Algorithm algorithm, std::vector<std::uint32_t> weights,
                  std::uint64_t seed = 42) {
  const auto n = weights.size();
  return Balancer({algorithm, {}}, std::move(weights), fresh_loads(n), seed);
}

// Pearson's chi-square statistic of `counts` against shares in proportion
// to `weights`.
double chi_square(const std::vector<std::uint64_t>& counts,
                  const std::vector<std::uint32_t>& weights) {
  const double total = std::accumulate(counts.begin(), counts.end(), 0.0);
  const double weight_sum = std::accumulate(weights.begin(), weights.end(), 0.0);
  double chi = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const double expected = total * weights[i] / weight_sum;
    const auto observed = static_cast<double>(counts[i]);
    chi += (observed - expected) * (observed - expected) / expected;
  }
  return chi;
}

// The chi-square value a correct balancer exceeds once in a thousand runs,
// by degrees of freedom (endpoints - 1).
double critical_0_001(std::size_t degrees) {
  static const double kTable[] = {0, 10.83, 13.82, 16.27, 18.47, 20.52};
  return kTable[degrees];
}

struct WeightCase {
  const char* name;
  Algorithm algorithm;
  std::vector<std::uint32_t> weights;
};

void PrintTo(const WeightCase& c, std::ostream* os) { *os << c.name; }

class IdleShares : public ::testing::TestWithParam<WeightCase> {};

// Without load (every request ends before the next), every algorithm sends
// each endpoint its share of the weights.
TEST_P(IdleShares, FollowTheWeights) {
  const auto& param = GetParam();
  auto b = balancer(param.algorithm, param.weights);
  std::vector<std::uint64_t> counts(param.weights.size());
  for (int i = 0; i < 30'000; ++i) ++counts[b.pick(kT0)];
  EXPECT_LT(chi_square(counts, param.weights), critical_0_001(param.weights.size() - 1));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, IdleShares,
    ::testing::Values(WeightCase{"round_robin_equal", Algorithm::kRoundRobin, {1, 1, 1}},
                      WeightCase{"round_robin_5_1_1", Algorithm::kRoundRobin, {5, 1, 1}},
                      WeightCase{"random_equal", Algorithm::kRandom, {1, 1, 1, 1}},
                      WeightCase{"random_1_2_3_4", Algorithm::kRandom, {1, 2, 3, 4}},
                      WeightCase{"random_3_1", Algorithm::kRandom, {3, 1}},
                      WeightCase{"least_request_equal", Algorithm::kLeastRequest, {1, 1, 1}},
                      WeightCase{"least_request_5_1_1", Algorithm::kLeastRequest, {5, 1, 1}},
                      WeightCase{"least_request_3_1", Algorithm::kLeastRequest, {3, 1}}),
    [](const auto& test) { return std::string(test.param.name); });

TEST(LeastRequest, AvoidsTheEndpointWithRequestsInFlight) {
  auto b = balancer(Algorithm::kLeastRequest, {1, 1, 1});
  std::vector<Lease> busy;
  busy.reserve(5);
  for (int i = 0; i < 5; ++i) busy.push_back(b.lease_at(1, kT0));
  std::vector<int> counts(3);
  for (int i = 0; i < 3'000; ++i) ++counts[b.pick(kT0)];
  // Endpoint 1 loses every pair it is drawn into.
  EXPECT_EQ(counts[1], 0);
  EXPECT_GT(counts[0], 1'300);
  EXPECT_GT(counts[2], 1'300);
  busy.clear();
  EXPECT_EQ(b.load(1).in_flight, 0u);
}

TEST(LeastRequest, KeepsRequestsInFlightInProportionToWeight) {
  // Requests that never end: each pick adds one in flight.
  auto b = balancer(Algorithm::kLeastRequest, {3, 1});
  std::vector<Lease> held;
  held.reserve(400);
  for (int i = 0; i < 400; ++i) held.push_back(b.lease_at(b.pick(kT0), kT0));
  EXPECT_NEAR(b.load(0).in_flight, 300, 3);
  EXPECT_NEAR(b.load(1).in_flight, 100, 3);
}

// One simulated request a millisecond; each endpoint answers after its
// latency, failing when `failing`. Returns each endpoint's share of picks.
std::vector<double> simulate(Balancer& b, const std::vector<milliseconds>& latency,
                             const std::vector<bool>& failing, int requests) {
  std::vector<double> shares(latency.size());
  auto now = kT0;
  for (int i = 0; i < requests; ++i) {
    now += milliseconds(1);
    const auto e = b.pick(now);
    auto lease = b.lease_at(e, now);
    lease.answered(failing[e], now + latency[e]);
    shares[e] += 1.0 / requests;
  }
  return shares;
}

TEST(PeakEwma, SteersAwayFromASlowEndpoint) {
  auto b = balancer(Algorithm::kPeakEwma, {1, 1, 1});
  const auto shares = simulate(b, {milliseconds(1), milliseconds(50), milliseconds(1)},
                               {false, false, false}, 20'000);
  EXPECT_LT(shares[1], 0.01);
  EXPECT_GT(shares[0], 0.4);
  EXPECT_GT(shares[2], 0.4);
}

TEST(PeakEwma, SteersAwayFromAnEndpointThatFailsFast) {
  auto b = balancer(Algorithm::kPeakEwma, {1, 1, 1});
  const auto shares = simulate(b, {milliseconds(2), milliseconds(2), milliseconds(0)},
                               {false, false, true}, 20'000);
  EXPECT_LT(shares[2], 0.01);
}

TEST(PeakEwma, WeighsRequestsInFlight) {
  // Equal latencies: the endpoint holding requests loses its pairs.
  auto b = balancer(Algorithm::kPeakEwma, {1, 1});
  for (auto e : {0, 1}) b.lease_at(e, kT0).answered(false, kT0 + milliseconds(5));
  auto busy = b.lease_at(0, kT0);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(b.pick(kT0), 1u);
}

TEST(PeakEwma, TriesAnEndpointAgainOnceItsEstimateDecays) {
  auto b = balancer(Algorithm::kPeakEwma, {1, 1});
  b.lease_at(0, kT0).answered(false, kT0 + milliseconds(2));
  b.lease_at(1, kT0).answered(false, kT0 + milliseconds(200));
  EXPECT_EQ(b.pick(kT0 + seconds(1)), 0u);
  // Endpoint 0 keeps answering in 2 ms; endpoint 1's 200 ms peak fades
  // (a hundredth of it is left after 46 s) until it is the cheaper one.
  auto now = kT0 + seconds(1);
  bool retried = false;
  for (int i = 0; i < 600 && !retried; ++i) {
    now += milliseconds(100);
    const auto e = b.pick(now);
    retried = e == 1;
    b.lease_at(e, now).answered(false, now + milliseconds(2));
  }
  EXPECT_TRUE(retried);
}

TEST(SlowStart, ShareRampsFromTenPercentOverTheWindow) {
  const auto window = seconds(10);
  EXPECT_DOUBLE_EQ(slow_start_share(kT0, kT0, window), 0.1);
  EXPECT_DOUBLE_EQ(slow_start_share(kT0, kT0 + seconds(5), window), 0.55);
  EXPECT_DOUBLE_EQ(slow_start_share(kT0, kT0 + seconds(10), window), 1.0);
  EXPECT_DOUBLE_EQ(slow_start_share(kT0, kT0 + seconds(5), Clock::duration::zero()), 1.0);
}

TEST(SlowStart, AJoiningEndpointGetsLittleTrafficThenItsShare) {
  auto loads = fresh_loads(3);
  loads[2]->joined = kT0;
  Balancer b({Algorithm::kRandom, seconds(10)}, {1, 1, 1}, loads, 7);
  auto share_at = [&](Clock::time_point now) {
    int joined = 0;
    for (int i = 0; i < 30'000; ++i) joined += b.pick(now) == 2 ? 1 : 0;
    return joined / 30'000.0;
  };
  EXPECT_LT(share_at(kT0 + seconds(1)), 0.12);
  const auto middle = share_at(kT0 + seconds(6));
  EXPECT_GT(middle, 0.15);
  EXPECT_LT(middle, 0.32);
  EXPECT_NEAR(share_at(kT0 + seconds(11)), 1.0 / 3, 0.015);
}

TEST(Lease, CountsInFlightUntilItEnds) {
  auto b = balancer(Algorithm::kRoundRobin, {1});
  {
    auto a = b.lease_at(0, kT0);
    auto moved = std::move(a);
    EXPECT_EQ(b.load(0).in_flight, 1u);
    Lease assigned;
    assigned = std::move(moved);
    EXPECT_EQ(b.load(0).in_flight, 1u);
  }
  EXPECT_EQ(b.load(0).in_flight, 0u);
}

}  // namespace
}  // namespace weft::proxy::upstream::lb

namespace weft::proxy::upstream::lb {
namespace {

TEST(Panic, BelowTheThresholdShareOfHealthyEndpoints) {
  struct Case {
    std::size_t healthy, total;
    std::uint32_t threshold;
    bool panic;
  };
  for (const auto& c : std::vector<Case>{{2, 4, 50, false},
                                         {1, 4, 50, true},
                                         {0, 4, 50, true},
                                         {1, 3, 50, true},
                                         {2, 3, 50, false},
                                         {0, 4, 0, false},
                                         {99, 100, 100, true},
                                         {100, 100, 100, false},
                                         {0, 0, 50, false}}) {
    EXPECT_EQ(in_panic(c.healthy, c.total, c.threshold), c.panic)
        << c.healthy << " of " << c.total << " at " << c.threshold << "%";
  }
}

// Under the threshold every endpoint takes requests, ejected or not; at 0
// the healthy few take them all. The count follows ejections within a
// recount.
TEST(Panic, SpreadsOverAllEndpointsBelowTheThreshold) {
  outlier::Policy ejecting;
  ejecting.consecutive_5xx = 1;
  for (std::uint32_t threshold : {50u, 0u}) {
    std::vector<outlier::EndpointHealth> health(4);
    Balancer b({Algorithm::kPeakEwma, {}, threshold}, {1, 1, 1, 1}, fresh_loads(4), 7,
               {&health[0], &health[1], &health[2], &health[3]});
    health[0].eject(ejecting, kT0);
    auto at = kT0 + seconds(1);
    EXPECT_EQ(b.availability(at).healthy, 3u);
    EXPECT_FALSE(b.availability(at).panic);
    std::vector<int> counts(4);
    for (int i = 0; i < 800; ++i) ++counts[b.pick(at)];
    EXPECT_EQ(counts[0], 0) << "one of four out is no panic";

    health[1].eject(ejecting, kT0);
    health[2].eject(ejecting, kT0);
    EXPECT_EQ(b.availability(at).healthy, 3u) << "counted again only after kRecount";
    at += Balancer::kRecount;
    EXPECT_EQ(b.availability(at).healthy, 1u);
    EXPECT_EQ(b.availability(at).panic, threshold != 0);
    counts.assign(4, 0);
    for (int i = 0; i < 800; ++i) ++counts[b.pick(at)];
    if (threshold != 0) {
      for (auto count : counts) EXPECT_GT(count, 100) << "threshold " << threshold;
    } else {
      EXPECT_EQ(counts[3], 800) << "threshold 0: the one healthy endpoint";
    }
    // Back after the ejection time: no panic.
    at = kT0 + seconds(31);
    EXPECT_EQ(b.availability(at).healthy, 4u);
    EXPECT_FALSE(b.availability(at).panic);
  }
}

}  // namespace
}  // namespace weft::proxy::upstream::lb

namespace weft::proxy::upstream::lb {
namespace {

// A key reaches the same endpoint every time; ejecting one endpoint moves
// its keys (the same way for each request of a key) and no other's; a
// request without a key goes anywhere.
TEST(ConsistentHash, KeysStayAndOnlyAnEjectedEndpointsKeysMove) {
  std::vector<std::string> names;
  names.reserve(5);
  for (int i = 0; i < 5; ++i) names.push_back("10.1.0." + std::to_string(i) + ":80");
  const std::vector<std::uint32_t> weights(5, 1);
  outlier::Policy ejecting;
  ejecting.consecutive_5xx = 1;
  for (auto algorithm : {Algorithm::kRingHash, Algorithm::kMaglev}) {
    auto table =
        algorithm == Algorithm::kMaglev ? make_maglev(names, weights) : make_ring(names, weights);
    std::vector<outlier::EndpointHealth> health(5);
    Balancer b({algorithm, {}}, weights, fresh_loads(5), 11,
               {&health[0], &health[1], &health[2], &health[3], &health[4]}, table);
    std::vector<std::size_t> before;
    for (int k = 0; k < 1'000; ++k) {
      const auto hash = stable_hash("user" + std::to_string(k));
      before.push_back(b.pick(kT0, hash));
      ASSERT_EQ(b.pick(kT0, hash), before.back());
      ASSERT_EQ(before.back(), table->endpoint(hash));
    }
    health[2].eject(ejecting, kT0);
    const auto at = kT0 + seconds(1);
    for (int k = 0; k < 1'000; ++k) {
      const auto hash = stable_hash("user" + std::to_string(k));
      const auto now = b.pick(at, hash);
      if (before[k] == 2) {
        EXPECT_NE(now, 2u) << k;
        EXPECT_EQ(b.pick(at, hash), now) << "a moved key moves the same way each time";
      } else {
        EXPECT_EQ(now, before[k]) << k;
      }
    }
    std::vector<int> counts(5);
    for (int i = 0; i < 1'000; ++i) ++counts[b.pick(kT0 + seconds(31))];
    for (auto count : counts) EXPECT_GT(count, 100) << "no key: random (ejection over)";
  }
}

}  // namespace
}  // namespace weft::proxy::upstream::lb
