#include "proxy/worker/connection_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace weft::proxy::worker {
namespace {

TEST(ConnectionBudget, RefusesPastItsCapAndTakesPlacesBack) {
  ConnectionBudget budget(2);
  EXPECT_TRUE(budget.open());
  EXPECT_TRUE(budget.open());
  EXPECT_FALSE(budget.open());
  EXPECT_EQ(budget.open_now(), 2U);  // a refusal takes nothing
  budget.close();
  EXPECT_TRUE(budget.open());
  EXPECT_FALSE(budget.open());
}

TEST(ConnectionBudget, WorkersTogetherNeverPassTheCap) {
  ConnectionBudget budget(1000);
  std::atomic<int> opened{0};
  std::vector<std::thread> workers;
  workers.reserve(4);
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (budget.open()) opened.fetch_add(1);
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(opened.load(), 1000);
  EXPECT_EQ(budget.open_now(), 1000U);
}

TEST(ConnectionBudget, DefaultIsHalfTheDescriptorsLeftAfterAReserve) {
  struct Case {
    std::uint64_t descriptors, cap;
  };
  for (const auto& c : {Case{1024, 480}, Case{1'048'576, 524'256}, Case{65, 1}, Case{0, 1}}) {
    EXPECT_EQ(default_max_connections(c.descriptors), c.cap) << c.descriptors;
  }
}

}  // namespace
}  // namespace weft::proxy::worker
