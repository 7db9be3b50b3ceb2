#include "common/config_delta.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/yaml_proto.h"

namespace weft::config {
namespace {

using ::testing::HasSubstr;

mesh::v1::ProxyConfig parse(std::string_view yaml) {
  mesh::v1::ProxyConfig config;
  auto parsed = yaml::parse_message(yaml, "c.yaml", config);
  EXPECT_TRUE(parsed) << parsed.error().message;
  return config;
}

constexpr std::string_view kBase = R"(
admin: {address: {port: 15000}}
listeners: [{name: out, address: {port: 15001}}]
route_tables: [{name: a}, {name: b}]
clusters: [{name: x, endpoints: [{address: 10.0.0.1, port: 80}]}, {name: y}]
)";

TEST(ConfigDelta, RoundTripsChangesAdditionsAndRemovals) {
  auto from = parse(kBase);
  auto to = parse(R"(
admin: {address: {port: 15000}}
listeners: [{name: out, address: {port: 15001}}]
route_tables: [{name: b}, {name: c}]
clusters: [{name: x, endpoints: [{address: 10.0.0.2, port: 80}]}, {name: y}]
)");
  auto delta = make_delta(from, to);
  EXPECT_FALSE(delta.has_admin());
  EXPECT_EQ(delta.listeners_size(), 0);
  ASSERT_EQ(delta.route_tables_size(), 1);
  EXPECT_EQ(delta.route_tables(0).name(), "c");
  EXPECT_THAT(delta.removed_route_tables(), ::testing::ElementsAre("a"));
  ASSERT_EQ(delta.clusters_size(), 1);
  EXPECT_EQ(delta.clusters(0).name(), "x");

  auto applied = apply_delta(from, delta);
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ(content_version(*applied), content_version(to));
}

TEST(ConfigDelta, CarriesTheLifecycleBothWays) {
  auto running = parse(kBase);
  auto exiting = running;
  exiting.mutable_lifecycle()->set_exit(true);
  for (const auto& [from, to] : {std::pair{running, exiting}, std::pair{exiting, running}}) {
    auto delta = make_delta(from, to);
    EXPECT_TRUE(delta.has_lifecycle());
    auto applied = apply_delta(from, delta);
    ASSERT_TRUE(applied) << applied.error().message;
    EXPECT_EQ(content_version(*applied), content_version(to));
  }
  EXPECT_FALSE(make_delta(running, running).has_lifecycle());
}

// A proxy that moves (its Pod's Node relabelled) is told so, one whose
// Pod changes workload likewise, and each is told when it has none again.
TEST(ConfigDelta, CarriesEachSectionBothWays) {
  struct Case {
    const char* section;
    void (*set)(mesh::v1::ProxyConfig&);
    bool (*carried)(const mesh::v1::ConfigDelta&);
  };
  const Case cases[] = {
      {"locality", [](auto& c) { c.mutable_locality()->set_zone("eu-west-1a"); },
       [](const auto& d) { return d.has_locality(); }},
      {"workload",
       [](auto& c) {
         c.mutable_workload()->set_name("reviews");
         c.mutable_workload()->set_namespace_("default");
       },
       [](const auto& d) { return d.has_workload(); }},
      {"metrics", [](auto& c) { c.mutable_metrics()->set_istio_compatible_names(true); },
       [](const auto& d) { return d.has_metrics(); }},
      {"tracing",
       [](auto& c) {
         c.mutable_tracing()->set_sampling_percent(1);
         c.mutable_tracing()->set_otlp_endpoint("http://127.0.0.1:4318/v1/traces");
       },
       [](const auto& d) { return d.has_tracing(); }},
  };
  for (const auto& c : cases) {
    auto unset = parse(kBase);
    auto set = unset;
    c.set(set);
    for (const auto& [from, to] : {std::pair{unset, set}, std::pair{set, unset}}) {
      auto delta = make_delta(from, to);
      EXPECT_TRUE(c.carried(delta)) << c.section;
      auto applied = apply_delta(from, delta);
      ASSERT_TRUE(applied) << applied.error().message;
      EXPECT_EQ(content_version(*applied), content_version(to)) << c.section;
    }
    EXPECT_FALSE(c.carried(make_delta(set, set))) << c.section;
  }
}

// A field of ProxyConfig that ConfigDelta cannot carry makes every delta
// that changes it fail the proxy's content check.
TEST(ConfigDelta, HasAPlaceForEveryFieldOfTheConfiguration) {
  const auto* config = mesh::v1::ProxyConfig::descriptor();
  const auto* delta = mesh::v1::ConfigDelta::descriptor();
  for (int i = 0; i < config->field_count(); ++i) {
    const auto* field = config->field(i);
    if (field->name() == "version") continue;
    const auto* carried = delta->FindFieldByName(field->name());
    ASSERT_NE(carried, nullptr) << field->name();
    EXPECT_EQ(carried->type(), field->type()) << field->name();
  }
}

TEST(ConfigDelta, RemovingWhatTheBaseLacksIsAnError) {
  mesh::v1::ConfigDelta delta;
  delta.add_removed_clusters("ghost");
  auto applied = apply_delta(parse(kBase), delta);
  ASSERT_FALSE(applied);
  EXPECT_THAT(applied.error().message, HasSubstr("cluster 'ghost'"));
}

TEST(ContentVersion, IgnoresOrderOfNamedItemsAndTheVersionField) {
  auto a = parse(kBase);
  auto b = parse(R"(
version: other
admin: {address: {port: 15000}}
listeners: [{name: out, address: {port: 15001}}]
route_tables: [{name: b}, {name: a}]
clusters: [{name: y}, {name: x, endpoints: [{address: 10.0.0.1, port: 80}]}]
)");
  EXPECT_EQ(content_version(a), content_version(b));
  b.mutable_clusters(0)->set_name("z");
  EXPECT_NE(content_version(a), content_version(b));
}

}  // namespace
}  // namespace weft::config
