#include "proxy/identity/renewal.h"

#include <gtest/gtest.h>

namespace weft::proxy::identity {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using Clock = std::chrono::system_clock;

TEST(RenewalTime, HalfTheLifePlusUpToATenth) {
  const auto start = Clock::from_time_t(1'800'000'000);
  struct Case {
    Clock::duration life;
    double jitter;
    Clock::duration after_start;
  };
  const Case cases[] = {
      {hours(24), 0.0, hours(12)},
      {hours(24), 0.5, hours(12) + minutes(72)},
      {hours(24), 1.0, hours(12) + minutes(144)},
      {hours(24), 7.0, hours(12) + minutes(144)},  // jitter is clamped
      {minutes(10), 0.0, minutes(5)},
      {Clock::duration::zero(), 0.5, Clock::duration::zero()},  // nothing to wait for
  };
  for (const auto& c : cases) {
    EXPECT_EQ(renewal_time(start, start + c.life, c.jitter) - start, c.after_start)
        << c.life.count() << " " << c.jitter;
  }
}

TEST(RetryDelay, DoublesFromOneSecondToAMinuteInItsUpperHalf) {
  struct Case {
    unsigned failures;
    double jitter;
    milliseconds delay;
  };
  const Case cases[] = {
      {1, 1.0, milliseconds(1'000)},    {1, 0.0, milliseconds(500)},
      {2, 1.0, milliseconds(2'000)},    {3, 1.0, milliseconds(4'000)},
      {7, 1.0, milliseconds(60'000)},   {7, 0.0, milliseconds(30'000)},
      {100, 1.0, milliseconds(60'000)},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(retry_delay(c.failures, c.jitter), c.delay) << c.failures << " " << c.jitter;
  }
}

}  // namespace
}  // namespace weft::proxy::identity
