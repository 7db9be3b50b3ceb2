#include "common/duration.h"

#include <gtest/gtest.h>

namespace weft {
namespace {

using std::chrono::nanoseconds;

struct Case {
  std::string_view text;
  std::optional<std::int64_t> nanos;
};

class ParseDuration : public testing::TestWithParam<Case> {};

TEST_P(ParseDuration, GivesNanoseconds) {
  auto parsed = parse_duration(GetParam().text);
  if (!GetParam().nanos) {
    EXPECT_FALSE(parsed) << GetParam().text << " parsed as " << parsed->count();
    return;
  }
  ASSERT_TRUE(parsed) << GetParam().text;
  EXPECT_EQ(parsed->count(), *GetParam().nanos) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseDuration,
    testing::Values(Case{"0s", 0}, Case{"1s", 1'000'000'000}, Case{"1.5s", 1'500'000'000},
                    Case{".5s", 500'000'000}, Case{"0.000000001s", 1},
                    Case{"0.0000000009s", 0},  // below a nanosecond truncates
                    Case{"250ms", 250'000'000}, Case{"1.5ms", 1'500'000}, Case{"10us", 10'000},
                    Case{"7ns", 7}, Case{"2m", 120'000'000'000}, Case{"1h30m", 5'400'000'000'000},
                    Case{"1m30s", 90'000'000'000}, Case{"1h1m1s1ms", 3'661'001'000'000},
                    Case{"300s", 300'000'000'000},
                    // rejected
                    Case{"", std::nullopt}, Case{"1", std::nullopt}, Case{"s", std::nullopt},
                    Case{".s", std::nullopt}, Case{"-1s", std::nullopt}, Case{"1 s", std::nullopt},
                    Case{" 1s", std::nullopt}, Case{"1sec", std::nullopt}, Case{"1d", std::nullopt},
                    Case{"soon", std::nullopt}, Case{"1s2", std::nullopt},
                    Case{"1.2.3s", std::nullopt},
                    Case{"9999999999999999999s", std::nullopt},  // overflows int64 ns
                    Case{"5000000h", std::nullopt}, Case{"292y", std::nullopt}));

}  // namespace
}  // namespace weft
