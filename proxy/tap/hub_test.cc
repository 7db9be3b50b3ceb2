#include "proxy/tap/hub.h"

#include <gtest/gtest.h>

namespace weft::proxy::tap {
namespace {

using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

TEST(TapHub, PublishesOnlyWhileWatchedAndHandsOutEachLineOnce) {
  Hub hub;
  const auto t0 = Clock::now();
  EXPECT_FALSE(hub.active(t0)) << "nobody asked";
  auto first = hub.take(std::nullopt, 10, t0);
  EXPECT_TRUE(first.lines.empty());
  EXPECT_TRUE(hub.active(t0 + seconds(4)));
  EXPECT_FALSE(hub.active(t0 + Hub::kWatchWindow)) << "the watcher went away";
  hub.publish("a");
  hub.publish("b");
  hub.publish("c");
  auto second = hub.take(first.next, 2, t0 + seconds(1));
  EXPECT_EQ(second.lines, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(second.missed, 0u);
  auto third = hub.take(second.next, 10, t0 + seconds(2));
  EXPECT_EQ(third.lines, (std::vector<std::string>{"c"}));
  auto fourth = hub.take(third.next, 10, t0 + seconds(3));
  EXPECT_TRUE(fourth.lines.empty());
  EXPECT_EQ(fourth.next, third.next);
  EXPECT_EQ(hub.published(), 3u);
}

TEST(TapHub, ASlowWatcherIsToldWhatItMissed) {
  Hub hub;
  auto start = hub.take(std::nullopt, 10, Clock::now());
  for (std::size_t i = 0; i < Hub::kCapacity + 5; ++i) hub.publish(std::to_string(i));
  auto taken = hub.take(start.next, 3, Clock::now());
  EXPECT_EQ(taken.missed, 5u);
  EXPECT_EQ(taken.lines, (std::vector<std::string>{"5", "6", "7"}));
  // A new watcher starts from now, whatever the ring holds.
  auto fresh = hub.take(std::nullopt, 10, Clock::now());
  EXPECT_TRUE(fresh.lines.empty());
  EXPECT_EQ(fresh.next, Hub::kCapacity + 5);
}

}  // namespace
}  // namespace weft::proxy::tap
