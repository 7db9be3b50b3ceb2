#include "proxy/layers/authorization.h"

#include <gtest/gtest.h>

namespace weft::proxy::layers::authorization {
namespace {

constexpr std::string_view kClient = "spiffe://cluster.local/ns/default/sa/client";
constexpr std::string_view kAdmin = "spiffe://cluster.local/ns/ops/sa/admin";

Patterns patterns(std::vector<std::string> list) { return Patterns::parse(list); }

Policy allow(std::string name, std::vector<Rule> rules, std::vector<std::uint32_t> ports = {}) {
  return {std::move(name), false, std::move(ports), std::move(rules)};
}
Policy deny(std::string name, std::vector<Rule> rules, std::vector<std::uint32_t> ports = {}) {
  return {std::move(name), true, std::move(ports), std::move(rules)};
}

Rule from_principals(std::vector<std::string> principals) {
  Peer peer;
  peer.principals = patterns(std::move(principals));
  return {{peer}, {}};
}
Rule from_namespaces(std::vector<std::string> namespaces) {
  Peer peer;
  peer.namespaces = patterns(std::move(namespaces));
  return {{peer}, {}};
}
Rule from_unauthenticated() {
  Peer peer;
  peer.unauthenticated = true;
  return {{peer}, {}};
}
Rule to_paths(std::vector<std::string> paths, std::vector<std::string> methods = {}) {
  Operation op;
  op.paths = patterns(std::move(paths));
  op.methods = std::move(methods);
  return {{}, {op}};
}
Rule to_ports(std::vector<std::uint32_t> ports) {
  Operation op;
  op.ports = std::move(ports);
  return {{}, {op}};
}

Request http(std::string_view identity, std::string_view method, std::string_view target,
             std::uint32_t port = 9080) {
  return {identity, port, true, method, target};
}
Request tcp(std::string_view identity, std::uint32_t port) {
  return {identity, port, false, {}, {}};
}

struct Case {
  std::string name;
  std::vector<Policy> policies;
  Request request;
  bool allowed;
  std::string policy;  // the denying policy's name
};

class Decide : public ::testing::TestWithParam<Case> {};

TEST_P(Decide, Verdict) {
  const auto& c = GetParam();
  auto verdict = decide(c.policies, c.request);
  EXPECT_EQ(verdict.allowed, c.allowed);
  if (c.allowed) {
    EXPECT_EQ(verdict.policy, nullptr);
  } else {
    ASSERT_NE(verdict.policy, nullptr);
    EXPECT_EQ(verdict.policy->name, c.policy);
  }
}

std::vector<Case> cases() {
  Peer not_client;
  not_client.not_principals = patterns({std::string(kClient)});
  Peer any_authenticated;
  any_authenticated.principals = patterns({"*"});
  Peer client_in_default;  // both fields must match
  client_in_default.principals = patterns({std::string(kClient)});
  client_in_default.namespaces = patterns({"spiffe://cluster.local/ns/ops/sa/*"});
  Operation not_get;
  not_get.not_methods = {"GET"};
  Operation not_health;
  not_health.not_paths = patterns({"/healthz"});
  return {
      {"no policies allow", {}, http("", "GET", "/"), true, ""},
      {"allow matching principal",
       {allow("d/a", {from_principals({std::string(kClient)})})},
       http(kClient, "GET", "/"),
       true,
       ""},
      {"allow policy, other caller denied",
       {allow("d/a", {from_principals({std::string(kClient)})})},
       http(kAdmin, "GET", "/"),
       false,
       "d/a"},
      {"allow policy, plaintext denied",
       {allow("d/a", {from_principals({"*"})})},
       http("", "GET", "/"),
       false,
       "d/a"},
      {"* is any verified identity",
       {allow("d/a", {from_principals({"*"})})},
       http(kAdmin, "GET", "/"),
       true,
       ""},
      {"allow with no rules allows nothing",
       {allow("d/nothing", {})},
       http(kClient, "GET", "/"),
       false,
       "d/nothing"},
      {"deny with no rules denies nothing",
       {deny("d/none", {})},
       http(kClient, "GET", "/"),
       true,
       ""},
      {"empty rule matches everything",
       {deny("d/all", {Rule{}})},
       http("", "GET", "/"),
       false,
       "d/all"},
      {"deny before allow",
       {allow("d/a", {from_principals({"*"})}),
        deny("d/d", {from_principals({std::string(kClient)})})},
       http(kClient, "GET", "/"),
       false,
       "d/d"},
      {"deny not matching, allow matching",
       {allow("d/a", {from_principals({"*"})}),
        deny("d/d", {from_principals({std::string(kAdmin)})})},
       http(kClient, "GET", "/"),
       true,
       ""},
      {"any allow policy may match",
       {allow("d/a", {from_principals({std::string(kAdmin)})}),
        allow("d/b", {from_principals({std::string(kClient)})})},
       http(kClient, "GET", "/"),
       true,
       ""},
      {"none of two allows: the first names the denial",
       {allow("d/a", {from_principals({std::string(kAdmin)})}), allow("d/b", {to_paths({"/x"})})},
       http(kClient, "GET", "/"),
       false,
       "d/a"},
      {"namespace pattern",
       {allow("d/a", {from_namespaces({"spiffe://cluster.local/ns/ops/sa/*"})})},
       http(kAdmin, "GET", "/"),
       true,
       ""},
      {"namespace pattern, other namespace",
       {allow("d/a", {from_namespaces({"spiffe://cluster.local/ns/ops/sa/*"})})},
       http(kClient, "GET", "/"),
       false,
       "d/a"},
      {"fields of one source are all required",
       {allow("d/a", {Rule{{client_in_default}, {}}})},
       http(kClient, "GET", "/"),
       false,
       "d/a"},
      {"notPrincipals matches plaintext (deny)",
       {deny("d/d", {Rule{{not_client}, {}}})},
       http("", "GET", "/"),
       false,
       "d/d"},
      {"notPrincipals spares the named caller",
       {deny("d/d", {Rule{{not_client}, {}}})},
       http(kClient, "GET", "/"),
       true,
       ""},
      {"unauthenticated matches plaintext",
       {deny("d/d", {from_unauthenticated()})},
       http("", "GET", "/"),
       false,
       "d/d"},
      {"unauthenticated spares verified callers",
       {deny("d/d", {from_unauthenticated()})},
       http(kClient, "GET", "/"),
       true,
       ""},
      {"exact path",
       {allow("d/a", {to_paths({"/reviews"})})},
       http("", "GET", "/reviews"),
       true,
       ""},
      {"exact path is not a prefix",
       {allow("d/a", {to_paths({"/reviews"})})},
       http("", "GET", "/reviews/1"),
       false,
       "d/a"},
      {"prefix path",
       {deny("d/d", {to_paths({"/admin/*"})})},
       http(kClient, "GET", "/admin/x"),
       false,
       "d/d"},
      {"query is not the path",
       {allow("d/a", {to_paths({"/reviews"})})},
       http("", "GET", "/reviews?id=1"),
       true,
       ""},
      {"dot segments cannot escape a deny",
       {deny("d/d", {to_paths({"/admin/*"})})},
       http(kClient, "GET", "/public/../admin/users"),
       false,
       "d/d"},
      {"encoded dots cannot escape a deny",
       {deny("d/d", {to_paths({"/admin/*"})})},
       http(kClient, "GET", "/public/%2e%2e/admin/users"),
       false,
       "d/d"},
      {"doubled slashes cannot escape a deny",
       {deny("d/d", {to_paths({"/admin/*"})})},
       http(kClient, "GET", "//admin//users"),
       false,
       "d/d"},
      {"method must match",
       {allow("d/a", {to_paths({"*"}, {"GET"})})},
       http(kClient, "POST", "/"),
       false,
       "d/a"},
      {"notMethods",
       {deny("d/d", {Rule{{}, {not_get}}})},
       http(kClient, "DELETE", "/"),
       false,
       "d/d"},
      {"notMethods spares GET",
       {deny("d/d", {Rule{{}, {not_get}}})},
       http(kClient, "GET", "/"),
       true,
       ""},
      {"notPaths",
       {allow("d/a", {Rule{{}, {not_health}}})},
       http("", "GET", "/healthz"),
       false,
       "d/a"},
      {"operation ports",
       {deny("d/d", {to_ports({9090})})},
       http(kClient, "GET", "/", 9090),
       false,
       "d/d"},
      {"operation ports, other port",
       {deny("d/d", {to_ports({9090})})},
       http(kClient, "GET", "/", 9080),
       true,
       ""},
      {"policy ports: an allow on another port does not apply",
       {allow("d/a", {from_principals({std::string(kAdmin)})}, {9090})},
       http(kClient, "GET", "/", 9080),
       true,
       ""},
      {"policy ports: the allow on this port does",
       {allow("d/a", {from_principals({std::string(kAdmin)})}, {9080})},
       http(kClient, "GET", "/", 9080),
       false,
       "d/a"},
      {"tcp: port rule applies", {deny("d/d", {to_ports({5432})})}, tcp("", 5432), false, "d/d"},
      {"tcp: allow with HTTP fields matches nothing",
       {allow("d/a", {to_paths({"*"})})},
       tcp(kClient, 5432),
       false,
       "d/a"},
      {"tcp: deny with HTTP fields is matched without them",
       {deny("d/d", {to_paths({"/x"})})},
       tcp(kClient, 5432),
       false,
       "d/d"},
      {"tcp: allow by caller", {allow("d/a", {from_unauthenticated()})}, tcp("", 5432), true, ""},
  };
}

INSTANTIATE_TEST_SUITE_P(Table, Decide, ::testing::ValuesIn(cases()), [](const auto& test) {
  std::string name;
  for (char c : test.param.name) {
    name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  }
  return name;
});

TEST(NormalizePath, Table) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"/", "/"},
      {"", "/"},
      {"/a/b", "/a/b"},
      {"/a/b/", "/a/b/"},
      {"/a//b", "/a/b"},
      {"/a/./b", "/a/b"},
      {"/a/../b", "/b"},
      {"/../../etc", "/etc"},
      {"/a/..", "/"},
      {"/a/b/.", "/a/b/"},
      {"/a?x=/../y", "/a"},
      {"/%61dmin", "/admin"},
      {"/a%2Fb", "/a%2Fb"},  // an encoded slash is not a separator
      {"/%2e%2e/admin", "/admin"},
      {"/a%zz", "/a%zz"},
      {"/a%4", "/a%4"},
  };
  for (const auto& [in, out] : cases) EXPECT_EQ(normalize_path(in), out) << in;
}

TEST(Patterns, MatchNoIdentity) {
  auto any = patterns({"*"});
  EXPECT_FALSE(any.matches(""));
  EXPECT_TRUE(any.matches("spiffe://x"));
  auto prefix = patterns({"spiffe://td/ns/a/*"});
  EXPECT_TRUE(prefix.matches("spiffe://td/ns/a/sa/b"));
  EXPECT_FALSE(prefix.matches("spiffe://td/ns/ab/sa/b"));
}

}  // namespace
}  // namespace weft::proxy::layers::authorization
