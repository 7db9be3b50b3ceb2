#include "controlplane/translate/routes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <re2/re2.h>

#include "common/yaml_proto.h"

namespace weft::cp::translate {
namespace {

using ::testing::HasSubstr;

k8s::HTTPRoute route_from(std::string_view spec_yaml) {
  k8s::HTTPRoute route;
  auto text =
      std::string("metadata: {name: r, namespace: default}\nspec:\n") + std::string(spec_yaml);
  auto parsed = yaml::parse_message(text, "route.yaml", route);
  EXPECT_TRUE(parsed) << parsed.error().message;
  return route;
}

// Services that exist: reviews-v1 and reviews-v2 on port 9080.
std::optional<std::string> resolve(const std::string& ns, const std::string& name,
                                   std::uint32_t port) {
  if (port != 9080 || (name != "reviews-v1" && name != "reviews-v2")) return std::nullopt;
  return name + "." + ns + ":9080";
}

TEST(PathPrefix, IsSegmentAware) {
  RE2 re(path_prefix_regex("/api/"));
  EXPECT_TRUE(RE2::FullMatch("/api", re));
  EXPECT_TRUE(RE2::FullMatch("/api/", re));
  EXPECT_TRUE(RE2::FullMatch("/api/v1", re));
  EXPECT_FALSE(RE2::FullMatch("/apiv1", re));
  RE2 dotted(path_prefix_regex("/a.b"));
  EXPECT_FALSE(RE2::FullMatch("/axb", dotted));
}

TEST(TranslateRules, CanarySplitAndHeaderMatchOrderedByPrecedence) {
  auto routes = translate_rules(route_from(R"(
  rules:
    - backendRefs: [{name: reviews-v1, port: 9080, weight: 90}, {name: reviews-v2, port: 9080, weight: 10}]
    - matches: [{headers: [{name: x-canary, value: "1"}]}]
      backendRefs: [{name: reviews-v2, port: 9080}]
      timeouts: {request: 2s, backendRequest: 500ms}
)"),
                                resolve);
  ASSERT_TRUE(routes) << routes.error().message;
  ASSERT_EQ(routes->rules.size(), 2u);
  // More header matches first, though declared second.
  const auto& canary = routes->rules[0].route;
  ASSERT_EQ(canary.match().headers_size(), 1);
  EXPECT_EQ(canary.match().headers(0).exact(), "1");
  EXPECT_EQ(canary.forward().clusters(0).name(), "reviews-v2.default:9080");
  EXPECT_EQ(canary.timeout().seconds(), 2);
  EXPECT_EQ(canary.per_try_timeout().nanos(), 500'000'000);
  const auto& split = routes->rules[1].route;
  EXPECT_EQ(split.match().prefix(), "/");
  ASSERT_EQ(split.forward().clusters_size(), 2);
  EXPECT_EQ(split.forward().clusters(0).weight(), 90u);
}

TEST(TranslateRules, ExactBeatsLongerPrefixBeatsShorterPrefix) {
  auto routes = translate_rules(route_from(R"(
  rules:
    - matches: [{path: {value: /a}}, {path: {type: Exact, value: /a/b}}, {path: {value: /a/b}}]
      backendRefs: [{name: reviews-v1, port: 9080}]
)"),
                                resolve);
  ASSERT_TRUE(routes);
  ASSERT_EQ(routes->rules.size(), 3u);
  EXPECT_EQ(routes->rules[0].route.match().exact(), "/a/b");
  EXPECT_EQ(routes->rules[1].route.match().regex(), path_prefix_regex("/a/b"));
  EXPECT_EQ(routes->rules[2].route.match().regex(), path_prefix_regex("/a"));
}

// request is the request timeout, backendRequest the per-try one (GEP-1742).
// -1: absent (a policy or mesh default may fill it); 0: an explicit "none".
TEST(TranslateRules, TimeoutsRequestAndBackendRequest) {
  struct Case {
    const char* timeouts;
    std::int64_t request_ms, per_try_ms;
  };
  auto millis = [](bool present, const google::protobuf::Duration& d) -> std::int64_t {
    return present ? d.seconds() * 1000 + d.nanos() / 1'000'000 : -1;
  };
  for (const auto& c : std::vector<Case>{{"{}", -1, -1},
                                         {"{request: 0s}", 0, -1},
                                         {"{backendRequest: 0s}", -1, 0},
                                         {"{request: 3s}", 3000, -1},
                                         {"{request: 0s, backendRequest: 250ms}", 0, 250},
                                         {"{request: 2s, backendRequest: 500ms}", 2000, 500},
                                         {"{request: 2s, backendRequest: 2s}", 2000, 2000}}) {
    auto routes = translate_rules(
        route_from(fmt::format("  rules: [{{timeouts: {}, backendRefs: [{{name: reviews-v1, "
                               "port: 9080}}]}}]\n",
                               c.timeouts)),
        resolve);
    ASSERT_TRUE(routes) << c.timeouts << ": " << routes.error().message;
    const auto& route = routes->rules[0].route;
    EXPECT_EQ(millis(route.has_timeout(), route.timeout()), c.request_ms) << c.timeouts;
    EXPECT_EQ(millis(route.has_per_try_timeout(), route.per_try_timeout()), c.per_try_ms)
        << c.timeouts;
    EXPECT_EQ(route.timeout_origins().request(), c.request_ms >= 0 ? "route" : "") << c.timeouts;
    EXPECT_EQ(route.timeout_origins().per_try(), c.per_try_ms >= 0 ? "route" : "") << c.timeouts;
  }
}

// GEP-1731: attempts are retries; codes (else 502-504) and failures to
// reach the backend are retried; backoff is the base interval.
TEST(TranslateRules, RetryAsGep1731) {
  auto routes = translate_rules(
      route_from("  rules: [{retry: {codes: [503, 429], attempts: 3, backoff: 50ms}, "
                 "backendRefs: [{name: reviews-v1, port: 9080}]}, {retry: {}, backendRefs: "
                 "[{name: reviews-v1, port: 9080}], matches: [{path: {value: /b}}]}]\n"),
      resolve);
  ASSERT_TRUE(routes) << routes.error().message;
  const auto& listed = routes->rules[1].route.retry();
  EXPECT_EQ(listed.attempts(), 4u);
  EXPECT_THAT(listed.retry_on(), ::testing::ElementsAre("connect-failure", "refused-stream",
                                                        "reset", "retriable-status-codes"));
  EXPECT_THAT(listed.retriable_status_codes(), ::testing::ElementsAre(503u, 429u));
  EXPECT_EQ(listed.base_interval().nanos(), 50'000'000);
  EXPECT_EQ(listed.origin(), "route");
  const auto& defaults = routes->rules[0].route.retry();
  EXPECT_EQ(defaults.attempts(), 3u);
  EXPECT_THAT(defaults.retry_on(), ::testing::Contains("gateway-error"));
}

struct Bad {
  const char* name;
  const char* spec;
  const char* type;
  const char* reason;
  const char* message;
};

class TranslateRulesRejects : public testing::TestWithParam<Bad> {};

TEST_P(TranslateRulesRejects, WithReason) {
  auto routes = translate_rules(route_from(GetParam().spec), resolve);
  ASSERT_FALSE(routes);
  EXPECT_EQ(routes.error().type, GetParam().type);
  EXPECT_EQ(routes.error().reason, GetParam().reason);
  EXPECT_THAT(routes.error().message, HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TranslateRulesRejects,
    testing::Values(
        Bad{"weights_zero",
            "  rules: [{backendRefs: [{name: reviews-v1, port: 9080, weight: 0}]}]\n", "Accepted",
            "UnsupportedValue", "weights sum to 0"},
        Bad{"mirror_filter",
            "  rules: [{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: "
            "reviews-v1, port: 9080}}}], backendRefs: [{name: reviews-v1, port: 9080}]}]\n",
            "Accepted", "UnsupportedValue", "filter type RequestMirror is not supported"},
        Bad{"bad_regex",
            "  rules: [{matches: [{path: {type: RegularExpression, value: '(['}}], backendRefs: "
            "[{name: reviews-v1, port: 9080}]}]\n",
            "Accepted", "UnsupportedValue", "path regex"},
        Bad{"bad_timeout",
            "  rules: [{timeouts: {request: soon}, backendRefs: [{name: reviews-v1, port: "
            "9080}]}]\n",
            "Accepted", "UnsupportedValue", "timeouts.request 'soon' is not a duration"},
        Bad{"backend_request_longer_than_request",
            "  rules: [{timeouts: {request: 1s, backendRequest: 2s}, backendRefs: [{name: "
            "reviews-v1, port: 9080}]}]\n",
            "Accepted", "UnsupportedValue",
            "timeouts.backendRequest '2s' cannot be longer than timeouts.request '1s'"},
        Bad{"retry_code",
            "  rules: [{retry: {codes: [200]}, backendRefs: [{name: reviews-v1, "
            "port: 9080}]}]\n",
            "Accepted", "UnsupportedValue", "retry.codes 200 is not 400 to 599"},
        Bad{"negative_weight",
            "  rules: [{backendRefs: [{name: reviews-v1, port: 9080, weight: -1}]}]\n", "Accepted",
            "UnsupportedValue", "must not be negative"}),
    [](const auto& test) { return std::string(test.param.name); });

// A backendRef that cannot be resolved keeps its share, which the proxy
// answers 500; the other backend and the other rule keep theirs.
struct Unresolved {
  const char* name;
  const char* ref;  // the bad backendRef, weight 10 beside reviews-v1 at 90
  const char* reason;
  const char* message;
};

class TranslateRulesUnresolved : public testing::TestWithParam<Unresolved> {};

TEST_P(TranslateRulesUnresolved, KeepTheRestOfTheRoute) {
  auto routes = translate_rules(route_from(fmt::format(R"(
  rules:
    - matches: [{{headers: [{{name: x-canary, value: "1"}}]}}]
      backendRefs: [{{name: reviews-v2, port: 9080}}]
    - backendRefs: [{{name: reviews-v1, port: 9080, weight: 90}}, {}]
)",
                                                       GetParam().ref)),
                                resolve);
  ASSERT_TRUE(routes) << routes.error().message;
  ASSERT_EQ(routes->unresolved.size(), 1u);
  EXPECT_EQ(routes->unresolved[0].type, "ResolvedRefs");
  EXPECT_EQ(routes->unresolved[0].reason, GetParam().reason);
  EXPECT_THAT(routes->unresolved[0].message, HasSubstr(GetParam().message));
  ASSERT_EQ(routes->rules.size(), 2u);
  EXPECT_EQ(routes->rules[0].route.forward().clusters(0).name(), "reviews-v2.default:9080");
  const auto& split = routes->rules[1].route.forward();
  ASSERT_EQ(split.clusters_size(), 2);
  EXPECT_EQ(split.clusters(0).name(), "reviews-v1.default:9080");
  EXPECT_EQ(split.clusters(0).weight(), 90u);
  EXPECT_EQ(split.clusters(1).name(), "");
  EXPECT_EQ(split.clusters(1).weight(), 10u);
  EXPECT_THAT(split.clusters(1).unresolved(), HasSubstr(GetParam().reason));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TranslateRulesUnresolved,
    testing::Values(Unresolved{"missing_service", "{name: nope, port: 9080, weight: 10}",
                               "BackendNotFound", "Service default/nope port 9080 does not exist"},
                    Unresolved{"missing_port", "{name: reviews-v2, weight: 10}", "BackendNotFound",
                               "needs a port"},
                    Unresolved{"other_namespace",
                               "{name: reviews-v2, namespace: x, port: 9080, weight: 10}",
                               "RefNotPermitted", "ReferenceGrant"},
                    Unresolved{"service_kind_only",
                               "{kind: Pod, name: reviews-v2, port: 9080, weight: 10}",
                               "InvalidKind", "kind Pod"}),
    [](const auto& test) { return std::string(test.param.name); });

TEST(TranslateRules, AnUnresolvedBackendWithWeightZeroGetsNoShare) {
  auto routes = translate_rules(route_from(R"(
  rules:
    - backendRefs: [{name: reviews-v1, port: 9080}, {name: nope, port: 9080, weight: 0}]
)"),
                                resolve);
  ASSERT_TRUE(routes) << routes.error().message;
  EXPECT_EQ(routes->unresolved.size(), 1u) << "still reported in ResolvedRefs";
  ASSERT_EQ(routes->rules[0].route.forward().clusters_size(), 1);
}

TEST(TranslateRules, RedirectAndNoBackendsMeans500) {
  auto routes = translate_rules(route_from(R"(
  rules:
    - matches: [{path: {type: Exact, value: /old}}]
      filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /new}, statusCode: 301}}]
    - matches: [{path: {type: Exact, value: /nowhere}}]
)"),
                                resolve);
  ASSERT_TRUE(routes) << routes.error().message;
  ASSERT_EQ(routes->rules.size(), 2u);
  EXPECT_EQ(routes->rules[0].route.redirect().path(), "/new");
  EXPECT_EQ(routes->rules[0].route.redirect().status(), 301u);
  EXPECT_EQ(routes->rules[1].route.direct_response().status(), 500u);
}

}  // namespace
}  // namespace weft::cp::translate
