#include "controlplane/meshctl/proxy_config_view.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace weft::meshctl {
namespace {

TEST(ParseProxyRef, EveryFormKubectlAndIstioctlUsersWrite) {
  struct Case {
    const char* arg;
    const char* namespace_flag;
    const char *ns, *name;  // null: an error
  };
  for (const auto& c : std::vector<Case>{{"client-0", "", "default", "client-0"},
                                         {"shop/web-1", "", "shop", "web-1"},
                                         {"web-1.shop", "", "shop", "web-1"},
                                         {"web-1", "shop", "shop", "web-1"},
                                         {"web.v1.shop", "", "shop", "web.v1"},
                                         {"shop/web-1", "shop", "shop", "web-1"},
                                         {"shop/web-1", "other", nullptr, nullptr},
                                         {"/web-1", "", nullptr, nullptr},
                                         {"web-1.", "", nullptr, nullptr}}) {
    auto ref = parse_proxy_ref(c.arg, c.namespace_flag);
    if (c.ns == nullptr) {
      EXPECT_FALSE(ref) << c.arg;
      continue;
    }
    ASSERT_TRUE(ref) << c.arg << ": " << ref.error();
    EXPECT_EQ(ref->ns, c.ns) << c.arg;
    EXPECT_EQ(ref->name, c.name) << c.arg;
  }
}

const auto kConfig = boost::json::parse(R"({
  "route_tables": [{"name": "outbound", "virtual_hosts": [{"name": "reviews.default:9080",
    "routes": [
      {"name": "canary", "match": {"prefix": "/", "headers": [{"name": "x-canary", "exact": "1"}]},
       "forward": {"clusters": [{"name": "reviews-v2", "weight": 1}]}, "timeout": "2s",
       "per_try_timeout": "0.500s", "idle_timeout": "60s",
       "timeout_origins": {"request": "policy default/reviews", "per_try": "route",
                           "idle": "mesh"},
       "retry": {"attempts": 3, "retry_on": ["5xx", "reset"], "origin": "route"}},
      {"name": "split", "match": {"prefix": "/"},
       "forward": {"clusters": [{"name": "reviews-v1", "weight": 90},
                                {"unresolved": "BackendNotFound: x", "weight": 10}]},
       "timeout": "0s"},
      {"name": "old", "match": {"exact": "/old"}, "redirect": {"path": "/new"}}]}]}],
  "clusters": [
    {"name": "reviews-v1", "connect_timeout": "0.250s", "pool": {"max_idle_per_endpoint": 4},
     "policy": "TrafficPolicy default/reviews", "protocol": "PROTOCOL_HTTP2",
     "load_balancer": "LB_LEAST_REQUEST", "slow_start_window": "30s",
     "panic_threshold": 30, "failover": [{"cluster": "reviews-v2.default:9080", "name": "reviews-v2"}],
     "circuit_breakers": {"max_requests": 100, "max_retries": 3},
     "endpoints": [{"address": "10.0.0.1", "port": 9080, "weight": 3},
                   {"address": "fd00::1", "port": 9080}]},
    {"name": "reviews-v2"},
    {"name": "ratings", "load_balancer": "LB_MAGLEV", "hash_policy": {"header": "x-user"}}]
})");

TEST(ProxyConfigView, RoutesShowMatchActionAndTimeoutsWithTheirOrigin) {
  EXPECT_EQ(route_rows(kConfig),
            (Rows{{"ROUTE TABLE", "VIRTUAL HOST", "ROUTE", "MATCH", "ACTION", "REQUEST TIMEOUT",
                   "PER-TRY TIMEOUT", "IDLE TIMEOUT", "RETRY"},
                  {"outbound", "reviews.default:9080", "canary", "prefix / x-canary:1",
                   "forward reviews-v2", "2s (policy default/reviews)", "500ms (route)",
                   "60s (mesh)", "3 tries on 5xx, reset (route)"},
                  {"outbound", "reviews.default:9080", "split", "prefix /",
                   "forward reviews-v1=90, (unresolved: 500)=10", "none (0s)", "none", "listener's",
                   "none"},
                  {"outbound", "reviews.default:9080", "old", "exact /old",
                   "redirect 302 (default)", "none", "none", "listener's", "none"}}));
}

TEST(ProxyConfigView, ClustersShowSettingsAndEndpointsShowAddresses) {
  EXPECT_EQ(
      cluster_rows(kConfig),
      (Rows{{"CLUSTER", "PROTOCOL", "CONNECT TIMEOUT", "POOL (IDLE PER ENDPOINT, IDLE TIMEOUT)",
             "LOAD BALANCER", "MAX IN FLIGHT", "FAILOVER", "ENDPOINTS", "POLICY"},
            {"reviews-v1", "http2", "250ms", "4, 60s (default)",
             "LeastRequest, slow start 30s, panic below 30%", "100 requests, 3 retries",
             "reviews-v2", "2", "TrafficPolicy default/reviews"},
            {"reviews-v2", "http1", "1s (default)", "64 (default), 60s (default)", "PeakEWMA", "-",
             "-", "0", "-"},
            {"ratings", "http1", "1s (default)", "64 (default), 60s (default)",
             "Maglev on header x-user", "-", "-", "0", "-"}}));
  EXPECT_EQ(endpoint_rows(kConfig), (Rows{{"CLUSTER", "ENDPOINT", "WEIGHT"},
                                          {"reviews-v1", "10.0.0.1:9080", "3"},
                                          {"reviews-v1", "[fd00::1]:9080", "1"},
                                          {"reviews-v2", "(none)", ""},
                                          {"ratings", "(none)", ""}}));
}

}  // namespace
}  // namespace weft::meshctl
