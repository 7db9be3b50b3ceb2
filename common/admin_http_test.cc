#include "common/admin_http.h"

#include <gtest/gtest.h>

namespace weft::admin {
namespace {

TEST(QueryValue, FindsTheNamedParameterOnly) {
  EXPECT_EQ(query_value("level=debug", "level"), "debug");
  EXPECT_EQ(query_value("a=1&proxy=default/client-0", "proxy"), "default/client-0");
  EXPECT_EQ(query_value("xlevel=trace&level=info", "level"), "info");
  EXPECT_EQ(query_value("level", "level"), "");
  EXPECT_EQ(query_value("", "level"), "");
  EXPECT_EQ(query_value("level=&a=1", "level"), "");
}

TEST(QueryValue, DecodesPercentEscapesAndKeepsBadOnes) {
  EXPECT_EQ(query_value("path=%2Fapi%3Fx%3D1%26y", "path"), "/api?x=1&y");
  EXPECT_EQ(query_value("h=x-canary%3A%201", "h"), "x-canary: 1");
  EXPECT_EQ(query_value("h=100%25", "h"), "100%");
  EXPECT_EQ(query_value("h=50%", "h"), "50%");
  EXPECT_EQ(query_value("h=%zz%4", "h"), "%zz%4");
}

TEST(QueryValues, GivesEveryValueInOrder) {
  EXPECT_EQ(query_values("header=a%3A1&x=2&header=b%3A2", "header"),
            (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_TRUE(query_values("x=1", "header").empty());
}

TEST(PercentEncode, EncodesAllButUnreservedAndRoundTrips) {
  EXPECT_EQ(percent_encode("a-b_c.d~e"), "a-b_c.d~e");
  EXPECT_EQ(percent_encode("/x?a=1&b= 2"), "%2Fx%3Fa%3D1%26b%3D%202");
  const std::string every = [] {
    std::string s;
    for (int c = 1; c < 256; ++c) s += static_cast<char>(c);
    return s;
  }();
  EXPECT_EQ(query_value("v=" + percent_encode(every), "v"), every);
}

}  // namespace
}  // namespace weft::admin
