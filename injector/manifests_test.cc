// `meshctl inject` on a multi-document stream: golden output for every
// workload kind, and errors that name the document.
#include "injector/manifests.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace weft::injector {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& file) {
  std::ifstream in(file);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Settings test_settings() {
  Settings settings;
  settings.proxy_image = "mesh-proxy:test";
  settings.init_image = "mesh-init:test";
  return settings;
}

TEST(InjectManifests, EveryWorkloadKindMatchesGolden) {
  const fs::path dir = "injector/testdata/manifests";
  auto out = inject_manifests(read(dir / "workloads.yaml"), test_settings());
  ASSERT_TRUE(out) << out.error().message;
  auto golden = dir / "workloads.injected.yaml";
  if (std::getenv("WEFT_UPDATE_GOLDEN") != nullptr) std::ofstream(golden) << out->yaml;
  EXPECT_EQ(read(golden), out->yaml) << "run WEFT_UPDATE_GOLDEN=1 build/tests/injector_test";
  EXPECT_EQ(out->notes, (std::vector<std::string>{
                            "DaemonSet kube-system/node-agent: not injected (host_network)",
                            "Job batch/once: not injected (opted_out)"}));
}

TEST(InjectManifests, InjectedOutputIsLeftAloneTheSecondTime) {
  auto once = inject_manifests(read("injector/testdata/manifests/workloads.yaml"), test_settings());
  ASSERT_TRUE(once);
  auto twice = inject_manifests(once->yaml, test_settings());
  ASSERT_TRUE(twice);
  EXPECT_EQ(twice->yaml, once->yaml);
}

struct BadInput {
  const char* yaml;
  const char* message;
};

TEST(InjectManifests, BadInputIsAnErrorNamingTheDocument) {
  const BadInput cases[] = {
      {"kind: Pod\nspec: {containers: [\n", "manifests:3:1:"},
      // yaml-cpp 0.7's LoadAll never returns on this one.
      {"kind: Pod\n---\n,\n", "manifests:3:1: unexpected ',' where a document should start"},
      {"kind: Service\n---\n- a\n- b\n", "document 2: not a Kubernetes object"},
      {"kind: Pod\nmetadata: {name: p}\nspec: {}\n",
       "document 1: Pod p: the Pod has no spec.containers"},
      {"kind: Pod\nmetadata:\n  name: p\n  annotations: {mesh.weft.io/exclude-outbound-ports: x}\n"
       "spec: {containers: [{name: a}]}\n",
       "document 1: Pod p: mesh.weft.io/exclude-outbound-ports: 'x' is not a port (1-65535)"},
  };
  for (const auto& c : cases) {
    auto out = inject_manifests(c.yaml, test_settings());
    ASSERT_FALSE(out) << c.yaml;
    EXPECT_NE(out.error().message.find(c.message), std::string::npos)
        << c.yaml << " -> " << out.error().message;
  }
}

}  // namespace
}  // namespace weft::injector
