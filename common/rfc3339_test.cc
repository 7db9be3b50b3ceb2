#include "common/rfc3339.h"

#include <gtest/gtest.h>

namespace weft {
namespace {

TEST(Rfc3339, FormatsAndReadsBack) {
  auto t = SystemClock::from_time_t(1798797600) + std::chrono::microseconds(123456);
  EXPECT_EQ(rfc3339(t), "2027-01-01T10:00:00Z");
  EXPECT_EQ(rfc3339_micro(t), "2027-01-01T10:00:00.123456Z");
  EXPECT_EQ(parse_rfc3339("2027-01-01T10:00:00Z"), SystemClock::from_time_t(1798797600));
  EXPECT_EQ(parse_rfc3339(rfc3339_micro(t)), SystemClock::from_time_t(1798797600));
  EXPECT_EQ(parse_rfc3339("yesterday"), SystemClock::time_point{});
}

}  // namespace
}  // namespace weft
