// compile() across edits: a rejected HTTPRoute, TrafficPolicy or MeshConfig
// keeps serving its last accepted version, and a backendRef that does not
// resolve costs only its own share of the traffic.
#include "controlplane/translate/mesh.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controlplane/model/objects.h"
#include "controlplane/model/test_store.h"
#include "controlplane/translate/proxy.h"

namespace weft::cp::translate {
namespace {

using model::store_of;

using ::testing::HasSubstr;

// reviews splits 90/10 to reviews-v1/v2 with a header override; a policy
// on reviews sets a 2 s request timeout; the MeshConfig a drain timeout.
constexpr std::string_view kMesh = R"(
apiVersion: v1
kind: Service
metadata: {name: reviews}
spec: {ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: reviews-v1}
spec: {ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: reviews-v2}
spec: {ports: [{name: http, port: 9080}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]
  rules:
    - matches: [{headers: [{name: x-canary, value: "1"}]}]
      backendRefs: [{name: reviews-v2, port: 9080}]
    - backendRefs:
        - {name: reviews-v1, port: 9080, weight: 90}
        - {name: reviews-v2, port: 9080, weight: 10}
---
apiVersion: mesh.weft.io/v1alpha1
kind: TrafficPolicy
metadata: {name: reviews}
spec:
  targetRef: {kind: Service, name: reviews}
  timeouts: {request: 2s}
---
apiVersion: mesh.weft.io/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec: {drainTimeout: 7s}
)";

std::string edited(std::string_view from, std::string_view to) {
  std::string text(kMesh);
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

const ServicePort& reviews(const Mesh& mesh) {
  for (const auto& sp : mesh.service_ports) {
    if (sp.service == "reviews") return sp;
  }
  throw std::logic_error("no reviews Service port");
}

const Condition* condition(const Mesh& mesh, std::string_view object, std::string_view type) {
  for (const auto& c : mesh.conditions) {
    if (c.object == object && c.type == type) return &c;
  }
  return nullptr;
}

// The canary as first accepted: header route first, then the 90/10 split,
// both with the policy's 2 s timeout.
void expect_canary(const Mesh& mesh) {
  const auto& routes = reviews(mesh).routes;
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].match().headers_size(), 1);
  ASSERT_EQ(routes[1].forward().clusters_size(), 2);
  EXPECT_EQ(routes[1].forward().clusters(0).weight(), 90u);
  EXPECT_EQ(routes[1].forward().clusters(1).weight(), 10u);
  EXPECT_EQ(routes[1].timeout().seconds(), 2);
  ASSERT_TRUE(mesh.drain_timeout);
  EXPECT_EQ(mesh.drain_timeout->seconds(), 7);
}

struct Rejection {
  const char* name;
  const char* from;
  const char* to;
  const char* object;  // whose Accepted condition is False
  const char* message;
};

class LastAccepted : public testing::TestWithParam<Rejection> {};

TEST_P(LastAccepted, KeepsServingThroughARejectedEdit) {
  const auto& c = GetParam();
  auto good = compile(*store_of(kMesh));
  expect_canary(*good);

  auto bad = store_of(edited(c.from, c.to));
  auto without_history = compile(*bad);
  const auto* rejected = condition(*without_history, c.object, "Accepted");
  ASSERT_NE(rejected, nullptr);
  EXPECT_FALSE(rejected->ok);
  EXPECT_THAT(rejected->message, HasSubstr(c.message));
  EXPECT_THAT(rejected->message, ::testing::Not(HasSubstr(kServingLastAccepted)));

  auto kept = compile(*bad, good.get());
  expect_canary(*kept);
  rejected = condition(*kept, c.object, "Accepted");
  ASSERT_NE(rejected, nullptr);
  EXPECT_FALSE(rejected->ok) << "still reported, and counted by meshctl status";
  EXPECT_THAT(rejected->message, HasSubstr(c.message));
  EXPECT_THAT(rejected->message, HasSubstr(kServingLastAccepted));

  // Still kept one push later.
  expect_canary(*compile(*bad, kept.get()));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, LastAccepted,
    testing::Values(Rejection{"negative_weight", "weight: 10}", "weight: -10}",
                              "HTTPRoute default/reviews", "must not be negative"},
                    Rejection{"unsupported_filter", "    - backendRefs:\n",
                              "    - filters: [{type: URLRewrite, urlRewrite: {hostname: x}}]\n"
                              "      backendRefs:\n",
                              "HTTPRoute default/reviews",
                              "filter type URLRewrite is not supported"},
                    Rejection{"parent_typo", "name: reviews, port: 9080}]",
                              "name: reveiws, port: 9080}]", "HTTPRoute default/reviews",
                              "parent Service default/reveiws"},
                    Rejection{"policy_duration", "request: 2s", "request: 2 seconds",
                              "TrafficPolicy default/reviews", "'2 seconds' is not a duration"},
                    Rejection{"mesh_config_duration", "drainTimeout: 7s", "drainTimeout: soon",
                              "MeshConfig mesh", "drainTimeout 'soon'"}),
    [](const auto& test) { return std::string(test.param.name); });

// Each timeout comes from the most specific place that sets it: the
// HTTPRoute rule, then the TrafficPolicy of its Service, then the MeshConfig.
TEST(Timeouts, RouteThenPolicyThenMeshFieldByField) {
  std::string text = edited("spec: {drainTimeout: 7s}",
                            "spec: {drainTimeout: 7s, timeouts: {request: 9s, perTry: 3s, idle: "
                            "60s}}");
  auto replace = [&](std::string_view from, std::string_view to) {
    text.replace(text.find(from), from.size(), to);
  };
  replace("timeouts: {request: 2s}", "timeouts: {request: 2s, perTry: 1s}");
  replace("      backendRefs: [{name: reviews-v2, port: 9080}]\n",
          "      backendRefs: [{name: reviews-v2, port: 9080}]\n"
          "      timeouts: {backendRequest: 500ms}\n");
  auto mesh = compile(*store_of(text));
  struct Expected {
    std::int64_t request_ms, per_try_ms, idle_ms;
    const char *request, *per_try, *idle;
  };
  auto ms = [](const google::protobuf::Duration& d) {
    return d.seconds() * 1000 + d.nanos() / 1'000'000;
  };
  auto check = [&](const mesh::v1::Route& route, const Expected& e) {
    EXPECT_EQ(ms(route.timeout()), e.request_ms) << route.name();
    EXPECT_EQ(ms(route.per_try_timeout()), e.per_try_ms) << route.name();
    EXPECT_EQ(ms(route.idle_timeout()), e.idle_ms) << route.name();
    EXPECT_EQ(route.timeout_origins().request(), e.request) << route.name();
    EXPECT_EQ(route.timeout_origins().per_try(), e.per_try) << route.name();
    EXPECT_EQ(route.timeout_origins().idle(), e.idle) << route.name();
  };
  const auto& routes = reviews(*mesh).routes;
  ASSERT_EQ(routes.size(), 2u);
  check(routes[0], {2000, 500, 60'000, "policy default/reviews", "route", "mesh"});
  check(routes[1],
        {2000, 1000, 60'000, "policy default/reviews", "policy default/reviews", "mesh"});
  for (const auto& sp : mesh->service_ports) {
    if (sp.service != "reviews-v1") continue;
    ASSERT_EQ(sp.routes.size(), 1u);
    check(sp.routes[0], {9000, 3000, 60'000, "mesh", "mesh", "mesh"});
  }
  auto bad =
      compile(*store_of(edited("spec: {drainTimeout: 7s}", "spec: {timeouts: {perTry: quick}}")));
  const auto* rejected = condition(*bad, "MeshConfig mesh", "Accepted");
  ASSERT_NE(rejected, nullptr);
  EXPECT_FALSE(rejected->ok);
  EXPECT_THAT(rejected->message, HasSubstr("timeouts.perTry 'quick' is not a duration"));
}

// spec.tracing reaches the mesh checked, with its default percentage; a
// spec without exactly one collector, or with one that cannot be sent to,
// is rejected and the last accepted tracing keeps serving.
TEST(Tracing, MeshConfigCollectorAndSampling) {
  auto none = compile(*store_of(kMesh));
  EXPECT_FALSE(none->tracing);
  auto otlp = compile(
      *store_of(edited("spec: {drainTimeout: 7s}",
                       "spec: {tracing: {otlp: {endpoint: 'http://127.0.0.1:4318/v1/traces'}}}")));
  ASSERT_TRUE(otlp->tracing);
  EXPECT_EQ(otlp->tracing->sampling_percent(), 1);
  EXPECT_EQ(otlp->tracing->otlp_endpoint(), "http://127.0.0.1:4318/v1/traces");
  auto zipkin = compile(*store_of(
      edited("spec: {drainTimeout: 7s}",
             "spec: {tracing: {samplingPercent: 0, zipkin: {endpoint: 'http://zipkin:9411'}}}")));
  ASSERT_TRUE(zipkin->tracing);
  EXPECT_EQ(zipkin->tracing->sampling_percent(), 0);
  EXPECT_EQ(zipkin->tracing->zipkin_endpoint(), "http://zipkin:9411");

  const std::pair<const char*, const char*> rejected[] = {
      {"{tracing: {samplingPercent: 10}}", "exactly one collector"},
      {"{tracing: {otlp: {endpoint: 'http://a'}, zipkin: {endpoint: 'http://b'}}}",
       "exactly one collector"},
      {"{tracing: {samplingPercent: 101, otlp: {endpoint: 'http://a'}}}", "not within 0-100"},
      {"{tracing: {otlp: {endpoint: 'https://collector:4318'}}}",
       "tracing.otlp.endpoint: 'https://collector:4318': https is not supported"},
      {"{tracing: {zipkin: {endpoint: 'zipkin:9411'}}}", "is not an http://"},
  };
  for (const auto& [spec, message] : rejected) {
    auto mesh = compile(*store_of(edited("{drainTimeout: 7s}", spec)), otlp.get());
    const auto* condition_of = condition(*mesh, "MeshConfig mesh", "Accepted");
    ASSERT_NE(condition_of, nullptr) << spec;
    EXPECT_FALSE(condition_of->ok) << spec;
    EXPECT_THAT(condition_of->message, HasSubstr(message)) << spec;
    ASSERT_TRUE(mesh->tracing) << spec;  // the last accepted one
    EXPECT_EQ(mesh->tracing->otlp_endpoint(), "http://127.0.0.1:4318/v1/traces");
  }
}

// spec.accessLog reaches the mesh with its defaults (json, stdout, every
// request); a bad format, a relative path or a percentage out of range is
// rejected and the last accepted access log keeps serving.
TEST(AccessLog, MeshConfigFormatPathAndSampling) {
  auto none = compile(*store_of(kMesh));
  EXPECT_FALSE(none->access_log);
  auto defaults = compile(*store_of(edited("spec: {drainTimeout: 7s}", "spec: {accessLog: {}}")));
  ASSERT_TRUE(defaults->access_log);
  EXPECT_EQ(defaults->access_log->format(), mesh::v1::AccessLog::FORMAT_JSON);
  EXPECT_EQ(defaults->access_log->path(), "/dev/stdout");
  EXPECT_EQ(defaults->access_log->sampling_percent(), 100);
  auto text = compile(*store_of(edited(
      "spec: {drainTimeout: 7s}",
      "spec: {accessLog: {format: text, path: /var/log/weft/access.log, samplingPercent: 0}}")));
  ASSERT_TRUE(text->access_log);
  EXPECT_EQ(text->access_log->format(), mesh::v1::AccessLog::FORMAT_TEXT);
  EXPECT_EQ(text->access_log->path(), "/var/log/weft/access.log");
  EXPECT_EQ(text->access_log->sampling_percent(), 0);

  const std::pair<const char*, const char*> rejected[] = {
      {"{accessLog: {format: yaml}}", "accessLog.format 'yaml' is not json or text"},
      {"{accessLog: {path: access.log}}", "accessLog.path 'access.log' is not an absolute"},
      {"{accessLog: {path: /var/log/}}", "is not an absolute file path"},
      {"{accessLog: {samplingPercent: -1}}", "accessLog.samplingPercent -1 is not within 0-100"},
  };
  for (const auto& [spec, message] : rejected) {
    auto mesh = compile(*store_of(edited("{drainTimeout: 7s}", spec)), text.get());
    const auto* condition_of = condition(*mesh, "MeshConfig mesh", "Accepted");
    ASSERT_NE(condition_of, nullptr) << spec;
    EXPECT_FALSE(condition_of->ok) << spec;
    EXPECT_THAT(condition_of->message, HasSubstr(message)) << spec;
    ASSERT_TRUE(mesh->access_log) << spec;  // the last accepted one
    EXPECT_EQ(mesh->access_log->path(), "/var/log/weft/access.log");
  }
}

// spec.trustDomain names the workload identities (cluster.local when
// unset); one that is not a SPIFFE trust domain is rejected and the last
// accepted one keeps serving.
TEST(TrustDomain, MeshConfigTrustDomain) {
  EXPECT_EQ(compile(*store_of(kMesh))->trust_domain, "cluster.local");
  auto prod =
      compile(*store_of(edited("spec: {drainTimeout: 7s}", "spec: {trustDomain: prod.example}")));
  EXPECT_EQ(prod->trust_domain, "prod.example");
  for (const char* bad : {"{trustDomain: Prod}", "{trustDomain: 'spiffe://prod'}"}) {
    auto mesh = compile(*store_of(edited("{drainTimeout: 7s}", bad)), prod.get());
    const auto* condition_of = condition(*mesh, "MeshConfig mesh", "Accepted");
    ASSERT_NE(condition_of, nullptr) << bad;
    EXPECT_FALSE(condition_of->ok) << bad;
    EXPECT_THAT(condition_of->message, HasSubstr("trustDomain: ")) << bad;
    EXPECT_EQ(mesh->trust_domain, "prod.example") << bad;  // the last accepted one
  }
}

// spec.mtls.mode reaches every inbound listener (PERMISSIVE when unset);
// DISABLE also leaves endpoints without an identity, so callers send
// plaintext; any other mode is rejected and the last accepted one kept.
TEST(MtlsMode, MeshConfigMode) {
  EXPECT_EQ(compile(*store_of(kMesh))->mtls_mode, mesh::v1::Listener::MTLS_PERMISSIVE);
  auto strict =
      compile(*store_of(edited("spec: {drainTimeout: 7s}", "spec: {mtls: {mode: STRICT}}")));
  EXPECT_EQ(strict->mtls_mode, mesh::v1::Listener::MTLS_STRICT);
  auto disabled =
      compile(*store_of(edited("spec: {drainTimeout: 7s}", "spec: {mtls: {mode: DISABLE}}")));
  EXPECT_EQ(disabled->mtls_mode, mesh::v1::Listener::MTLS_DISABLE);
  // Meshed endpoints (Pods behind EndpointSlices): named unless disabled.
  std::string manifests;
  for (const char* file : {"mesh.yaml", "workloads.yaml"}) {
    std::ifstream in(std::string("controlplane/translate/testdata/local_canary/manifests/") + file);
    manifests += std::string(std::istreambuf_iterator<char>(in), {}) + "\n---\n";
  }
  const std::string meshconfig =
      "apiVersion: mesh.weft.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\n";
  for (const auto& [mode, named] : {std::pair{"STRICT", true}, std::pair{"DISABLE", false}}) {
    auto mesh = compile(*store_of(manifests + meshconfig + "spec: {mtls: {mode: " + mode + "}}\n"));
    std::size_t meshed = 0;
    for (const auto& sp : mesh->service_ports) {
      for (const auto& endpoint : sp.cluster.endpoints()) {
        if (!endpoint.has_workload()) continue;
        ++meshed;
        EXPECT_EQ(!endpoint.identity().empty(), named) << mode << " " << endpoint.address();
      }
    }
    EXPECT_GT(meshed, 0u) << mode;
  }
  auto bad =
      compile(*store_of(edited("{drainTimeout: 7s}", "{mtls: {mode: strict}}")), strict.get());
  const auto* condition_of = condition(*bad, "MeshConfig mesh", "Accepted");
  ASSERT_NE(condition_of, nullptr);
  EXPECT_FALSE(condition_of->ok);
  EXPECT_THAT(condition_of->message, HasSubstr("mtls.mode 'strict' is not STRICT"));
  EXPECT_EQ(bad->mtls_mode, mesh::v1::Listener::MTLS_STRICT);  // the last accepted one
}

// A policy's retries reach the routes without their own and its budget
// the clusters it covers, its backends' included.
TEST(Retries, PolicyRetriesAndBudget) {
  auto mesh = compile(*store_of(
      edited("  timeouts: {request: 2s}",
             "  timeouts: {request: 2s}\n  retries: {attempts: 1, perTryTimeout: 300ms, retryOn: "
             "[5xx], budget: {percent: 50, minRetriesPerSecond: 1}}")));
  const auto& routes = reviews(*mesh).routes;
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[1].retry().attempts(), 2u);
  EXPECT_THAT(routes[1].retry().retry_on(), ::testing::ElementsAre("5xx"));
  EXPECT_EQ(routes[1].retry().origin(), "policy default/reviews");
  EXPECT_EQ(routes[1].per_try_timeout().nanos(), 300'000'000);
  for (const auto& sp : mesh->service_ports) {
    EXPECT_EQ(sp.cluster.retry_budget().percent(), 50) << sp.cluster.name();
  }
  auto bad =
      compile(*store_of(edited("  timeouts: {request: 2s}", "  retries: {retryOn: [sometimes]}")));
  const auto* rejected = condition(*bad, "TrafficPolicy default/reviews", "Accepted");
  ASSERT_NE(rejected, nullptr);
  EXPECT_THAT(rejected->message, HasSubstr("retries.retryOn 'sometimes' is not one of"));
}

// A policy's load balancer and circuit breaker reach the clusters it
// covers, its backends' included; a cluster without a policy balances by
// PeakEWMA (the proto's zero) without limits.
TEST(LoadBalancing, PolicyAlgorithmSlowStartAndLimits) {
  auto mesh = compile(*store_of(edited(
      "  timeouts: {request: 2s}",
      "  timeouts: {request: 2s}\n  loadBalancer: {type: LeastRequest, slowStart: {window: 30s}}\n"
      "  connectionPool: {maxRequests: 100, maxRetries: 3, maxConnections: 10, "
      "maxPendingRequests: 20}\n"
      "  outlierDetection: {consecutive5xx: 5, baseEjectionTime: 45s, maxEjectionPercent: 50}")));
  for (const auto& sp : mesh->service_ports) {
    EXPECT_EQ(sp.cluster.load_balancer(), mesh::v1::Cluster::LB_LEAST_REQUEST) << sp.cluster.name();
    EXPECT_EQ(sp.cluster.slow_start_window().seconds(), 30) << sp.cluster.name();
    EXPECT_EQ(sp.cluster.circuit_breakers().max_requests(), 100u) << sp.cluster.name();
    EXPECT_EQ(sp.cluster.circuit_breakers().max_retries(), 3u) << sp.cluster.name();
    EXPECT_EQ(sp.cluster.circuit_breakers().max_connections(), 10u) << sp.cluster.name();
    EXPECT_EQ(sp.cluster.circuit_breakers().max_pending_requests(), 20u) << sp.cluster.name();
    EXPECT_EQ(sp.cluster.outlier_detection().consecutive_5xx(), 5u) << sp.cluster.name();
    EXPECT_EQ(sp.cluster.outlier_detection().base_ejection_time().seconds(), 45);
    EXPECT_EQ(sp.cluster.outlier_detection().max_ejection_percent(), 50u);
  }
  auto plain = compile(*store_of(kMesh));
  for (const auto& sp : plain->service_ports) {
    EXPECT_EQ(sp.cluster.load_balancer(), mesh::v1::Cluster::LB_PEAK_EWMA);
    EXPECT_FALSE(sp.cluster.has_circuit_breakers());
  }
  for (auto [spec, message] :
       {std::pair{"  loadBalancer: {type: Fastest}", "loadBalancer.type 'Fastest' is not one of"},
        std::pair{"  loadBalancer: {slowStart: {window: soon}}",
                  "loadBalancer.slowStart.window 'soon' is not a duration"},
        std::pair{"  outlierDetection: {interval: often}",
                  "outlierDetection.interval 'often' is not a duration"},
        std::pair{"  outlierDetection: {maxEjectionPercent: 101}",
                  "outlierDetection.maxEjectionPercent 101 is over 100"}}) {
    auto bad = compile(*store_of(edited("  timeouts: {request: 2s}", spec)));
    const auto* rejected = condition(*bad, "TrafficPolicy default/reviews", "Accepted");
    ASSERT_NE(rejected, nullptr) << spec;
    EXPECT_FALSE(rejected->ok);
    EXPECT_THAT(rejected->message, HasSubstr(message));
  }
}

// Panic threshold and success-rate ejection reach every cluster the
// policy covers; failover only the target's own, naming the backup's
// cluster on the same port. Envoy's thousandths read as a factor.
TEST(LoadBalancing, PolicyPanicSuccessRateAndFailover) {
  auto mesh = compile(
      *store_of(edited("  timeouts: {request: 2s}",
                       "  panicThreshold: 30\n  failover: {to: [{name: reviews-v2}]}\n"
                       "  outlierDetection: {successRate: {minimumHosts: 3, stdevFactor: 1900}}")));
  for (const auto& sp : mesh->service_ports) {
    EXPECT_EQ(sp.cluster.panic_threshold(), 30u) << sp.cluster.name();
    const auto& rate = sp.cluster.outlier_detection().success_rate();
    EXPECT_EQ(rate.minimum_hosts(), 3u);
    EXPECT_EQ(rate.request_volume(), 100u) << "the default";
    EXPECT_DOUBLE_EQ(rate.stdev_factor(), 1.9);
  }
  const auto& target = reviews(*mesh).cluster;
  ASSERT_EQ(target.failover_size(), 1);
  EXPECT_EQ(target.failover(0).cluster(), "reviews-v2.default:9080");
  EXPECT_EQ(target.failover(0).name(), "reviews-v2");
  for (const auto& sp : mesh->service_ports) {
    if (sp.service != "reviews") {
      EXPECT_EQ(sp.cluster.failover_size(), 0) << sp.cluster.name();
    }
  }
  auto plain = compile(*store_of(kMesh));
  EXPECT_FALSE(reviews(*plain).cluster.has_panic_threshold()) << "the proxy's default: 50";
  for (auto [spec, message] :
       {std::pair{"  failover: {to: [{name: ratings}]}",
                  "failover Service default/ratings does not exist"},
        std::pair{"  failover: {to: [{name: reviews}]}", "names the target Service reviews"},
        std::pair{"  panicThreshold: 101", "panicThreshold 101 is over 100"},
        std::pair{"  outlierDetection: {successRate: {stdevFactor: -1}}",
                  "stdevFactor -1 is not a positive number"}}) {
    auto bad = compile(*store_of(edited("  timeouts: {request: 2s}", spec)));
    const auto* rejected = condition(*bad, "TrafficPolicy default/reviews", "Accepted");
    ASSERT_NE(rejected, nullptr) << spec;
    EXPECT_FALSE(rejected->ok);
    EXPECT_THAT(rejected->message, HasSubstr(message));
  }
}

// RingHash and Maglev take exactly one key, carried to every cluster the
// policy covers; a hash key for another algorithm is an error.
TEST(LoadBalancing, PolicyConsistentHashing) {
  auto mesh = compile(
      *store_of(edited("  timeouts: {request: 2s}",
                       "  loadBalancer: {type: Maglev, hash: {cookie: {name: sticky, ttl: 1h}}}")));
  for (const auto& sp : mesh->service_ports) {
    EXPECT_EQ(sp.cluster.load_balancer(), mesh::v1::Cluster::LB_MAGLEV) << sp.cluster.name();
    EXPECT_EQ(sp.cluster.hash_policy().cookie().name(), "sticky");
    EXPECT_EQ(sp.cluster.hash_policy().cookie().ttl().seconds(), 3600);
  }
  auto ring = compile(*store_of(edited(
      "  timeouts: {request: 2s}", "  loadBalancer: {type: RingHash, hash: {sourceIP: true}}")));
  EXPECT_TRUE(reviews(*ring).cluster.hash_policy().source_ip());
  for (auto [spec, message] :
       {std::pair{"  loadBalancer: {type: Maglev}", "exactly one of header, cookie"},
        std::pair{"  loadBalancer: {type: RingHash, hash: {header: x-user, queryParameter: u}}",
                  "(2 set)"},
        std::pair{"  loadBalancer: {type: RoundRobin, hash: {header: x-user}}",
                  "loadBalancer.hash is for type RingHash or Maglev"},
        std::pair{"  loadBalancer: {type: Maglev, hash: {cookie: {name: s, ttl: forever}}}",
                  "cookie.ttl 'forever' is not a duration"}}) {
    auto bad = compile(*store_of(edited("  timeouts: {request: 2s}", spec)));
    const auto* rejected = condition(*bad, "TrafficPolicy default/reviews", "Accepted");
    ASSERT_NE(rejected, nullptr) << spec;
    EXPECT_FALSE(rejected->ok);
    EXPECT_THAT(rejected->message, HasSubstr(message));
  }
}

// A health check reaches every cluster the policy covers; exactly one kind,
// positive durations and real statuses; a gRPC check names its service.
TEST(LoadBalancing, PolicyHealthCheck) {
  auto mesh = compile(*store_of(
      edited("  timeouts: {request: 2s}",
             "  healthCheck: {interval: 2s, unhealthyThreshold: 2, http: {path: /healthz, "
             "expectedStatuses: [200, 204]}}")));
  for (const auto& sp : mesh->service_ports) {
    const auto& check = sp.cluster.health_check();
    EXPECT_EQ(check.interval().seconds(), 2) << sp.cluster.name();
    EXPECT_EQ(check.unhealthy_threshold(), 2u);
    EXPECT_EQ(check.http().path(), "/healthz");
    EXPECT_THAT(check.http().expected_statuses(), ::testing::ElementsAre(200, 204));
  }
  auto grpc = compile(*store_of(
      edited("  timeouts: {request: 2s}", "  healthCheck: {grpc: {service: reviews.v1.Reviews}}")));
  for (const auto& sp : grpc->service_ports) {
    ASSERT_TRUE(sp.cluster.health_check().has_grpc()) << sp.cluster.name();
    EXPECT_EQ(sp.cluster.health_check().grpc().service(), "reviews.v1.Reviews");
  }
  for (auto [spec, message] :
       {std::pair{"  healthCheck: {interval: 2s}", "exactly one of http, grpc, tcp (0 set)"},
        std::pair{"  healthCheck: {tcp: {}, http: {}}", "(2 set)"},
        std::pair{"  healthCheck: {grpc: {}, http: {}}", "(2 set)"},
        std::pair{"  healthCheck: {timeout: 0s, tcp: {}}", "'0s' is not a positive duration"},
        std::pair{"  healthCheck: {http: {path: healthz}}", "does not start with /"},
        std::pair{"  healthCheck: {http: {expectedStatuses: [42]}}", "42 is not an HTTP status"}}) {
    auto bad = compile(*store_of(edited("  timeouts: {request: 2s}", spec)));
    const auto* rejected = condition(*bad, "TrafficPolicy default/reviews", "Accepted");
    ASSERT_NE(rejected, nullptr) << spec;
    EXPECT_FALSE(rejected->ok);
    EXPECT_THAT(rejected->message, HasSubstr(message));
  }
}

TEST(LastAccepted, ADeletedObjectIsNotKept) {
  auto good = compile(*store_of(kMesh));
  std::string text(kMesh);
  auto route = text.find("apiVersion: gateway.networking.k8s.io/v1");
  auto policy = text.find("---\napiVersion: mesh.weft.io/v1alpha1\nkind: TrafficPolicy");
  text.erase(route, policy + 4 - route);
  auto deleted = compile(*store_of(text), good.get());
  ASSERT_EQ(reviews(*deleted).routes.size(), 1u);
  EXPECT_EQ(reviews(*deleted).routes[0].name(), "default");
}

TEST(UnresolvedBackend, CostsOnlyItsShare) {
  auto good = compile(*store_of(kMesh));
  auto mesh = compile(*store_of(edited("{name: reviews-v2, port: 9080, weight: 10}",
                                       "{name: reviews-v3, port: 9080, weight: 10}")),
                      good.get());
  const auto& routes = reviews(*mesh).routes;
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].forward().clusters(0).name(), "reviews-v2.default:9080");
  const auto& split = routes[1].forward();
  ASSERT_EQ(split.clusters_size(), 2);
  EXPECT_EQ(split.clusters(0).name(), "reviews-v1.default:9080");
  EXPECT_EQ(split.clusters(1).weight(), 10u);
  EXPECT_THAT(split.clusters(1).unresolved(), HasSubstr("reviews-v3"));
  const auto* accepted = condition(*mesh, "HTTPRoute default/reviews", "Accepted");
  ASSERT_NE(accepted, nullptr);
  EXPECT_TRUE(accepted->ok);
  const auto* resolved = condition(*mesh, "HTTPRoute default/reviews", "ResolvedRefs");
  ASSERT_NE(resolved, nullptr);
  EXPECT_FALSE(resolved->ok);
  EXPECT_EQ(resolved->reason, "BackendNotFound");
  EXPECT_THAT(resolved->message, HasSubstr("answered 500"));
}

}  // namespace
}  // namespace weft::cp::translate

namespace weft::cp::translate {
namespace {

// Nodes in two zones of one region; a client Pod on node-a, and reviews
// endpoints placed by the slice's nodeName, by their Pod's node, by a zone
// hint alone, and nowhere known.
constexpr std::string_view kZones = R"(
apiVersion: v1
kind: Node
metadata:
  name: node-a
  labels: {topology.kubernetes.io/region: eu-west, topology.kubernetes.io/zone: eu-west-1a}
---
apiVersion: v1
kind: Node
metadata:
  name: node-b
  labels: {topology.kubernetes.io/region: eu-west, topology.kubernetes.io/zone: eu-west-1b}
---
apiVersion: v1
kind: Pod
metadata: {name: client-0}
spec: {nodeName: node-a, containers: [{name: app}]}
status: {podIP: 10.0.0.9}
---
apiVersion: v1
kind: Pod
metadata: {name: client-1}
spec: {nodeName: node-b, containers: [{name: app}]}
status: {podIP: 10.0.0.8}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-1}
spec: {nodeName: node-b, containers: [{name: app}]}
status: {podIP: 10.0.1.2}
---
apiVersion: v1
kind: Service
metadata: {name: reviews}
spec: {clusterIP: 10.96.0.5, ports: [{name: http, port: 9080}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: reviews-abc
  labels: {kubernetes.io/service-name: reviews}
addressType: IPv4
ports: [{name: http, port: 9080}]
endpoints:
  - {addresses: [10.0.1.1], nodeName: node-a, zone: stale-hint}
  - {addresses: [10.0.1.2], targetRef: {kind: Pod, name: reviews-1}}
  - {addresses: [10.0.1.3], zone: eu-west-1c}
  - {addresses: [10.0.1.4]}
  - {addresses: [10.0.1.5], nodeName: node-gone}
)";

TEST(Locality, EndpointsAndProxiesArePlacedByTheirNodes) {
  auto mesh = compile(*store_of(kZones));
  const auto& cluster = reviews(*mesh).cluster;
  ASSERT_EQ(cluster.endpoints_size(), 5);
  struct Want {
    const char* region;
    const char* zone;
  };
  const std::vector<Want> wanted{
      {"eu-west", "eu-west-1a"}, {"eu-west", "eu-west-1b"}, {"", "eu-west-1c"}, {"", ""}, {"", ""}};
  for (int i = 0; i < cluster.endpoints_size(); ++i) {
    const auto& e = cluster.endpoints(i);
    EXPECT_EQ(e.locality().region(), wanted[i].region) << e.address();
    EXPECT_EQ(e.locality().zone(), wanted[i].zone) << e.address();
  }
  EXPECT_FALSE(cluster.endpoints(3).has_locality()) << "unknown stays unset";

  auto config = translate(*mesh, {"client-0", "default"});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->locality().region(), "eu-west");
  EXPECT_EQ(config->locality().zone(), "eu-west-1a");
  // Proxies in different zones are told different things.
  EXPECT_NE(*translation_key(*mesh, {"client-0", "default"}),
            *translation_key(*mesh, {"client-1", "default"}));
}

TEST(Locality, PolicyTurnsItOffOrSetsTheThreshold) {
  std::string text(kZones);
  text += R"(---
apiVersion: mesh.weft.io/v1alpha1
kind: TrafficPolicy
metadata: {name: reviews}
spec:
  targetRef: {kind: Service, name: reviews}
  loadBalancer: {locality: LOCALITY}
)";
  auto with = [&](std::string_view locality) {
    auto edited_text = text;
    edited_text.replace(edited_text.find("LOCALITY"), 8, locality);
    return compile(*store_of(edited_text));
  };
  auto off = with("{enabled: false}");
  EXPECT_TRUE(reviews(*off).cluster.locality().disabled());
  auto threshold = with("{spilloverThreshold: 85}");
  EXPECT_FALSE(reviews(*threshold).cluster.locality().disabled());
  EXPECT_EQ(reviews(*threshold).cluster.locality().spillover_threshold(), 85u);
  EXPECT_FALSE(reviews(*compile(*store_of(kZones))).cluster.has_locality()) << "on by default";
  for (auto bad_value : {"{spilloverThreshold: 0}", "{spilloverThreshold: 101}"}) {
    auto bad = with(bad_value);
    const auto* rejected = condition(*bad, "TrafficPolicy default/reviews", "Accepted");
    ASSERT_NE(rejected, nullptr) << bad_value;
    EXPECT_FALSE(rejected->ok);
    EXPECT_THAT(rejected->message, HasSubstr("spilloverThreshold"));
  }
}

TEST(WorkloadMetadata, NamesAPodAfterItsControllerAndRecommendedLabels) {
  struct Owner {
    const char* kind;
    const char* name;
    std::optional<bool> controller;
  };
  struct Case {
    const char* name;
    std::map<std::string, std::string> labels;
    std::vector<Owner> owners;
    std::string service_account;
    std::vector<std::string> want;  // name, app, version, service account
  };
  const Case cases[] = {
      {"a Deployment's Pod: its ReplicaSet less the template hash",
       {{"app", "reviews"}, {"version", "v2"}, {"pod-template-hash", "5d8f7"}},
       {{"ReplicaSet", "reviews-v2-5d8f7", true}},
       "bookinfo-reviews",
       {"reviews-v2", "reviews", "v2", "bookinfo-reviews"}},
      {"a ReplicaSet of its own (no hash suffix) keeps its name",
       {{"pod-template-hash", "abc"}},
       {{"ReplicaSet", "batch-runner", true}},
       "",
       {"batch-runner", "batch-runner", "unknown", "default"}},
      {"a StatefulSet's Pod; recommended labels win over classic ones",
       {{"app", "db"},
        {"app.kubernetes.io/name", "postgres"},
        {"version", "1"},
        {"app.kubernetes.io/version", "16.2"}},
       {{"StatefulSet", "pg", std::nullopt}},
       "",
       {"pg", "postgres", "16.2", "default"}},
      {"an owner that is not the controller is passed over",
       {},
       {{"ConfigMap", "holder", false}, {"Job", "report", true}},
       "",
       {"report", "report", "unknown", "default"}},
      {"a bare Pod is its own workload", {}, {}, "", {"pod-0", "pod-0", "unknown", "default"}},
  };
  for (const auto& c : cases) {
    k8s::Pod pod;
    pod.mutable_metadata()->set_name("pod-0");
    pod.mutable_metadata()->set_namespace_("ns");
    for (const auto& [k, v] : c.labels) (*pod.mutable_metadata()->mutable_labels())[k] = v;
    for (const auto& o : c.owners) {
      auto& owner = *pod.mutable_metadata()->add_owner_references();
      owner.set_kind(o.kind);
      owner.set_name(o.name);
      if (o.controller) owner.set_controller(*o.controller);
    }
    pod.mutable_spec()->set_service_account_name(c.service_account);
    const auto w = workload_metadata(pod);
    EXPECT_EQ((std::vector<std::string>{w.name(), w.app(), w.version(), w.service_account()}),
              c.want)
        << c.name;
    EXPECT_EQ(w.namespace_(), "ns") << c.name;
  }
}

}  // namespace
}  // namespace weft::cp::translate
