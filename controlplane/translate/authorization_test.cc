// AuthorizationPolicy → each workload's policies: who a target covers, on
// which ports, the callers as SPIFFE ID patterns, and the rejections.
#include "controlplane/translate/authorization.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>

#include "controlplane/model/test_store.h"
#include "controlplane/translate/proxy.h"

namespace weft::cp::translate {
namespace {

using model::store_of;

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// reviews (app=reviews) serves on container port 9080 behind Service port
// 80 (targetPort by name) and 9090 behind the metrics Service; ratings is
// another app in the same namespace; ops/admin is elsewhere.
constexpr std::string_view kMesh = R"(
apiVersion: v1
kind: Pod
metadata: {name: reviews-0, labels: {app: reviews}}
spec:
  serviceAccountName: reviews
  containers: [{name: app, ports: [{name: http, containerPort: 9080}, {containerPort: 9090}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: ratings-0, labels: {app: ratings}}
spec: {containers: [{name: app, ports: [{containerPort: 9080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: admin-0, namespace: ops, labels: {app: admin}}
spec: {containers: [{name: app}]}
---
apiVersion: v1
kind: Service
metadata: {name: reviews}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: reviews-metrics}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9090}]
)";

std::shared_ptr<const Mesh> compile_with(std::string_view policies) {
  return compile(*store_of(std::string(kMesh) + "---\n" + std::string(policies)));
}

const Condition* accepted(const Mesh& mesh, std::string_view object) {
  for (const auto& c : mesh.conditions) {
    if (c.object == object && c.type == "Accepted") return &c;
  }
  return nullptr;
}

const std::vector<mesh::v1::AuthorizationPolicy>& enforced(const Mesh& mesh, const std::string& ns,
                                                           const std::string& name) {
  return mesh.workloads.at({ns, name}).authorization;
}

TEST(Authorization, ServiceTargetCoversItsPodsOnItsTargetPorts) {
  auto mesh = compile_with(R"(
apiVersion: mesh.weft.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: reviews-callers}
spec:
  targetRef: {kind: Service, name: reviews}
  rules:
    - from: [{serviceAccounts: [default/productpage], namespaces: [ops]}]
      to: [{methods: [GET], paths: ["/reviews/*"]}]
)");
  const auto& policies = enforced(*mesh, "default", "reviews-0");
  ASSERT_EQ(policies.size(), 1u);
  const auto& policy = policies[0];
  EXPECT_EQ(policy.name(), "default/reviews-callers");
  EXPECT_EQ(policy.action(), mesh::v1::AuthorizationPolicy::ACTION_ALLOW);
  EXPECT_THAT(policy.ports(), ElementsAre(9080u)) << "targetPort http, by name";
  ASSERT_EQ(policy.rules_size(), 1);
  const auto& from = policy.rules(0).from(0);
  EXPECT_THAT(from.principals(), ElementsAre("spiffe://cluster.local/ns/default/sa/productpage"));
  EXPECT_THAT(from.namespaces(), ElementsAre("spiffe://cluster.local/ns/ops/sa/*"));
  EXPECT_THAT(policy.rules(0).to(0).paths(), ElementsAre("/reviews/*"));
  EXPECT_TRUE(enforced(*mesh, "default", "ratings-0").empty()) << "not selected";
  const auto* condition = accepted(*mesh, "AuthorizationPolicy default/reviews-callers");
  ASSERT_NE(condition, nullptr);
  EXPECT_TRUE(condition->ok);
  EXPECT_THAT(condition->message, HasSubstr("covers 1 workload: default/reviews-0"));
}

TEST(Authorization, TargetPortNarrowsToOneServicePort) {
  auto mesh = compile_with(R"(
apiVersion: mesh.weft.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: metrics}
spec:
  targetRef: {kind: Service, name: reviews-metrics, port: 9090}
  action: DENY
  rules: [{from: [{unauthenticated: true}]}]
)");
  const auto& policy = enforced(*mesh, "default", "reviews-0").at(0);
  EXPECT_EQ(policy.action(), mesh::v1::AuthorizationPolicy::ACTION_DENY);
  EXPECT_THAT(policy.ports(), ElementsAre(9090u));
  EXPECT_TRUE(policy.rules(0).from(0).unauthenticated());
}

TEST(Authorization, NamespaceTargetCoversEveryWorkloadOfItsNamespaceOnEveryPort) {
  auto mesh = compile_with(R"(
apiVersion: mesh.weft.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: default-deny}
spec:
  targetRef: {kind: Namespace, name: default}
)");
  EXPECT_EQ(enforced(*mesh, "default", "reviews-0").size(), 1u);
  EXPECT_EQ(enforced(*mesh, "default", "ratings-0").size(), 1u);
  EXPECT_TRUE(enforced(*mesh, "default", "reviews-0")[0].ports().empty());
  EXPECT_TRUE(enforced(*mesh, "ops", "admin-0").empty());
}

TEST(Authorization, TrustDomainComesFromTheMeshConfig) {
  auto mesh = compile_with(R"(
apiVersion: mesh.weft.io/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec: {trustDomain: example.org}
---
apiVersion: mesh.weft.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: p}
spec:
  targetRef: {kind: Service, name: reviews}
  rules: [{from: [{notServiceAccounts: [ops/admin]}]}]
)");
  EXPECT_THAT(enforced(*mesh, "default", "reviews-0")[0].rules(0).from(0).not_principals(),
              ElementsAre("spiffe://example.org/ns/ops/sa/admin"));
}

TEST(Authorization, ProxyConfigCarriesThePoliciesAndTheirPorts) {
  auto mesh = compile_with(R"(
apiVersion: mesh.weft.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: p}
spec: {targetRef: {kind: Service, name: reviews}, action: DENY, rules: [{}]}
)");
  auto config = translate(*mesh, {"reviews-0", "default"});
  ASSERT_TRUE(config) << config.error().message;
  ASSERT_EQ(config->authorization().policies_size(), 1);
  EXPECT_EQ(config->authorization().policies(0).name(), "default/p");
  auto other = translate(*mesh, {"ratings-0", "default"});
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->has_authorization());
  // Pods whose policies differ never share a translation.
  EXPECT_NE(*translation_key(*mesh, {"reviews-0", "default"}),
            *translation_key(*mesh, {"ratings-0", "default"}));
}

struct Bad {
  const char* name;
  const char* spec;
  const char* reason;
  const char* message;
};

class RejectedPolicy : public testing::TestWithParam<Bad> {};

TEST_P(RejectedPolicy, SaysWhyAndCoversNoOne) {
  const auto& c = GetParam();
  auto mesh = compile_with(std::string(R"(
apiVersion: mesh.weft.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: bad}
spec: )") + c.spec + "\n");
  const auto* condition = accepted(*mesh, "AuthorizationPolicy default/bad");
  ASSERT_NE(condition, nullptr);
  EXPECT_FALSE(condition->ok);
  EXPECT_EQ(condition->reason, c.reason);
  EXPECT_THAT(condition->message, HasSubstr(c.message));
  EXPECT_TRUE(enforced(*mesh, "default", "reviews-0").empty());
}

INSTANTIATE_TEST_SUITE_P(
    Table, RejectedPolicy,
    testing::Values(
        Bad{"UnknownService", "{targetRef: {kind: Service, name: nope}}", "TargetNotFound",
            "no Service default/nope"},
        Bad{"UnknownServicePort", "{targetRef: {kind: Service, name: reviews, port: 1}}",
            "InvalidValue", "has no port 1"},
        Bad{"OtherNamespace", "{targetRef: {kind: Namespace, name: ops}}", "InvalidValue",
            "the policy's own namespace"},
        Bad{"Deployment", "{targetRef: {group: apps, kind: Deployment, name: x}}", "InvalidValue",
            "is not a target"},
        Bad{"Action", "{targetRef: {kind: Service, name: reviews}, action: AUDIT}", "InvalidValue",
            "'AUDIT' is not ALLOW or DENY"},
        Bad{"ServiceAccount",
            "{targetRef: {kind: Service, name: reviews}, rules: [{from: [{serviceAccounts: "
            "[client]}]}]}",
            "InvalidValue", "spec.rules[0].from[0].serviceAccounts[0]: 'client' is not"},
        Bad{"Identity",
            "{targetRef: {kind: Service, name: reviews}, rules: [{from: [{identities: "
            "[\"spiffe://a/*/b\"]}]}]}",
            "InvalidValue", "is not a SPIFFE ID pattern"},
        Bad{"UnauthenticatedWithAccount",
            "{targetRef: {kind: Service, name: reviews}, rules: [{from: [{unauthenticated: true, "
            "namespaces: [ops]}]}]}",
            "InvalidValue", "unauthenticated matches plaintext callers"},
        Bad{"Method",
            "{targetRef: {kind: Service, name: reviews}, rules: [{to: [{methods: [get]}]}]}",
            "InvalidValue", "spec.rules[0].to[0].methods[0]: 'get'"},
        Bad{"Path",
            "{targetRef: {kind: Service, name: reviews}, rules: [{to: [{paths: [\"/a*b\"]}]}]}",
            "InvalidValue", "is not a path pattern"}),
    [](const auto& test) { return std::string(test.param.name); });

}  // namespace
}  // namespace weft::cp::translate
