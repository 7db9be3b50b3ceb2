#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/yaml_proto.h"
#include "mesh/v1/config.pb.h"
#include "proxy/config/snapshot.h"

namespace weft::proxy::config {
namespace {

using ::testing::HasSubstr;

Result<std::shared_ptr<const Snapshot>> translate_yaml(std::string_view text) {
  mesh::v1::ProxyConfig proto;
  auto parsed = yaml::parse_message(text, "test.yaml", proto);
  if (!parsed) return tl::unexpected(parsed.error());
  return translate(proto);
}

constexpr std::string_view kBase = R"(
listeners:
  - {name: web, address: {host: 127.0.0.1, port: 10000}, route_table: web}
route_tables:
  - name: web
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            forward: {clusters: [{name: v1, weight: 90}, {name: v2, weight: 10}]}
            timeout: 2s
clusters:
  - {name: v1, endpoints: [{address: 127.0.0.1, port: 18080}]}
  - {name: v2, endpoints: [{address: "::1", port: 18081, weight: 3}]}
)";

TEST(Translate, CompilesReferencesToIndexes) {
  auto snapshot = translate_yaml(kBase);
  ASSERT_TRUE(snapshot) << snapshot.error().message;
  const auto& s = **snapshot;
  ASSERT_EQ(s.listeners.size(), 1u);
  EXPECT_EQ(s.listeners[0].route_table, 0u);
  const auto& route = s.route_tables[0].virtual_hosts[0].routes[0];
  const auto& forward = std::get<router::Forward>(route.action);
  EXPECT_EQ(forward.weights(), (std::vector<std::uint32_t>{90, 10}));
  EXPECT_EQ(forward.split, 0u);
  EXPECT_EQ(s.split_weights, (std::vector<std::vector<std::uint32_t>>{{90, 10}}));
  EXPECT_EQ(forward.clusters[1].cluster, 1u);
  EXPECT_EQ(route.timeouts.request, std::chrono::seconds(2));
  EXPECT_EQ(s.clusters[1].endpoints[0].address.address().to_string(), "::1");
  EXPECT_EQ(s.clusters[1].endpoints[0].weight, 3u);
  EXPECT_EQ(s.source.route_tables_size(), 1);
}

// Each of the three timeouts: set, `0s` (none, as Gateway API's) or unset.
TEST(Translate, RouteTimeoutsSetZeroOrUnset) {
  using std::chrono::milliseconds;
  struct Case {
    const char* timeouts;
    std::optional<milliseconds> request, per_try, idle;
  } cases[] = {
      {"timeout: 2s", milliseconds(2000), {}, {}},
      {"timeout: 0s", {}, {}, {}},
      {"", {}, {}, {}},
      {"{timeout: 2s, per_try_timeout: 250ms, idle_timeout: 30s}", milliseconds(2000),
       milliseconds(250), milliseconds(30'000)},
      {"{per_try_timeout: 0s, idle_timeout: 0s}", {}, {}, {}},
      {"per_try_timeout: 1.5s", {}, milliseconds(1500), {}},
  };
  for (const auto& c : cases) {
    std::string text(kBase);
    std::string line = c.timeouts;
    if (line.starts_with("{")) {  // several keys: spell them as lines
      line = line.substr(1, line.size() - 2);
      for (auto at = line.find(", "); at != std::string::npos; at = line.find(", ")) {
        line.replace(at, 2, "\n            ");
      }
    }
    text.replace(text.find("timeout: 2s"), 11, line);
    auto snapshot = translate_yaml(text);
    ASSERT_TRUE(snapshot) << c.timeouts << ": " << snapshot.error().message;
    const auto& t = (**snapshot).route_tables[0].virtual_hosts[0].routes[0].timeouts;
    EXPECT_EQ(t.request, c.request) << c.timeouts;
    EXPECT_EQ(t.per_try, c.per_try) << c.timeouts;
    EXPECT_EQ(t.idle, c.idle) << c.timeouts;
  }
}

TEST(Translate, AnUnresolvedBackendKeepsItsShareAndNeedsNoCluster) {
  std::string text(kBase);
  const std::string from = "{name: v2, weight: 10}";
  text.replace(text.find(from), from.size(),
               "{unresolved: 'BackendNotFound: Service shop/v3 does not exist', weight: 10}");
  auto snapshot = translate_yaml(text);
  ASSERT_TRUE(snapshot) << snapshot.error().message;
  const auto& forward =
      std::get<router::Forward>((**snapshot).route_tables[0].virtual_hosts[0].routes[0].action);
  ASSERT_EQ(forward.clusters.size(), 2u);
  EXPECT_EQ(forward.clusters[0].cluster, 0u);
  EXPECT_EQ(forward.clusters[1].cluster, router::kUnresolvedBackend);
  EXPECT_EQ(forward.weights(), (std::vector<std::uint32_t>{90, 10}));
  router::Splits splits{upstream::lb::RoundRobin(forward.weights())};
  int unresolved = 0;
  for (int i = 0; i < 100; ++i) unresolved += forward.choose(splits) == router::kUnresolvedBackend;
  EXPECT_EQ(unresolved, 10) << "exactly its share, no more";
}

// Each kind of health check as the checker sees it; a gRPC check names
// its service ("" for the server's own health).
TEST(Translate, HealthCheckKinds) {
  using Kind = upstream::health::Check::Kind;
  struct Case {
    const char* check;
    Kind kind;
    const char* detail;  // path or gRPC service
  };
  for (const auto& c : std::vector<Case>{
           {"{tcp: {}}", Kind::kTcp, "/"},
           {"{http: {path: /healthz}}", Kind::kHttp, "/healthz"},
           {"{grpc: {service: reviews.v1.Reviews}, interval: 2s}", Kind::kGrpc,
            "reviews.v1.Reviews"},
           {"{grpc: {}}", Kind::kGrpc, ""},
       }) {
    std::string text(kBase);
    const std::string from = "{name: v1, endpoints";
    text.replace(text.find(from), from.size(),
                 std::string("{name: v1, health_check: ") + c.check + ", endpoints");
    auto snapshot = translate_yaml(text);
    ASSERT_TRUE(snapshot) << c.check << ": " << snapshot.error().message;
    const auto& check = (*snapshot)->clusters[0].health_check;
    ASSERT_TRUE(check) << c.check;
    EXPECT_EQ(check->kind, c.kind) << c.check;
    EXPECT_EQ(c.kind == Kind::kGrpc ? check->grpc_service : check->path, c.detail) << c.check;
  }
}

// Endpoints are tiered by their nearness to the proxy's locality when they
// span tiers; not when locality is off, the proxy's is unknown, or all are
// in one tier. Consistent hashing gets a table per tier.
TEST(Translate, LocalityTiersEndpoints) {
  using upstream::lb::Tier;
  constexpr std::string_view kEndpoints = R"(
clusters:
  - name: reviews
    load_balancer: LB_MAGLEV
    hash_policy: {header: x-user}
    {LOCALITY}
    endpoints:
      - {address: 10.0.0.1, port: 80, locality: {region: eu, zone: eu-1a}}
      - {address: 10.0.0.2, port: 80, locality: {region: eu, zone: eu-1b}}
      - {address: 10.0.0.3, port: 80, locality: {zone: eu-1a}}
      - {address: 10.0.0.4, port: 80}
)";
  struct Case {
    const char* proxy;
    const char* cluster;
    std::optional<std::uint32_t> spillover;
    std::vector<Tier> tiers;
  };
  const auto z = Tier::kZone, r = Tier::kRegion, o = Tier::kOther;
  for (const auto& c : std::vector<Case>{
           {"{region: eu, zone: eu-1a}", "", 70, {z, r, z, o}},
           {"{region: eu, zone: eu-1a}", "locality: {spillover_threshold: 90}", 90, {z, r, z, o}},
           {"{region: eu, zone: eu-1a}", "locality: {disabled: true}", std::nullopt, {}},
           {"{}", "", std::nullopt, {}},
           {"{region: us, zone: us-1a}", "", std::nullopt, {o, o, o, o}},
       }) {
    std::string text = "locality: " + std::string(c.proxy) + std::string(kEndpoints);
    text.replace(text.find("{LOCALITY}"), 10, c.cluster);
    auto snapshot = translate_yaml(text);
    ASSERT_TRUE(snapshot) << c.proxy << c.cluster << ": " << snapshot.error().message;
    const auto& cluster = (*snapshot)->clusters[0];
    EXPECT_EQ(cluster.locality_spillover, c.spillover) << c.proxy << c.cluster;
    EXPECT_EQ(cluster.endpoints[0].locality.zone, "eu-1a");
    if (!c.tiers.empty()) {
      std::vector<Tier> tiers;
      for (const auto& e : cluster.endpoints) tiers.push_back(e.tier);
      EXPECT_EQ(tiers, c.tiers) << c.proxy << c.cluster;
    }
    const bool tiered = c.spillover.has_value();
    EXPECT_EQ(cluster.tier_tables[0] != nullptr, tiered) << c.proxy << c.cluster;
    EXPECT_EQ(cluster.tier_tables[1] != nullptr, tiered);
    EXPECT_EQ(cluster.tier_tables[2] != nullptr, tiered);
    // Each tier's table indexes its own endpoints: two in the zone, one
    // elsewhere.
    for (std::uint64_t h = 0; tiered && h < 64; ++h) {
      EXPECT_LT(cluster.tier_tables[0]->endpoint(h * 0x9E3779B97F4A7C15ull), 2u);
      EXPECT_EQ(cluster.tier_tables[2]->endpoint(h * 0x9E3779B97F4A7C15ull), 0u);
    }
  }
}

struct BadCase {
  const char* name;
  std::string from, to;  // textual edit applied to kBase
  const char* expected;
};

// Test names, not bytes, in gtest's output.
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class TranslateRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(TranslateRejects, NamingTheObject) {
  std::string text(kBase);
  auto at = text.find(GetParam().from);
  ASSERT_NE(at, std::string::npos) << GetParam().from;
  text.replace(at, GetParam().from.size(), GetParam().to);
  auto snapshot = translate_yaml(text);
  ASSERT_FALSE(snapshot);
  EXPECT_THAT(snapshot.error().message, HasSubstr(GetParam().expected));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TranslateRejects,
    ::testing::Values(
        BadCase{"unknown_route_table", "route_table: web}", "route_table: nope}",
                "listeners[0] 'web': route_table 'nope' is not defined"},
        BadCase{"unknown_cluster", "{name: v2, weight: 10}", "{name: v3, weight: 10}",
                "route_tables[0] 'web': virtual_hosts[0].routes[0]: cluster 'v3' is not defined"},
        BadCase{"zero_weights", "weight: 90}, {name: v2, weight: 10}",
                "weight: 0}, {name: v2, weight: 0}", "weights sum to 0"},
        BadCase{"bad_ip", "address: 127.0.0.1, port: 18080", "address: localhost, port: 18080",
                "clusters[0] 'v1': endpoints[0]: 'localhost' is not an IP address"},
        BadCase{"missing_port", "address: 127.0.0.1, port: 18080", "address: 127.0.0.1",
                "port is required"},
        BadCase{"duplicate_cluster", "name: v2, endpoints", "name: v1, endpoints",
                "duplicate name 'v1'"},
        BadCase{"bad_regex", "match: {prefix: /}", "match: {regex: \"(\"}", "bad regex"},
        BadCase{"no_action",
                "forward: {clusters: [{name: v1, weight: 90}, {name: v2, weight: 10}]}",
                "name: empty", "route has no action"},
        BadCase{"bad_direct_status",
                "forward: {clusters: [{name: v1, weight: 90}, {name: v2, weight: 10}]}",
                "direct_response: {status: 99}", "status 99 is not 200-599"},
        BadCase{"bad_redirect_status",
                "forward: {clusters: [{name: v1, weight: 90}, {name: v2, weight: 10}]}",
                "redirect: {status: 200}", "redirect status 200"},
        BadCase{"http_listener_without_table", "route_table: web}", "}",
                "an HTTP listener needs a route_table"},
        BadCase{"missing_certificate", "route_table: web}",
                "route_table: web, tls: {cert_file: /nonexistent.pem, key_file: /k.pem}}",
                "listeners[0] 'web': tls: certificate /nonexistent.pem"},
        BadCase{"missing_upstream_ca", "{name: v1, endpoints",
                "{name: v1, tls: {ca_file: /no/ca.pem}, endpoints",
                "clusters[0] 'v1': tls: CA /no/ca.pem"},
        BadCase{"http2_connection_window", "route_table: web}",
                "route_table: web, http2: {connection_window: 100}}",
                "listeners[0] 'web': http2: connection_window 100 must be between"},
        BadCase{"downstream_unknown_alpn", "route_table: web}",
                "route_table: web, tls: {alpn: [h3]}}", "downstream TLS speaks h2 or http/1.1"},
        BadCase{"spillover_threshold", "{name: v1, endpoints",
                "{name: v1, locality: {spillover_threshold: 0}, endpoints",
                "clusters[0] 'v1': locality.spillover_threshold 0 is not 1 to 100"},
        BadCase{"upstream_unknown_alpn", "{name: v1, endpoints",
                "{name: v1, tls: {alpn: [spdy/3]}, endpoints",
                "upstream connections speak h2 or http/1.1"},
        BadCase{"workload_without_namespace", "listeners:", "workload: {name: a}\nlisteners:",
                "workload: name and namespace are required"},
        BadCase{"workload_label_a_peer_would_refuse",
                "listeners:", "workload: {name: a, namespace: b, version: \"1 beta\"}\nlisteners:",
                "workload: values are at most 253 of the characters"},
        BadCase{"endpoint_workload", "port: 18080}",
                "port: 18080, workload: {name: \"x;y\", namespace: n}}",
                "clusters[0] 'v1': endpoints[0].workload: values are at most"},
        BadCase{"service_name", "{name: v1, endpoints", "{name: v1, service: \"a b\", endpoints",
                "clusters[0] 'v1': service: at most 253 of the characters"},
        BadCase{"tracing_without_collector",
                "listeners:", "tracing: {sampling_percent: 5}\nlisteners:",
                "tracing: exactly one of otlp_endpoint and zipkin_endpoint is required"},
        BadCase{"tracing_two_collectors", "listeners:",
                "tracing: {otlp_endpoint: \"http://a\", zipkin_endpoint: \"http://b\"}\n"
                "listeners:",
                "tracing: exactly one of otlp_endpoint and zipkin_endpoint is required"},
        BadCase{"tracing_percent", "listeners:",
                "tracing: {sampling_percent: -1, otlp_endpoint: \"http://a\"}\nlisteners:",
                "tracing.sampling_percent -1 is not within 0-100"},
        BadCase{"tracing_https",
                "listeners:", "tracing: {zipkin_endpoint: \"https://zipkin:9411\"}\nlisteners:",
                "tracing.zipkin_endpoint: 'https://zipkin:9411': https is not supported"},
        BadCase{"access_log_relative_path",
                "listeners:", "access_log: {path: access.log}\nlisteners:",
                "access_log.path 'access.log' is not an absolute file path"},
        BadCase{"access_log_percent",
                "listeners:", "access_log: {sampling_percent: 101}\nlisteners:",
                "access_log.sampling_percent 101 is not within 0-100"}),
    [](const auto& test) { return std::string(test.param.name); });

}  // namespace
}  // namespace weft::proxy::config

namespace weft::proxy::config {
namespace {

constexpr std::string_view kCapture = R"(
listeners:
  - name: outbound
    capture: CAPTURE_OUTBOUND
    address: {host: "::", port: 15001}
    opaque_ports: [3306]
    destinations:
      - {port: 8080, route_table: web}
      - {address: 10.0.0.7, port: 8080, tcp_cluster: db}
      - {port: 3306, tcp_cluster: db}
route_tables:
  - {name: web, virtual_hosts: [{routes: [{direct_response: {status: 200}}]}]}
clusters:
  - {name: db, endpoints: [{address: 127.0.0.1, port: 3306}]}
)";

TEST(Translate, APeerFieldGoesOnlyToMeshedServicesOfAProxyWithAWorkload) {
  constexpr std::string_view kMeshed = R"(
workload: {name: productpage, namespace: default, version: v1}
listeners:
  - {name: out, direction: DIRECTION_OUTBOUND, address: {host: 127.0.0.1, port: 10000}, route_table: web}
route_tables:
  - {name: web, virtual_hosts: [{routes: [{match: {prefix: /}, forward: {clusters: [{name: reviews}]}}]}]}
clusters:
  - name: reviews
    service: reviews.default.svc.cluster.local
    endpoints: [{address: 127.0.0.1, port: 18080, workload: {name: reviews, namespace: default}}]
  - name: external
    service: api.other.svc.cluster.local
    endpoints: [{address: 127.0.0.1, port: 18081}]
  - {name: plain, endpoints: [{address: 127.0.0.1, port: 18082}]}
)";
  auto snapshot = translate_yaml(kMeshed);
  ASSERT_TRUE(snapshot) << snapshot.error().message;
  const auto& s = **snapshot;
  EXPECT_EQ(s.listeners[0].direction, Direction::kOutbound);
  ASSERT_TRUE(s.workload);
  EXPECT_EQ(s.workload->app, "unknown");
  EXPECT_EQ(s.clusters[0].peer_field,
            "w=productpage;ns=default;app=unknown;ver=v1;sa=unknown;"
            "svc=reviews.default.svc.cluster.local");
  EXPECT_EQ(s.clusters[0].endpoints[0].workload->name, "reviews");
  EXPECT_EQ(s.clusters[1].peer_field, "") << "no endpoint has a sidecar to read it";
  EXPECT_EQ(s.clusters[2].peer_field, "") << "not a Service";

  std::string standalone(kMeshed);
  standalone.erase(0, standalone.find("listeners:"));
  auto without = translate_yaml(standalone);
  ASSERT_TRUE(without) << without.error().message;
  EXPECT_EQ((*without)->clusters[0].peer_field, "") << "a proxy without a workload";
}

TEST(Translate, TracingCollectorsAndTheirDefaultPaths) {
  struct Case {
    std::string_view yaml;
    Tracing::Format format;
    std::string_view host;
    std::uint16_t port;
    std::string_view target;
    bool b3_when_absent;
  };
  const Case cases[] = {
      {"tracing: {sampling_percent: 2.5, otlp_endpoint: \"http://127.0.0.1:4318/v1/traces\"}\n",
       Tracing::Format::kOtlp, "127.0.0.1", 4318, "/v1/traces", false},
      {"tracing: {otlp_endpoint: \"http://collector:4318\"}\n", Tracing::Format::kOtlp, "collector",
       4318, "/v1/traces", false},
      {"tracing: {zipkin_endpoint: \"http://zipkin\"}\n", Tracing::Format::kZipkin, "zipkin", 80,
       "/api/v2/spans", true},
  };
  for (const auto& c : cases) {
    auto snapshot = translate_yaml(std::string(c.yaml) + std::string(kBase));
    ASSERT_TRUE(snapshot) << snapshot.error().message;
    ASSERT_TRUE((*snapshot)->tracing) << c.yaml;
    const auto& tracing = *(*snapshot)->tracing;
    EXPECT_EQ(tracing.format, c.format) << c.yaml;
    EXPECT_EQ(tracing.collector.host, c.host) << c.yaml;
    EXPECT_EQ(tracing.collector.port, c.port) << c.yaml;
    EXPECT_EQ(tracing.collector.target, c.target) << c.yaml;
    EXPECT_EQ(tracing.settings.b3_when_absent, c.b3_when_absent) << c.yaml;
  }
  auto snapshot = translate_yaml(std::string(kBase));
  ASSERT_TRUE(snapshot);
  EXPECT_FALSE((*snapshot)->tracing) << "no tracing unless configured";
}

TEST(Translate, AccessLogDefaultsToJsonOnStdoutForEveryRequest) {
  namespace access_log = layers::access_log;
  const struct {
    std::string_view yaml;
    access_log::Settings settings;
  } cases[] = {
      {"access_log: {}\n", {access_log::Format::kJson, "/dev/stdout", 100}},
      {"access_log: {format: FORMAT_TEXT, path: /var/log/access.log, sampling_percent: 0}\n",
       {access_log::Format::kText, "/var/log/access.log", 0}},
  };
  for (const auto& c : cases) {
    auto snapshot = translate_yaml(std::string(c.yaml) + std::string(kBase));
    ASSERT_TRUE(snapshot) << snapshot.error().message;
    ASSERT_TRUE((*snapshot)->access_log) << c.yaml;
    EXPECT_EQ(*(*snapshot)->access_log, c.settings) << c.yaml;
  }
  auto snapshot = translate_yaml(std::string(kBase));
  ASSERT_TRUE(snapshot);
  EXPECT_FALSE((*snapshot)->access_log) << "none unless configured";
}

TEST(Translate, AuthorizationPoliciesCompileAndBadPatternsAreRefused) {
  auto snapshot = translate_yaml(std::string(R"(
authorization:
  policies:
    - name: default/p
      action: ACTION_DENY
      ports: [9080]
      rules:
        - from: [{principals: ["spiffe://td/ns/a/sa/b", "spiffe://td/ns/c/*"], unauthenticated: false}]
          to: [{methods: [GET], paths: ["/admin/*"], not_ports: [9090]}]
)") + std::string(kBase));
  ASSERT_TRUE(snapshot) << snapshot.error().message;
  const auto& policies = (*snapshot)->authorization;
  ASSERT_EQ(policies.size(), 1u);
  EXPECT_TRUE(policies[0].deny);
  EXPECT_EQ(policies[0].ports, std::vector<std::uint32_t>{9080});
  const auto& peer = policies[0].rules[0].from[0];
  EXPECT_EQ(peer.principals.exact, std::vector<std::string>{"spiffe://td/ns/a/sa/b"});
  EXPECT_EQ(peer.principals.prefixes, std::vector<std::string>{"spiffe://td/ns/c/"});
  EXPECT_EQ(policies[0].rules[0].to[0].paths.prefixes, std::vector<std::string>{"/admin/"});

  const std::pair<std::string_view, std::string_view> bad[] = {
      {"authorization: {policies: [{name: p, rules: [{to: [{paths: ['/a*b']}]}]}]}\n",
       "authorization p: rules[0].to[0].paths: '/a*b' is not exact, prefix* or *"},
      {"authorization: {policies: [{name: p, ports: [70000]}]}\n",
       "authorization p: ports: 70000 is not a port"},
      {"authorization: {policies: [{rules: [{}]}]}\n", "a name and a known action"},
  };
  for (const auto& [yaml, message] : bad) {
    auto refused = translate_yaml(std::string(yaml) + std::string(kBase));
    ASSERT_FALSE(refused) << yaml;
    EXPECT_THAT(refused.error().message, HasSubstr(message));
  }
}

TEST(Translate, Http2LimitsOverrideOnlyWhatIsSet) {
  std::string text(kBase);
  text.replace(text.find("route_table: web}"), 17,
               "route_table: web, http2: {max_concurrent_streams: 10, premature_reset_burst: 5}}");
  auto snapshot = translate_yaml(text);
  ASSERT_TRUE(snapshot) << snapshot.error().message;
  const auto& limits = (*snapshot)->listeners[0].http2;
  EXPECT_EQ(limits.max_concurrent_streams, 10u);
  EXPECT_EQ(limits.abuse.premature_reset_burst, 5u);
  EXPECT_EQ(limits.stream_window, http::http2::SessionLimits{}.stream_window);
  EXPECT_EQ(limits.abuse.max_continuation_frames,
            http::http2::AbuseLimits{}.max_continuation_frames);
}

TEST(Capture, DestinationPrefersExactAddressThenPort) {
  mesh::v1::ProxyConfig proto;
  ASSERT_TRUE(yaml::parse_message(kCapture, "capture.yaml", proto));
  auto snapshot = translate(proto);
  ASSERT_TRUE(snapshot) << snapshot.error().message;
  const auto& listener = (*snapshot)->listeners[0];
  auto at = [](const char* ip, unsigned short port) {
    return TcpEndpoint(boost::asio::ip::make_address(ip), port);
  };
  const auto* exact = listener.destination_for(at("10.0.0.7", 8080));
  ASSERT_NE(exact, nullptr);
  EXPECT_EQ(exact->tcp_cluster, 0u);
  const auto* by_port = listener.destination_for(at("10.0.0.8", 8080));
  ASSERT_NE(by_port, nullptr);
  EXPECT_EQ(by_port->route_table, 0u);
  EXPECT_EQ(listener.destination_for(at("10.0.0.7", 9090)), nullptr);
  EXPECT_TRUE(listener.is_opaque_port(3306));
  EXPECT_FALSE(listener.is_opaque_port(8080));
}

TEST(Capture, RejectsAmbiguousListeners) {
  struct Case {
    std::string yaml;
    const char* expected;
  } cases[] = {
      {"listeners: [{name: a, capture: CAPTURE_INBOUND, route_table: web}]\n"
       "route_tables: [{name: web}]",
       "routes by destinations"},
      {"listeners: [{name: a, route_table: web, destinations: [{port: 1, route_table: web}]}]\n"
       "route_tables: [{name: web}]",
       "destinations need a capture listener"},
      {"listeners: [{name: a, capture: CAPTURE_OUTBOUND, destinations: [{port: 0}]}]",
       "destinations[0]: port 0 is out of range"},
      {"listeners: [{name: a, capture: CAPTURE_OUTBOUND, destinations: [{port: 80, tcp_cluster: "
       "x}]}]",
       "tcp_cluster 'x' is not defined"},
      {"listeners: [{name: a, protocol: PROTOCOL_AUTO, route_table: web}]\nroute_tables: [{name: "
       "web}]",
       "PROTOCOL_AUTO listener needs a route_table (HTTP) and a tcp_cluster"},
  };
  for (const auto& c : cases) {
    mesh::v1::ProxyConfig proto;
    ASSERT_TRUE(yaml::parse_message(c.yaml, "bad.yaml", proto)) << c.yaml;
    auto snapshot = translate(proto);
    ASSERT_FALSE(snapshot) << c.yaml;
    EXPECT_THAT(snapshot.error().message, HasSubstr(c.expected));
  }
}

}  // namespace
}  // namespace weft::proxy::config

namespace weft::proxy::config {
namespace {

TEST(Replace, RoutesAndClustersMayChangeListenersMayNot) {
  auto base = translate_yaml(kBase);
  ASSERT_TRUE(base);
  struct Case {
    std::string from, to;
    const char* error;  // null: replaceable
  } cases[] = {
      {"weight: 90}, {name: v2, weight: 10}", "weight: 50}, {name: v2, weight: 50}", nullptr},
      {"port: 18080}", "port: 18090}", nullptr},
      {"timeout: 2s", "timeout: 9s", nullptr},
      {"port: 10000}", "port: 10001}",
       "listener web (127.0.0.1:10000) became web (127.0.0.1:10001)"},
      {"{name: web, address", "{name: www, address", "became www"},
      {"route_table: web}", "route_table: web, protocol: PROTOCOL_AUTO, tcp_cluster: v1}",
       "changed kind"},
  };
  for (const auto& c : cases) {
    std::string text(kBase);
    auto at = text.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    text.replace(at, c.from.size(), c.to);
    auto next = translate_yaml(text);
    ASSERT_TRUE(next) << next.error().message;
    auto result = check_replaceable(**base, **next);
    if (c.error == nullptr) {
      EXPECT_TRUE(result) << result.error().message;
    } else {
      ASSERT_FALSE(result) << c.to;
      EXPECT_THAT(result.error().message, HasSubstr(c.error));
      EXPECT_THAT(result.error().message, HasSubstr("restart the proxy"));
    }
  }
}

}  // namespace
}  // namespace weft::proxy::config
