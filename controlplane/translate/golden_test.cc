// Golden-file tests of translation: input manifests -> each proxy's
// configuration and the status conditions. Cases live in
// controlplane/translate/testdata/<case>/{manifests/, expected/}. After an
// intended change, regenerate with WEFT_UPDATE_GOLDEN=1 and review the diff.
#include "common/testing/golden.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "controlplane/sources/directory.h"
#include "controlplane/translate/proxy.h"
#include "proxy/config/snapshot.h"

namespace weft::cp::translate {
namespace {

namespace fs = std::filesystem;
using weft::golden::expect_golden;

std::string to_json(const mesh::v1::ProxyConfig& config) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(config, &json, options).ok());
  return json;
}

std::string conditions_text(const Mesh& mesh) {
  std::ostringstream out;
  for (const auto& c : mesh.conditions) {
    out << c.object << " " << c.type << "=" << (c.ok ? "True" : "False") << " " << c.reason;
    if (!c.message.empty()) out << ": " << c.message;
    out << "\n";
  }
  return out.str();
}

class Golden : public testing::TestWithParam<const char*> {};

TEST_P(Golden, MatchesExpectedConfigAndConditions) {
  auto dir = fs::path("controlplane/translate/testdata") / GetParam();
  sources::DirectorySource source({dir / "manifests"});
  auto snapshot = source.load();
  for (const auto& e : snapshot.errors) ADD_FAILURE() << e.file << ": " << e.message;
  auto mesh = compile(*snapshot.store);
  for (const auto& [key, pod] : snapshot.store->pods) {
    auto config = translate(*mesh, {key.second, key.first});
    ASSERT_TRUE(config) << config.error().message;
    // What the control plane sends, the proxy must accept.
    auto compiled = proxy::config::translate(*config);
    EXPECT_TRUE(compiled) << key.second << ": " << compiled.error().message;
    expect_golden(dir / "expected" / (key.first + "." + key.second + ".json"), to_json(*config));
  }
  expect_golden(dir / "expected" / "conditions.txt", conditions_text(*mesh));
}

INSTANTIATE_TEST_SUITE_P(Cases, Golden,
                         testing::Values("local_canary", "capture_mode", "policies_and_errors",
                                         "job_lifecycle", "why_paths"),
                         [](const auto& test) { return std::string(test.param); });

TEST(Translate, UnknownProxyIsAnErrorNotAnEmptyConfig) {
  Mesh mesh;
  auto config = translate(mesh, {"ghost", "default"});
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("no Pod default/ghost"), std::string::npos);
}

// Two Pods with the same ports share a cached translation unless one's
// application has exited (its proxy is told to exit, the other's not).
TEST(Translate, AnExitedApplicationIsPartOfTheTranslationKey) {
  sources::DirectorySource source({"controlplane/translate/testdata/job_lifecycle/manifests"});
  auto snapshot = source.load();
  auto mesh = compile(*snapshot.store);
  auto failed = translation_key(*mesh, {"retry-failed", "batch"});
  auto succeeded = translation_key(*mesh, {"retry-succeeded", "batch"});
  ASSERT_TRUE(failed && succeeded);
  EXPECT_NE(*failed, *succeeded);
  EXPECT_FALSE(translate(*mesh, {"retry-failed", "batch"})->lifecycle().exit());
  EXPECT_TRUE(translate(*mesh, {"retry-succeeded", "batch"})->lifecycle().exit());
}

}  // namespace
}  // namespace weft::cp::translate
