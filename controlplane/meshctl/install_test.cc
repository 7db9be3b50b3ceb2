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
  auto text = render_install("1.2.3");
  EXPECT_THAT(text, HasSubstr("image: ghcr.io/weft-mesh/mesh-controlplane:1.2.3"));
  EXPECT_THAT(text, Not(HasSubstr("WEFT_VERSION")));
  auto documents = yaml::load_documents(text, "install");
  ASSERT_TRUE(documents) << documents.error().message;
  for (const auto& document : *documents) {
    EXPECT_TRUE(document["apiVersion"] && document["kind"] && document["metadata"]["name"]);
  }
}

// deploy/weft.yaml is what `kubectl apply -f deploy/` installs; it must be
// the same rendering. WEFT_UPDATE_GOLDEN=1 rewrites it.
TEST(Install, DeployBundleIsTheRendering) {
  auto rendered = render_install(WEFT_VERSION);
  if (std::getenv("WEFT_UPDATE_GOLDEN") != nullptr) std::ofstream("deploy/weft.yaml") << rendered;
  auto bundle = yaml::read_file("deploy/weft.yaml");
  ASSERT_TRUE(bundle) << bundle.error().message;
  EXPECT_EQ(*bundle, rendered) << "run WEFT_UPDATE_GOLDEN=1 build/tests/meshctl_test";
}

}  // namespace
}  // namespace weft::meshctl
