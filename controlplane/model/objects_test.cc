#include "controlplane/model/objects.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/yaml_proto.h"

namespace weft::cp::model {
namespace {

using ::testing::HasSubstr;

Result<std::variant<Object, Unrecognized>> parse(std::string_view text) {
  auto documents = yaml::load_documents(text, "m.yaml");
  if (!documents) return tl::unexpected(documents.error());
  return parse_object(documents->at(0), "m.yaml");
}

TEST(ParseObject, ServiceIsLenientAndGetsTheDefaultNamespace) {
  auto parsed = parse(R"(
apiVersion: v1
kind: Service
metadata: {name: reviews, creationTimestamp: "2026-01-01T00:00:00Z", managedFields: []}
spec:
  type: ClusterIP
  sessionAffinity: None
  selector: {app: reviews}
  ports: [{name: http, port: 9080, targetPort: 9080}]
)");
  ASSERT_TRUE(parsed) << parsed.error().message;
  const auto& service = std::get<k8s::Service>(std::get<Object>(*parsed));
  EXPECT_EQ(service.metadata().namespace_(), "default");
  EXPECT_EQ(service.spec().ports(0).target_port(), "9080");
  EXPECT_EQ(key_of(std::get<Object>(*parsed)).text(), "Service default/reviews");
}

TEST(ParseObject, HTTPRouteSpecIsStrict) {
  auto parsed = parse(R"(
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  parentRefs: [{kind: Service, name: reviews}]
  rules:
    - backendRefs: [{name: reviews, port: 9080, wieght: 3}]
)");
  ASSERT_FALSE(parsed);
  EXPECT_THAT(parsed.error().message, HasSubstr("m.yaml:8:49:"));
  EXPECT_THAT(parsed.error().message, HasSubstr("spec.rules[0].backendRefs[0]"));
  EXPECT_THAT(parsed.error().message, HasSubstr("did you mean 'weight'"));
}

// Real Gateway API fields the mesh does not implement yet are "not
// supported", with what is; a misspelling is still "unknown".
TEST(ParseObject, GatewayFieldsNotImplementedAreNotSupportedNotUnknown) {
  struct Case {
    const char* rule;
    std::vector<const char*> expected;
  };
  for (const auto& c : std::vector<Case>{
           {"{sessionPersistence: {type: Cookie}, backendRefs: [{name: r, port: 80}]}",
            {"m.yaml:7:", "spec.rules[0]", "field 'sessionPersistence' is not supported yet",
             "supported here: name, matches, filters, backendRefs, timeouts, retry"}},
           {"{retry: {attempt: 2}, backendRefs: [{name: r, port: 80}]}",
            {"unknown field 'attempt'"}},
           {"{filters: [{type: CORS, cors: {}}]}",
            {"spec.rules[0].filters[0]", "field 'cors' is not supported yet"}},
           {"{sesionPersistence: {}}", {"unknown field 'sesionPersistence'"}}}) {
    auto parsed = parse(fmt::format(R"(
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: r}}
spec:
  parentRefs: [{{kind: Service, name: r}}]
  rules: [{}]
)",
                                    c.rule));
    ASSERT_FALSE(parsed) << c.rule;
    for (const auto* part : c.expected) {
      EXPECT_THAT(parsed.error().message, HasSubstr(part)) << c.rule;
    }
  }
}

TEST(ParseObject, ForeignKindsAreRecognisedAsSuch) {
  auto parsed = parse("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(std::get<Unrecognized>(*parsed).kind, "ConfigMap");
}

TEST(ParseObject, UnknownKindInOurGroupIsAnError) {
  auto parsed =
      parse("apiVersion: mesh.weft.io/v1alpha1\nkind: Trafficpolicy\nmetadata: {name: x}\n");
  ASSERT_FALSE(parsed);
  EXPECT_THAT(parsed.error().message, HasSubstr("kind is not supported"));
}

TEST(ParseObject, NameIsRequired) {
  auto parsed = parse("apiVersion: v1\nkind: Service\nmetadata: {}\n");
  ASSERT_FALSE(parsed);
  EXPECT_THAT(parsed.error().message, HasSubstr("metadata.name is required"));
}

}  // namespace
}  // namespace weft::cp::model
