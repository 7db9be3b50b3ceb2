#include "controlplane/sources/directory.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

namespace weft::cp::sources {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class Directory : public testing::Test {
 protected:
  void SetUp() override {
    root_ =
        fs::temp_directory_path() / ("weft-dir-test-" + std::to_string(::getpid()) + "-" +
                                     testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "sub");
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(root_ / name) << text;
  }
  fs::path root_;
};

constexpr const char* kService = R"(apiVersion: v1
kind: Service
metadata: {name: reviews}
spec: {ports: [{port: 9080}]}
)";

constexpr const char* kRoute = R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews}
spec:
  parentRefs: [{kind: Service, name: reviews}]
  rules: [{backendRefs: [{name: reviews, port: 9080}]}]
)";

TEST_F(Directory, ReadsEveryManifestRecursivelyAndReportsForeignKinds) {
  write("a.yaml",
        std::string(kService) + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n");
  write("sub/b.yml", kRoute);
  write("notes.txt", "not a manifest");
  DirectorySource source({root_});
  auto snapshot = source.load();
  EXPECT_TRUE(snapshot.errors.empty());
  EXPECT_EQ(snapshot.store->services.size(), 1u);
  EXPECT_EQ(snapshot.store->http_routes.size(), 1u);
  ASSERT_EQ(snapshot.ignored.size(), 1u);
  EXPECT_THAT(snapshot.ignored[0], HasSubstr("ConfigMap"));
}

TEST_F(Directory, AnotherMeshsKindsAreIgnoredWithAHintTowardsOurs) {
  struct Case {
    const char* api_version;
    const char* kind;
    const char* hint;  // nullptr: no hint
  };
  for (const auto& c : std::vector<Case>{
           {"networking.istio.io/v1beta1", "VirtualService", "Gateway API HTTPRoutes"},
           {"networking.istio.io/v1", "DestinationRule", "a TrafficPolicy on the Service"},
           {"linkerd.io/v1alpha2", "ServiceProfile", "Gateway API HTTPRoutes"},
           {"v1", "ConfigMap", nullptr},
           {"example.com/v1", "VirtualService", nullptr},
       }) {
    write("other.yaml",
          fmt::format("apiVersion: {}\nkind: {}\nmetadata: {{name: x}}\n", c.api_version, c.kind));
    auto snapshot = DirectorySource({root_}).load();
    ASSERT_EQ(snapshot.ignored.size(), 1u) << c.kind;
    if (c.hint != nullptr) {
      EXPECT_THAT(snapshot.ignored[0], HasSubstr(c.hint)) << c.kind;
    } else {
      EXPECT_THAT(snapshot.ignored[0], ::testing::EndsWith("other.yaml")) << c.kind;
    }
  }
}

TEST_F(Directory, BadObjectKeepsItsLastGoodVersionOthersUnaffected) {
  write("a.yaml", kService);
  write("b.yaml", kRoute);
  DirectorySource source({root_});
  ASSERT_TRUE(source.load().errors.empty());

  std::string broken = kRoute;
  broken.replace(broken.find("port: 9080}]}]"), 4, "prot");
  write("b.yaml", broken);
  write("a.yaml", std::string(kService) + "---\n" +
                      "apiVersion: v1\nkind: Service\nmetadata: {name: ratings}\n");
  auto snapshot = source.load();
  ASSERT_EQ(snapshot.errors.size(), 1u);
  EXPECT_EQ(snapshot.errors[0].object, "HTTPRoute default/reviews");
  EXPECT_THAT(snapshot.errors[0].message, HasSubstr("b.yaml:6:"));
  EXPECT_THAT(snapshot.errors[0].message, HasSubstr("unknown field 'prot'"));
  // The route is still the last good one; the new Service arrived.
  ASSERT_EQ(snapshot.store->http_routes.size(), 1u);
  EXPECT_EQ(snapshot.store->http_routes.begin()->second->spec().rules(0).backend_refs(0).port(),
            9080u);
  EXPECT_EQ(snapshot.store->services.size(), 2u);
}

TEST_F(Directory, UnparsableFileKeepsEverythingItHeld) {
  write("a.yaml", std::string(kService) + "---\n" + kRoute);
  DirectorySource source({root_});
  ASSERT_TRUE(source.load().errors.empty());
  write("a.yaml", "apiVersion: v1\nkind: [unclosed\n");
  auto snapshot = source.load();
  ASSERT_EQ(snapshot.errors.size(), 1u);
  EXPECT_EQ(snapshot.errors[0].object, "");
  EXPECT_EQ(snapshot.store->size(), 2u);
}

TEST_F(Directory, OnlyChangedFilesAreParsedAgain) {
  write("a.yaml", kService);
  write("b.yaml", kRoute);
  DirectorySource source({root_});
  ASSERT_EQ(source.load().store->size(), 2u);
  EXPECT_EQ(source.files_parsed(), 2u);
  ASSERT_EQ(source.load().store->size(), 2u);
  EXPECT_EQ(source.files_parsed(), 2u) << "nothing changed";
  std::string same_size = kRoute;
  same_size.replace(same_size.find("port: 9080}]}]"), 10, "port: 9081");
  write("b.yaml", same_size);
  auto snapshot = source.load();
  EXPECT_EQ(source.files_parsed(), 3u);
  EXPECT_EQ(snapshot.store->http_routes.begin()->second->spec().rules(0).backend_refs(0).port(),
            9081u);
}

TEST_F(Directory, DeletedFileTakesItsObjectsAway) {
  write("a.yaml", kService);
  write("b.yaml", kRoute);
  DirectorySource source({root_});
  ASSERT_EQ(source.load().store->size(), 2u);
  fs::remove(root_ / "b.yaml");
  EXPECT_EQ(source.load().store->size(), 1u);
}

TEST_F(Directory, SameObjectInTwoFilesIsReportedAndTheFirstWins) {
  write("a.yaml", kService);
  write("b.yaml", std::string(kService).replace(std::string(kService).find("9080"), 4, "1234"));
  DirectorySource source({root_});
  auto snapshot = source.load();
  ASSERT_EQ(snapshot.errors.size(), 1u);
  EXPECT_THAT(snapshot.errors[0].message, HasSubstr("also defined in"));
  EXPECT_EQ(snapshot.store->services.begin()->second->spec().ports(0).port(), 9080u);
}

}  // namespace
}  // namespace weft::cp::sources
