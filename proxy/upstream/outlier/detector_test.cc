#include "proxy/upstream/outlier/detector.h"

#include <gtest/gtest.h>

#include <vector>

#include "proxy/upstream/lb/balancer.h"

namespace weft::proxy::upstream::outlier {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const Clock::time_point kT0 = Clock::time_point(seconds(1000));

TEST(Classify, StatusesAndFailures) {
  using F = http::Failure;
  struct Case {
    unsigned status;
    F failure;
    std::optional<Result> expected;
  } cases[] = {
      {200, F::kNone, Result::kSuccess},
      {404, F::kNone, Result::kSuccess},
      {429, F::kNone, Result::kSuccess},
      {500, F::kNone, Result::kServerError},
      {501, F::kNone, Result::kServerError},
      {502, F::kNone, Result::kGatewayError},
      {503, F::kNone, Result::kGatewayError},
      {504, F::kNone, Result::kGatewayError},
      {0, F::kConnectFailure, Result::kLocalOriginFailure},
      {0, F::kConnectTimeout, Result::kLocalOriginFailure},
      {0, F::kReset, Result::kLocalOriginFailure},
      {0, F::kPerTryTimeout, Result::kLocalOriginFailure},
      {0, F::kUpstreamOverflow, std::nullopt},
      {0, F::kNoHealthyUpstream, std::nullopt},
      {0, F::kNone, std::nullopt},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(classify(c.status, c.failure), c.expected)
        << c.status << " " << http::reason(c.failure);
  }
}

struct StreakCase {
  const char* name;
  Policy policy;
  std::vector<Result> results;
  Reason last;  // what the last result reached
};

void PrintTo(const StreakCase& c, std::ostream* os) { *os << c.name; }

class Streak : public ::testing::TestWithParam<StreakCase> {};

TEST_P(Streak, ReachesItsThreshold) {
  Streaks streaks;
  Reason reason = Reason::kNone;
  for (auto result : GetParam().results) reason = advance(streaks, result, GetParam().policy);
  EXPECT_EQ(reason, GetParam().last);
}

constexpr auto kOk = Result::kSuccess;
constexpr auto k5xx = Result::kServerError;
constexpr auto kGw = Result::kGatewayError;
constexpr auto kLo = Result::kLocalOriginFailure;

Policy five_xx(std::uint32_t n) {
  Policy p;
  p.consecutive_5xx = n;
  return p;
}
Policy gateway(std::uint32_t n) {
  Policy p;
  p.consecutive_gateway_errors = n;
  return p;
}
Policy local(std::uint32_t n) {
  Policy p;
  p.consecutive_local_origin_failures = n;
  return p;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, Streak,
    ::testing::Values(
        StreakCase{"three_5xx", five_xx(3), {k5xx, k5xx, k5xx}, Reason::kConsecutive5xx},
        StreakCase{"gateway_errors_are_5xx", five_xx(3), {k5xx, kGw, kGw}, Reason::kConsecutive5xx},
        StreakCase{
            "a_success_starts_over", five_xx(3), {k5xx, k5xx, kOk, k5xx, k5xx}, Reason::kNone},
        StreakCase{"below_the_threshold", five_xx(3), {k5xx, k5xx}, Reason::kNone},
        StreakCase{"off_at_zero", Policy{}, {k5xx, k5xx, k5xx, k5xx, k5xx, k5xx}, Reason::kNone},
        StreakCase{"gateway", gateway(2), {kGw, kGw}, Reason::kConsecutiveGatewayErrors},
        StreakCase{"a_500_breaks_a_gateway_streak", gateway(2), {kGw, k5xx, kGw}, Reason::kNone},
        StreakCase{"local_origin", local(2), {kLo, kLo}, Reason::kConsecutiveLocalOriginFailures},
        StreakCase{"an_answer_breaks_a_local_streak", local(2), {kLo, k5xx, kLo}, Reason::kNone},
        StreakCase{"local_failures_are_not_5xx", five_xx(2), {kLo, kLo, kLo}, Reason::kNone}),
    [](const auto& test) { return std::string(test.param.name); });

TEST(MayEject, WithinTheShareAndAlwaysTheFirst) {
  struct Case {
    std::size_t ejected, total;
    std::uint32_t max_percent;
    bool allowed;
  } cases[] = {{0, 3, 10, true},  {1, 3, 10, false}, {1, 3, 100, true},
               {2, 3, 100, true}, {1, 10, 20, true}, {2, 10, 20, false},
               {0, 1, 0, true},   {4, 10, 50, true}, {5, 10, 50, false}};
  for (const auto& c : cases) {
    EXPECT_EQ(may_eject(c.ejected, c.total, c.max_percent), c.allowed)
        << c.ejected << " of " << c.total << " at " << c.max_percent << "%";
  }
}

TEST(EjectionTime, GrowsWithEachEjectionUpToTheMaximum) {
  Policy p;
  p.base_ejection_time = seconds(30);
  p.max_ejection_time = seconds(100);
  EXPECT_EQ(ejection_time(p, 1), seconds(30));
  EXPECT_EQ(ejection_time(p, 3), seconds(90));
  EXPECT_EQ(ejection_time(p, 4), seconds(100));
  p.max_ejection_time = seconds(10);  // under the base: the base
  EXPECT_EQ(ejection_time(p, 2), seconds(30));
}

TEST(RememberedEjections, OneForgottenPerIntervalServed) {
  Policy p;
  p.interval = seconds(10);
  EXPECT_EQ(remembered_ejections(3, seconds(0), p), 3u);
  EXPECT_EQ(remembered_ejections(3, seconds(9), p), 3u);
  EXPECT_EQ(remembered_ejections(3, seconds(25), p), 1u);
  EXPECT_EQ(remembered_ejections(3, seconds(3600), p), 0u);
}

// An endpoint fails five times in a row: out for 30 s, back after; failing
// again at once: out for 60 s; serving well for long: a later ejection is
// the first one's length again.
TEST(EndpointHealth, EjectsReturnsAndEjectsForLonger) {
  Policy p = five_xx(5);
  p.base_ejection_time = seconds(30);
  p.interval = seconds(10);
  EndpointHealth health;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(health.record(k5xx, p), Reason::kNone);
  EXPECT_EQ(health.record(k5xx, p), Reason::kConsecutive5xx);
  health.eject(p, kT0);
  EXPECT_TRUE(health.ejected(kT0 + seconds(29)));
  EXPECT_FALSE(health.ejected(kT0 + seconds(30)));
  const auto back = kT0 + seconds(30);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(health.record(k5xx, p), Reason::kNone) << "a new streak";
  EXPECT_EQ(health.record(k5xx, p), Reason::kConsecutive5xx);
  health.eject(p, back + seconds(1));
  EXPECT_EQ(health.ejections(), 2u);
  EXPECT_EQ(health.ejected_until(), back + seconds(61));
  const auto later = health.ejected_until() + seconds(600);
  health.eject(p, later);
  EXPECT_EQ(health.ejected_until(), later + seconds(30));
}

// The balancer leaves ejected endpoints out while others are left, and
// uses them all when every one is out.
TEST(EndpointHealth, TheBalancerSkipsEjectedEndpoints) {
  for (auto algorithm : {lb::Algorithm::kRoundRobin, lb::Algorithm::kRandom,
                         lb::Algorithm::kLeastRequest, lb::Algorithm::kPeakEwma}) {
    std::vector<EndpointHealth> health(3);
    std::vector<std::shared_ptr<lb::EndpointLoad>> loads;
    loads.reserve(3);
    for (int i = 0; i < 3; ++i) loads.push_back(std::make_shared<lb::EndpointLoad>());
    lb::Balancer balancer({algorithm, {}}, {1, 1, 1}, loads, 3,
                          {&health[0], &health[1], &health[2]});
    Policy p = five_xx(1);
    health[1].eject(p, kT0);
    std::vector<int> counts(3);
    for (int i = 0; i < 600; ++i) ++counts[balancer.pick(kT0 + seconds(1))];
    EXPECT_EQ(counts[1], 0) << static_cast<int>(algorithm);
    EXPECT_GT(counts[0], 200) << static_cast<int>(algorithm);
    EXPECT_GT(counts[2], 200) << static_cast<int>(algorithm);
    health[0].eject(p, kT0);
    health[2].eject(p, kT0);
    counts.assign(3, 0);
    for (int i = 0; i < 600; ++i) ++counts[balancer.pick(kT0 + seconds(1))];
    for (auto count : counts) EXPECT_GT(count, 100) << static_cast<int>(algorithm);
    // Back after the ejection time.
    counts.assign(3, 0);
    for (int i = 0; i < 600; ++i) ++counts[balancer.pick(kT0 + seconds(31))];
    for (auto count : counts) EXPECT_GT(count, 100) << static_cast<int>(algorithm);
  }
}

// Envoy's success-rate maths: endpoints below mean - factor x stdev, of
// those with the request volume, when enough of them have it.
TEST(SuccessRate, EjectsThoseFarBelowTheirPeers) {
  struct Case {
    const char* name;
    std::vector<RateSample> samples;
    Policy::SuccessRate policy;
    std::vector<std::size_t> outliers;
  };
  const Policy::SuccessRate five{.enabled = true};  // 5 hosts, 100 requests, 1.9
  const std::vector<Case> cases = {
      {"one of five failing",
       {{100, 100}, {100, 100}, {100, 100}, {100, 100}, {100, 0}},
       five,
       {4}},
      {"all alike", {{100, 99}, {100, 99}, {100, 99}, {100, 99}, {100, 99}}, five, {}},
      // Rates 1, .98, .97, .99, .80: mean .948, stdev ~.0765, floor ~.803.
      {"a mild outlier", {{100, 100}, {100, 98}, {100, 97}, {100, 99}, {100, 80}}, five, {4}},
      {"too few hosts with volume",
       {{100, 100}, {100, 100}, {100, 100}, {99, 99}, {100, 0}},
       five,
       {}},
      // Three hosts, one failing: mean .667, stdev .471; at 1.9 the floor is
      // below 0, at 1.0 it is .196.
      {"three at 1.9", {{10, 10}, {10, 10}, {10, 0}}, {true, 3, 10, 1.9}, {}},
      {"three at 1.0", {{10, 10}, {10, 10}, {10, 0}}, {true, 3, 10, 1.0}, {2}},
      {"worst first",
       {{50, 10}, {50, 50}, {50, 50}, {50, 50}, {50, 50}, {50, 50}, {50, 0}},
       {true, 5, 50, 1.0},
       {6, 0}},
      {"idle endpoints are not judged", {{0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}}, five, {}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(success_rate_outliers(c.samples, c.policy), c.outliers) << c.name;
  }
}

// One worker of all claims each sweep; the next is due an interval later.
TEST(SuccessRate, OneSweepPerInterval) {
  Sweep sweep;
  EXPECT_TRUE(sweep.claim(kT0, seconds(10)));
  EXPECT_FALSE(sweep.claim(kT0, seconds(10)));
  EXPECT_FALSE(sweep.claim(kT0 + seconds(9), seconds(10)));
  EXPECT_TRUE(sweep.claim(kT0 + seconds(10), seconds(10)));
  EXPECT_FALSE(sweep.claim(kT0 + seconds(10), seconds(10)));
}

// Answers are counted for the sweep only with success-rate ejection on,
// and a sweep starts the next interval from zero.
TEST(SuccessRate, EndpointsCountTheirAnswersPerInterval) {
  Policy p;
  p.success_rate.enabled = true;
  EndpointHealth health;
  health.record(Result::kSuccess, p);
  health.record(Result::kServerError, p);
  health.record(Result::kLocalOriginFailure, p);
  auto sample = health.take_rate();
  EXPECT_EQ(sample.requests, 3u);
  EXPECT_EQ(sample.successes, 1u);
  EXPECT_EQ(health.take_rate().requests, 0u);
  health.record(Result::kSuccess, five_xx(3));
  EXPECT_EQ(health.take_rate().requests, 0u) << "off";
}

}  // namespace
}  // namespace weft::proxy::upstream::outlier
