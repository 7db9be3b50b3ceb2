#include "proxy/upstream/lb/peak_ewma.h"

#include <gtest/gtest.h>

#include <cmath>

namespace weft::proxy::upstream::lb {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr double kMs = 1e6;  // nanoseconds
const Clock::time_point kT0 = Clock::time_point(seconds(1000));
const PeakEwmaSettings kSettings{seconds(10), milliseconds(30)};

struct Sample {
  milliseconds at;  // after kT0
  milliseconds rtt;
  bool failed = false;
};

struct Case {
  const char* name;
  std::vector<Sample> samples;
  milliseconds read_at;  // after kT0
  double estimate_ms;    // expected rtt_estimate then
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class PeakEwmaEstimate : public ::testing::TestWithParam<Case> {};

TEST_P(PeakEwmaEstimate, FollowsPeaksAtOnceAndDecaysSlowly) {
  EndpointLoad load;
  for (const auto& s : GetParam().samples) observe(load, s.rtt, s.failed, kT0 + s.at, kSettings);
  EXPECT_NEAR(rtt_estimate(load, kT0 + GetParam().read_at, kSettings) / kMs, GetParam().estimate_ms,
              0.01);
}

const double kDecay1s = std::exp(-0.1);  // the share an estimate keeps over 1 s

INSTANTIATE_TEST_SUITE_P(
    Cases, PeakEwmaEstimate,
    ::testing::Values(
        Case{"no_sample_is_the_default_rtt", {}, milliseconds(0), 30},
        Case{"first_sample_taken_whole", {{milliseconds(0), milliseconds(4)}}, milliseconds(0), 4},
        Case{"a_peak_is_taken_at_once",
             {{milliseconds(0), milliseconds(2)}, {milliseconds(10), milliseconds(50)}},
             milliseconds(10),
             50},
        Case{"a_lower_sample_moves_it_by_elapsed_time",
             {{milliseconds(0), milliseconds(10)}, {milliseconds(1000), milliseconds(2)}},
             milliseconds(1000),
             10 * kDecay1s + 2 * (1 - kDecay1s)},
        Case{"no_sample_decays_toward_zero",
             {{milliseconds(0), milliseconds(10)}},
             milliseconds(1000),
             10 * kDecay1s},
        Case{"a_failure_doubles_the_estimate",
             {{milliseconds(0), milliseconds(40)}, {milliseconds(0), milliseconds(1), true}},
             milliseconds(0),
             80},
        Case{"a_fast_failure_costs_at_least_twice_the_default",
             {{milliseconds(0), milliseconds(1), true}},
             milliseconds(0),
             60},
        Case{"a_slow_failure_costs_its_time",
             {{milliseconds(0), milliseconds(5)}, {milliseconds(0), milliseconds(900), true}},
             milliseconds(0),
             900}),
    [](const auto& test) { return std::string(test.param.name); });

// Short gaps take a series instead of exp(): the estimate must not tell.
TEST(PeakEwmaDecay, MatchesExpOverShortAndLongGaps) {
  for (auto gap : {milliseconds(1), milliseconds(40), milliseconds(499), milliseconds(500),
                   milliseconds(501), milliseconds(3000), milliseconds(60000)}) {
    EndpointLoad load;
    observe(load, milliseconds(100), false, kT0, kSettings);
    const double expected = 100 * std::exp(-std::chrono::duration<double>(gap).count() / 10);
    EXPECT_NEAR(rtt_estimate(load, kT0 + gap, kSettings) / kMs, expected, 1e-4) << gap.count();
  }
}

TEST(PeakEwmaCost, ScalesWithRequestsInFlightAndInverselyWithWeight) {
  EndpointLoad load;
  observe(load, milliseconds(10), false, kT0, kSettings);
  EXPECT_NEAR(cost(load, 1, kT0, kSettings) / kMs, 10, 1e-9);
  load.in_flight = 3;
  EXPECT_NEAR(cost(load, 1, kT0, kSettings) / kMs, 40, 1e-9);
  EXPECT_NEAR(cost(load, 4, kT0, kSettings) / kMs, 10, 1e-9);
}

}  // namespace
}  // namespace weft::proxy::upstream::lb
