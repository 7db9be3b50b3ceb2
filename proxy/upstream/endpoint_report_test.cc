#include "proxy/upstream/endpoint_report.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/rfc3339.h"

namespace weft::proxy::upstream {
namespace {

using namespace std::chrono_literals;
using Health = EndpointHealthState;

EndpointReport endpoint(std::string address, std::uint32_t in_flight, double latency_ms = 0) {
  EndpointReport report;
  report.address = std::move(address);
  report.in_flight = in_flight;
  report.latency_ms = latency_ms;
  return report;
}

// Two workers' views: in flight summed, the highest estimate kept; what
// only one worker knows (a push it applied first) is added, not dropped.
TEST(EndpointReport, MergesWorkersByNameAndAddress) {
  std::vector<ClusterReport> total;
  merge(total, {{"a", {endpoint("10.0.0.1:80", 2, 5.0), endpoint("10.0.0.2:80", 0, 1.0)}}});
  merge(total, {{"a",
                 {endpoint("10.0.0.2:80", 3, 7.5), endpoint("10.0.0.1:80", 1, 4.0),
                  endpoint("10.0.0.3:80", 1)}},
                {"b", {endpoint("10.0.1.1:80", 4)}}});
  ASSERT_EQ(total.size(), 2u);
  ASSERT_EQ(total[0].endpoints.size(), 3u);
  EXPECT_EQ(total[0].endpoints[0].in_flight, 3u);
  EXPECT_EQ(total[0].endpoints[0].latency_ms, 5.0);
  EXPECT_EQ(total[0].endpoints[1].in_flight, 3u);
  EXPECT_EQ(total[0].endpoints[1].latency_ms, 7.5);
  EXPECT_EQ(total[0].endpoints[2].address, "10.0.0.3:80");
  EXPECT_EQ(total[1].name, "b");
  EXPECT_EQ(total[1].endpoints[0].in_flight, 4u);
}

TEST(EndpointReport, JsonSaysHealthAndUntilWhen) {
  const auto now = parse_rfc3339("2026-12-06T10:00:00Z");
  auto ejected = endpoint("10.0.0.1:80", 0);
  ejected.health = Health::kEjected;
  ejected.ejected_for = 29'001ms;  // shown rounded up: 30 s
  ejected.ejections = 2;
  auto failing = endpoint("10.0.0.2:80", 1, 12.3456);
  failing.health = Health::kFailingCheck;
  failing.weight = 3;
  auto text = to_json({{"reviews", {ejected, failing}}},
                      {.name = "default/client-0", .region = {}, .zone = {}}, now);
  auto value = boost::json::parse(text).as_object();
  EXPECT_EQ(value["proxy"].as_string(), "default/client-0");
  auto& endpoints = value["clusters"].as_array()[0].as_object()["endpoints"].as_array();
  auto& first = endpoints[0].as_object();
  EXPECT_EQ(first["health"].as_string(), "ejected");
  EXPECT_EQ(first["ejected_until"].as_string(), "2026-12-06T10:00:30Z");
  EXPECT_EQ(first["ejections"].as_int64(), 2);
  auto& second = endpoints[1].as_object();
  EXPECT_EQ(second["health"].as_string(), "failing_check");
  EXPECT_FALSE(second.contains("ejected_until"));
  EXPECT_FALSE(first.contains("latency_ms")) << "no estimate yet";
  EXPECT_EQ(second["weight"].as_int64(), 3);
  EXPECT_EQ(second["in_flight"].as_int64(), 1);
  EXPECT_DOUBLE_EQ(second["latency_ms"].as_double(), 12.346);
  EXPECT_FALSE(boost::json::parse(to_json({}, {}, now)).as_object().contains("proxy"));
}

}  // namespace
}  // namespace weft::proxy::upstream
