#include "common/spelling.h"

#include <gtest/gtest.h>

namespace weft::spelling {
namespace {

TEST(Spelling, EditDistanceCountsInsertionsDeletionsAndSubstitutions) {
  struct Case {
    const char *a, *b;
    std::size_t distance;
  };
  for (const auto& c : std::vector<Case>{{"", "", 0},
                                         {"name", "name", 0},
                                         {"nmae", "name", 2},
                                         {"weigth", "weight", 2},
                                         {"client", "client-0", 2},
                                         {"", "abc", 3}}) {
    EXPECT_EQ(edit_distance(c.a, c.b), c.distance) << c.a << " / " << c.b;
  }
}

TEST(Spelling, ClosestWithinTheLimitOrNone) {
  std::vector<std::string> pods{"client-0", "reviews-v1-0", "reviews-v2-0"};
  EXPECT_EQ(closest("reviews-v1", pods, 3), "reviews-v1-0");
  EXPECT_EQ(closest("client", pods, 3), "client-0");
  EXPECT_EQ(closest("reviews-v3-0", pods, 3), "reviews-v1-0") << "ties: the first";
  EXPECT_EQ(closest("payments", pods, 3), std::nullopt);
  EXPECT_EQ(closest("x", {}, 3), std::nullopt);
}

}  // namespace
}  // namespace weft::spelling
