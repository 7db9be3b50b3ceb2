#include "proxy/server/app_metrics.h"

#include <gtest/gtest.h>

namespace weft::proxy::server {
namespace {

TEST(AppMetricsTarget, AddressAndPath) {
  struct Case {
    const char* text;
    const char* address;
    unsigned port;
    const char* path;
  } cases[] = {
      {"127.0.0.1:9100", "127.0.0.1", 9100, "/metrics"},
      {"10.1.2.3:8080/custom/metrics", "10.1.2.3", 8080, "/custom/metrics"},
      {"[::1]:9100/m", "::1", 9100, "/m"},
  };
  for (const auto& c : cases) {
    auto target = parse_app_metrics_target(c.text);
    ASSERT_TRUE(target) << c.text << ": " << target.error().message;
    EXPECT_EQ(target->address.address().to_string(), c.address) << c.text;
    EXPECT_EQ(target->address.port(), c.port) << c.text;
    EXPECT_EQ(target->path, c.path) << c.text;
  }
  for (const char* bad : {"", "9100", "localhost:9100", "127.0.0.1:", "127.0.0.1:99999/x"}) {
    auto target = parse_app_metrics_target(bad);
    ASSERT_FALSE(target) << bad;
    EXPECT_NE(target.error().message.find("--app-metrics"), std::string::npos);
  }
}

TEST(MergeExpositions, AppendsTheApplicationsLinesAfterTheProxys) {
  struct Case {
    const char* name;
    const char* proxy;
    const char* app;
    const char* merged;
  } cases[] = {
      {"plain", "# TYPE a counter\na 1\n", "# TYPE b counter\nb 2\n",
       "# TYPE a counter\na 1\n# TYPE b counter\nb 2\n"},
      {"unterminated_lines", "a 1", "b 2", "a 1\nb 2\n"},
      {"openmetrics_eof_dropped", "a 1\n", "# TYPE b counter\nb_total 2\n# EOF\n",
       "a 1\n# TYPE b counter\nb_total 2\n"},
      {"empty_app", "a 1\n", "", "a 1\n"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(merge_expositions(c.proxy, c.app), c.merged) << c.name;
  }
}

}  // namespace
}  // namespace weft::proxy::server
