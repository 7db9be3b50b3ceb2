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

}  // namespace
}  // namespace weft::admin
