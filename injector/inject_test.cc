// Golden files for injection: each Pod shape in testdata/pods/ has its
// expected patch in testdata/patches/ (files named classic-* are injected
// as on a cluster without native sidecars). After an intended change,
// regenerate with WEFT_UPDATE_GOLDEN=1 build/tests/injector_test and review
// the diff.
#include "injector/inject.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/json_yaml.h"
#include "common/testing/golden.h"
#include "injector/json_patch.h"

namespace weft::injector {
namespace {

namespace fs = std::filesystem;
using weft::golden::expect_golden;
namespace json = boost::json;

const fs::path kTestdata = "injector/testdata";

json::object load_pod(const fs::path& file) {
  auto value = json_yaml::to_json(YAML::LoadFile(file.string()));
  EXPECT_TRUE(value && value->is_object()) << file;
  return value && value->is_object() ? value->get_object() : json::object();
}

Settings settings_for(const std::string& name) {
  Settings settings;
  settings.proxy_image = "mesh-proxy:test";
  settings.init_image = "mesh-init:test";
  settings.native_sidecars = !name.starts_with("classic-");
  return settings;
}

// Pretty JSON, one operation per block, so golden diffs read well.
std::string render(const Injection& injection) {
  if (!injection.injected) return "{\"skipped\": \"" + injection.skip_reason + "\"}\n";
  std::string out = "[\n";
  for (std::size_t i = 0; i < injection.patch.size(); ++i) {
    out += "  " + json::serialize(injection.patch[i]) +
           (i + 1 < injection.patch.size() ? ",\n" : "\n");
  }
  return out + "]\n";
}

class PodShape : public testing::TestWithParam<std::string> {};

TEST_P(PodShape, MatchesGoldenPatchAndIsIdempotent) {
  auto name = GetParam();
  auto pod = load_pod(kTestdata / "pods" / (name + ".yaml"));
  auto settings = settings_for(name);
  auto injection = inject(pod, {}, settings);
  ASSERT_TRUE(injection) << injection.error().message;
  expect_golden(kTestdata / "patches" / (name + ".json"), render(*injection));
  if (!injection->injected) return;

  // The patch applies cleanly (as the API server would apply it) and the
  // result is recognised as injected: no second sidecar on reinvocation.
  json::value patched = pod;
  auto applied = apply_patch(patched, injection->patch);
  ASSERT_TRUE(applied) << applied.error().message;
  auto again = inject(patched.get_object(), {}, settings);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->injected);
  EXPECT_EQ(again->skip_reason, "already_injected");

  // mesh-init runs first; the proxy runs before any app container.
  const auto& spec = patched.at("spec").get_object();
  EXPECT_EQ(spec.at("initContainers").at(0).at("name"), "mesh-init");
  const auto& proxy_list =
      settings.native_sidecars ? spec.at("initContainers") : spec.at("containers");
  EXPECT_EQ(proxy_list.at(settings.native_sidecars ? 1 : 0).at("name"), "mesh-proxy");
}

std::vector<std::string> pod_shapes() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(kTestdata / "pods")) {
    names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

INSTANTIATE_TEST_SUITE_P(Injector, PodShape, testing::ValuesIn(pod_shapes()),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(Inject, AtLeastTwelveShapesAreCovered) { EXPECT_GE(pod_shapes().size(), 12u); }

struct BadPod {
  const char* annotations;  // JSON object
  const char* message;
};

TEST(Inject, MalformedExclusionsAreErrorsNamingTheAnnotation) {
  const BadPod cases[] = {
      {R"({"mesh.weft.io/exclude-inbound-ports": "http"})",
       "mesh.weft.io/exclude-inbound-ports: no container port is named 'http'"},
      {R"({"mesh.weft.io/exclude-inbound-ports": "70000"})",
       "mesh.weft.io/exclude-inbound-ports: '70000' is not a port (1-65535)"},
      {R"({"mesh.weft.io/exclude-outbound-ports": "5432,x"})",
       "mesh.weft.io/exclude-outbound-ports: 'x' is not a port (1-65535)"},
      {R"({"mesh.weft.io/exclude-outbound-ports": "0"})",
       "mesh.weft.io/exclude-outbound-ports: '0' is not a port (1-65535)"},
      {R"({"mesh.weft.io/exclude-outbound-cidrs": "10.0.0.0/33"})",
       "mesh.weft.io/exclude-outbound-cidrs: '10.0.0.0/33': bad prefix length"},
      {R"({"mesh.weft.io/exclude-outbound-cidrs": "example.com"})",
       "mesh.weft.io/exclude-outbound-cidrs: 'example.com' is not an IP address or CIDR"},
  };
  for (const auto& c : cases) {
    json::object pod{{"metadata", {{"annotations", json::parse(c.annotations)}}},
                     {"spec", {{"containers", {{{"name", "app"}, {"image", "app"}}}}}}};
    auto injection = inject(pod, {}, Settings{});
    ASSERT_FALSE(injection) << c.annotations;
    EXPECT_EQ(injection.error().message, c.message);
  }
}

TEST(Inject, NamespaceOptOutAndMissingContainers) {
  json::object pod{{"spec", {{"containers", {{{"name", "app"}}}}}}};
  auto skipped = inject(pod, {{"mesh.weft.io/inject", "disabled"}}, Settings{});
  ASSERT_TRUE(skipped);
  EXPECT_EQ(skipped->skip_reason, "opted_out");

  auto no_containers = inject(json::object{{"spec", json::object{}}}, {}, Settings{});
  ASSERT_FALSE(no_containers);
  EXPECT_EQ(no_containers.error().message, "the Pod has no spec.containers");
}

TEST(Inject, PointerTokensAreEscaped) {
  EXPECT_EQ(escape_pointer_token("mesh.weft.io/injected"), "mesh.weft.io~1injected");
  EXPECT_EQ(escape_pointer_token("a~b/c"), "a~0b~1c");
}

}  // namespace
}  // namespace weft::injector
