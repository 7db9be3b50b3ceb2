#include "controlplane/meshctl/install.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/yaml_proto.h"

namespace weft::meshctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(Install, EmbedsTheCrdsAndTheControlPlane) {
  std::vector<std::string> paths;
  for (const auto& m : install_manifests()) paths.emplace_back(m.path);
  EXPECT_THAT(paths, ::testing::Contains("deploy/crds/mesh.weft.io_trafficpolicies.yaml"));
  EXPECT_THAT(paths, ::testing::Contains("deploy/controlplane/20-controlplane.yaml"));
}

TEST(Install, RendersEveryDocumentWithTheVersion) {
  InstallSettings settings;
  settings.version = "1.2.3";
  auto text = render_install(settings);
  EXPECT_THAT(text, HasSubstr("image: ghcr.io/weft-mesh/mesh-controlplane:1.2.3"));
  EXPECT_THAT(text, Not(HasSubstr("WEFT_VERSION")));
  auto documents = yaml::load_documents(text, "install");
  ASSERT_TRUE(documents) << documents.error().message;
  for (const auto& document : *documents) {
    EXPECT_TRUE(document["apiVersion"] && document["kind"] && document["metadata"]["name"]);
  }
}

// Every object lands in the chosen namespace, and everything naming that
// namespace (RBAC subjects, the webhook's Service, the injected proxies'
// control plane address) follows it.
TEST(Install, SettingsReachEveryObject) {
  InstallSettings settings;
  settings.version = "9.9";
  settings.ns = "weft";
  settings.hub = "registry.example/mesh";
  settings.replicas = 3;
  ASSERT_EQ(check_settings(settings), "");
  auto text = render_install(settings);
  EXPECT_THAT(text, Not(HasSubstr("mesh-system")));
  EXPECT_THAT(text, Not(HasSubstr("ghcr.io")));
  EXPECT_THAT(text, HasSubstr("image: registry.example/mesh/mesh-controlplane:9.9"));
  EXPECT_THAT(text, HasSubstr("--controlplane=mesh-controlplane.weft.svc:15010"));
  EXPECT_THAT(text, HasSubstr("--proxy-image=registry.example/mesh/mesh-proxy:9.9"));
  auto documents = yaml::load_documents(text, "install");
  ASSERT_TRUE(documents) << documents.error().message;
  int deployments = 0, budgets = 0;
  for (const auto& document : *documents) {
    auto kind = document["kind"].as<std::string>();
    if (kind == "Namespace") {
      EXPECT_EQ(document["metadata"]["name"].as<std::string>(), "weft");
    }
    if (document["metadata"]["namespace"]) {
      EXPECT_EQ(document["metadata"]["namespace"].as<std::string>(), "weft") << kind;
    }
    if (kind == "Deployment") {
      ++deployments;
      EXPECT_EQ(document["spec"]["replicas"].as<int>(), 3);
    }
    if (kind == "PodDisruptionBudget") {
      ++budgets;
      EXPECT_EQ(document["spec"]["maxUnavailable"].as<int>(), 1);
    }
  }
  EXPECT_EQ(deployments, 1);
  EXPECT_EQ(budgets, 1);
}

TEST(Install, RefusesSettingsKubernetesWouldNot) {
  struct Case {
    const char* name;
    void (*edit)(InstallSettings&);
    const char* expected;
  };
  for (const auto& c : std::vector<Case>{
           {"upper case namespace", [](auto& s) { s.ns = "Mesh"; }, "not a DNS label"},
           {"dotted namespace", [](auto& s) { s.ns = "a.b"; }, "not a DNS label"},
           {"no replicas", [](auto& s) { s.replicas = 0; }, "not in 1..10"},
           {"trailing slash", [](auto& s) { s.hub = "reg/"; }, "trailing /"},
           {"empty tag", [](auto& s) { s.version.clear(); }, "tag is empty"}}) {
    InstallSettings settings;
    c.edit(settings);
    EXPECT_THAT(check_settings(settings), HasSubstr(c.expected)) << c.name;
  }
}

// deploy/weft.yaml is what `kubectl apply -f deploy/` installs; it must be
// the same rendering. WEFT_UPDATE_GOLDEN=1 rewrites it.
TEST(Install, DeployBundleIsTheRendering) {
  auto rendered = render_install({});
  if (std::getenv("WEFT_UPDATE_GOLDEN") != nullptr) std::ofstream("deploy/weft.yaml") << rendered;
  auto bundle = yaml::read_file("deploy/weft.yaml");
  ASSERT_TRUE(bundle) << bundle.error().message;
  EXPECT_EQ(*bundle, rendered) << "run WEFT_UPDATE_GOLDEN=1 build/tests/meshctl_test";
}

}  // namespace
}  // namespace weft::meshctl
