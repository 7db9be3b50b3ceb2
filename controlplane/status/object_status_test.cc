#include "controlplane/status/object_status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace weft::cp::status {
namespace {

namespace json = boost::json;

struct Fixture {
  model::Store store;
  translate::Mesh mesh;

  Fixture() {  // a route with a Service parent, and one policy
    k8s::HTTPRoute route;
    route.mutable_metadata()->set_name("reviews");
    route.mutable_metadata()->set_namespace_("default");
    route.mutable_metadata()->set_generation(3);
    auto* parent = route.mutable_spec()->add_parent_refs();
    parent->set_kind("Service");
    parent->set_name("reviews");
    parent->set_port(9080);
    store.put(route);
    add_policy("bad");
  }
  void add_policy(const std::string& name) {
    mesh::v1alpha1::TrafficPolicy policy;
    policy.mutable_metadata()->set_name(name);
    policy.mutable_metadata()->set_namespace_("default");
    policy.mutable_metadata()->set_generation(1);
    store.put(policy);
  }
};

TEST(StatusPatches, RoutesReportPerParentAndPoliciesReportConditions) {
  Fixture f;
  f.mesh.conditions = {
      {"HTTPRoute default/reviews", "Accepted", true, "Accepted", ""},
      {"HTTPRoute default/reviews", "ResolvedRefs", false, "BackendNotFound", "no Service ratings"},
      {"TrafficPolicy default/bad", "Accepted", false, "TargetNotFound", "x"}};
  WrittenState written;
  auto patches = status_patches(f.mesh, f.store, "2026-01-01T00:00:00Z", written);
  ASSERT_EQ(patches.size(), 2u);
  EXPECT_EQ(patches[0].path,
            "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes/reviews/status");
  auto route = json::parse(patches[0].body);
  const auto& parent = route.at("status").at("parents").at(0);
  EXPECT_EQ(parent.at("controllerName"), json::value(kControllerName));
  EXPECT_EQ(parent.at("parentRef").at("port"), json::value(9080));
  const auto& resolved = parent.at("conditions").at(1);
  EXPECT_EQ(resolved.at("status"), "False");
  EXPECT_EQ(resolved.at("reason"), "BackendNotFound");
  EXPECT_EQ(resolved.at("observedGeneration"), json::value(3));
  auto policy = json::parse(patches[1].body);
  EXPECT_EQ(policy.at("status").at("conditions").at(0).at("reason"), "TargetNotFound");
}

TEST(StatusPatches, UnchangedStatusIsNotWrittenAgainAndTransitionTimesStay) {
  Fixture f;
  f.mesh.conditions = {{"HTTPRoute default/reviews", "Accepted", true, "Accepted", ""}};
  WrittenState written;
  EXPECT_EQ(status_patches(f.mesh, f.store, "T1", written).size(), 2u);
  EXPECT_TRUE(status_patches(f.mesh, f.store, "T2", written).empty()) << "nothing changed";
  f.mesh.conditions.push_back({"TrafficPolicy default/bad", "Accepted", false, "Bad", "m"});
  auto patches = status_patches(f.mesh, f.store, "T3", written);
  ASSERT_EQ(patches.size(), 1u) << "only the policy changed";
  EXPECT_THAT(patches[0].body, ::testing::HasSubstr("\"lastTransitionTime\":\"T3\""));
  f.mesh.conditions[1].message = "other words";
  patches = status_patches(f.mesh, f.store, "T4", written);
  ASSERT_EQ(patches.size(), 1u);
  EXPECT_THAT(patches[0].body, ::testing::HasSubstr("\"lastTransitionTime\":\"T3\""))
      << "same status: the transition time stays";
}

}  // namespace
}  // namespace weft::cp::status
