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
     "endpoints": [{"address": "10.0.0.1", "port": 9080, "weight": 3,
                    "locality": {"region": "eu-west", "zone": "eu-west-1a"}},
                   {"address": "fd00::1", "port": 9080, "locality": {"zone": "eu-west-1b"}}]},
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
  EXPECT_EQ(endpoint_rows(kConfig),
            (Rows{{"CLUSTER", "ENDPOINT", "WEIGHT", "LOCALITY"},
                  {"reviews-v1", "10.0.0.1:9080", "3", "eu-west/eu-west-1a"},
                  {"reviews-v1", "[fd00::1]:9080", "1", "?/eu-west-1b"},
                  {"reviews-v2", "(none)", "", ""},
                  {"ratings", "(none)", "", ""}}));
}

// Where meshctl looks for the proxy's live view: its configured admin
// address, loopback for a wildcard host, else the proxy's default.
TEST(ProxyConfigView, AdminAddressFromTheConfiguration) {
  struct Case {
    const char* config;
    const char* address;
  };
  for (const auto& c : std::vector<Case>{
           {R"({})", "127.0.0.1:15000"},
           {R"({"admin": {"address": {"host": "127.0.0.1", "port": 41000}}})", "127.0.0.1:41000"},
           {R"({"admin": {"address": {"host": "0.0.0.0", "port": 15000}}})", "127.0.0.1:15000"},
           {R"({"admin": {"address": {"host": "::", "port": 15000}}})", "[::1]:15000"},
           {R"({"admin": {"address": {"host": "fd00::5", "port": 15000}}})", "[fd00::5]:15000"},
       }) {
    EXPECT_EQ(admin_address(boost::json::parse(c.config)), c.address) << c.config;
  }
}

// A live view is used only when it is this proxy's: a Pod's admin port is
// on the Pod's loopback, and meshctl's loopback may hold another proxy.
TEST(ProxyConfigView, LiveViewMustBeTheNamedProxys) {
  const ProxyRef ref{"default", "client-0"};
  EXPECT_EQ(live_view_mismatch(
                boost::json::parse(R"({"proxy": "default/client-0", "clusters": []})"), ref),
            std::nullopt);
  EXPECT_EQ(
      live_view_mismatch(boost::json::parse(R"({"proxy": "shop/cart-1", "clusters": []})"), ref),
      "it is shop/cart-1's, not default/client-0's");
  EXPECT_EQ(live_view_mismatch(boost::json::parse(R"({"clusters": []})"), ref),
            "it is a proxy without a name's, not default/client-0's");
  EXPECT_EQ(live_view_mismatch(boost::json::value(), ref),
            "it did not answer with the proxy's endpoints");
}

TEST(ProxyConfigView, LiveEndpointsShowHealthInFlightAndLatency) {
  auto live = boost::json::parse(R"({"proxy": "default/client-0", "clusters": [
    {"name": "reviews", "endpoints": [
      {"address": "10.0.0.1:9080", "weight": 3, "health": "passing", "ejections": 1,
       "in_flight": 2, "latency_ms": 12.345,
       "locality": {"region": "eu-west", "zone": "eu-west-1a"}, "tier": "zone"},
      {"address": "10.0.0.2:9080", "weight": 1, "health": "ejected", "ejected_until":
       "2026-12-06T10:00:30Z", "ejections": 2, "in_flight": 0,
       "locality": {"region": "eu-west", "zone": "eu-west-1b"}, "tier": "region"},
      {"address": "10.0.0.3:9080", "weight": 1, "health": "failing_check", "ejections": 0,
       "in_flight": 0, "tier": "other"},
      {"address": "10.0.0.4:9080", "weight": 1, "health": "not_ready", "ejections": 0,
       "in_flight": 0}]},
    {"name": "ratings", "endpoints": [
      {"address": "10.0.1.1:9080", "weight": 1, "health": "passing", "ejections": 0,
       "in_flight": 0, "locality": {"region": "eu-west", "zone": "eu-west-1a"}}]},
    {"name": "details", "endpoints": []}]})");
  EXPECT_EQ(
      live_endpoint_rows(live),
      (Rows{{"CLUSTER", "ENDPOINT", "WEIGHT", "LOCALITY", "HEALTH", "IN FLIGHT", "LATENCY (EWMA)"},
            {"reviews", "10.0.0.1:9080", "3", "eu-west/eu-west-1a (same zone)",
             "passing (1 ejection)", "2", "12.3ms"},
            {"reviews", "10.0.0.2:9080", "1", "eu-west/eu-west-1b (same region)",
             "ejected until 2026-12-06T10:00:30Z (2 ejections)", "0", "-"},
            {"reviews", "10.0.0.3:9080", "1", "- (remote)", "failing check", "0", "-"},
            {"reviews", "10.0.0.4:9080", "1", "-", "not ready", "0", "-"},
            // Not tiered: the locality alone.
            {"ratings", "10.0.1.1:9080", "1", "eu-west/eu-west-1a", "passing", "0", "-"},
            {"details", "(none)", "", "", "", "", ""}}));
}

}  // namespace
}  // namespace weft::meshctl
