#include "common/yaml_proto.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mesh/v1/config.pb.h"

namespace weft::yaml {
namespace {

using ::testing::HasSubstr;

TEST(YamlProto, ParsesACompleteConfig) {
  constexpr std::string_view kText = R"(
version: "7"
admin:
  address: {host: 127.0.0.1, port: 15000}
listeners:
  - name: web
    address: {host: 127.0.0.1, port: 10000}
    route_table: web          # snake_case
    idleTimeout: 90s          # lowerCamelCase and a duration
    opaquePorts: [3306, 25]
clusters:
  - name: web
    connect_timeout: 0.25s
    protocol: PROTOCOL_HTTP2
    endpoints:
      - {address: 127.0.0.1, port: 18080, weight: 3, labels: {version: "1.0"}}
)";
  mesh::v1::ProxyConfig config;
  auto result = parse_message(kText, "proxy.yaml", config);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(config.version(), "7");
  EXPECT_EQ(config.admin().address().port(), 15000u);
  ASSERT_EQ(config.listeners_size(), 1);
  EXPECT_EQ(config.listeners(0).route_table(), "web");
  EXPECT_EQ(config.listeners(0).idle_timeout().seconds(), 90);
  EXPECT_THAT(config.listeners(0).opaque_ports(), ::testing::ElementsAre(3306u, 25u));
  EXPECT_EQ(config.clusters(0).connect_timeout().nanos(), 250'000'000);
  EXPECT_EQ(config.clusters(0).protocol(), mesh::v1::Cluster::PROTOCOL_HTTP2);
  EXPECT_EQ(config.clusters(0).endpoints(0).weight(), 3u);
  EXPECT_EQ(config.clusters(0).endpoints(0).labels().at("version"), "1.0");
}

TEST(YamlProto, EmptyDocumentIsAnEmptyMessage) {
  mesh::v1::ProxyConfig config;
  config.set_version("stale");
  ASSERT_TRUE(parse_message("", "empty.yaml", config));
  EXPECT_EQ(config.version(), "");
}

struct BadCase {
  const char* name;
  const char* text;
  std::vector<const char*> expected;  // substrings of the error message
};

// Test names, not bytes, in gtest's output.
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class YamlProtoRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(YamlProtoRejects, WithFileLineAndField) {
  mesh::v1::ProxyConfig config;
  auto result = parse_message(GetParam().text, "proxy.yaml", config);
  ASSERT_FALSE(result) << "accepted: " << config.DebugString();
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  for (const char* part : GetParam().expected) {
    EXPECT_THAT(result.error().message, HasSubstr(part));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, YamlProtoRejects,
    ::testing::Values(
        BadCase{"misspelled_top_level",
                "version: a\nlistners: []\n",
                {"proxy.yaml:2:1:", "unknown field 'listners'", "did you mean 'listeners'"}},
        BadCase{"misspelled_nested",
                "listeners:\n  - name: a\n    adress: {host: 127.0.0.1}\n",
                {"proxy.yaml:3:5:", "listeners[0]:", "unknown field 'adress'", "mesh.v1.Listener",
                 "did you mean 'address'"}},
        BadCase{"unrelated_field",
                "clusters:\n  - zzzzzzzzzz: 1\n",
                {"proxy.yaml:2:5:", "unknown field 'zzzzzzzzzz'", "fields: name, endpoints"}},
        BadCase{"string_for_integer",
                "admin:\n  address:\n    port: eighty\n",
                {"proxy.yaml:3:11:", "admin.address.port", "expected a non-negative integer"}},
        BadCase{"negative_unsigned",
                "admin:\n  address: {port: -1}\n",
                {"proxy.yaml:2:19:", "non-negative"}},
        BadCase{"bad_enum",
                "listeners:\n  - capture: SIDEWAYS\n",
                {"proxy.yaml:2:14:", "listeners[0].capture", "unknown value 'SIDEWAYS'",
                 "CAPTURE_OUTBOUND"}},
        BadCase{"bad_bool",
                "route_tables:\n  - virtual_hosts:\n    - routes:\n      - match:\n          "
                "headers: [{name: a, present: yes}]\n",
                {"proxy.yaml:5:", "present", "expected true or false"}},
        BadCase{"list_expected",
                "listeners: {name: a}\n",
                {"proxy.yaml:1:12:", "listeners", "expected a list"}},
        BadCase{"mapping_expected",
                "admin: 15000\n",
                {"proxy.yaml:1:8:", "admin", "expected a mapping for mesh.v1.Admin"}},
        BadCase{"scalar_expected", "version: [1, 2]\n", {"proxy.yaml:1:10:", "single value"}},
        BadCase{"duplicate_field", "version: a\nversion: b\n", {"proxy.yaml:2:1:", "given twice"}},
        BadCase{"bad_duration",
                "listeners:\n  - idle_timeout: soon\n",
                {"proxy.yaml:2:19:", "listeners[0].idle_timeout", "expected a duration", "'soon'"}},
        BadCase{"negative_duration", "drain: {timeout: -1s}\n", {"drain.timeout", "'-1s'"}},
        BadCase{"int32_out_of_range",
                "listeners:\n  - address: {port: 99999999999}\n",
                {"listeners[0].address.port", "in [0, 4294967295]"}},
        BadCase{"syntax_error",
                "listeners:\n  - name: [unclosed\n",
                {"proxy.yaml:3:1:", "end of sequence flow not found"}},
        BadCase{"oneof_twice",
                "route_tables:\n  - virtual_hosts:\n    - routes:\n      - match: {exact: /a, "
                "prefix: /b}\n",
                {"proxy.yaml:4:28:", "'exact' and 'prefix' are alternatives (oneof path)"}},
        BadCase{"duplicate_map_key",
                "clusters:\n  - endpoints:\n    - labels: {app: a, app: b}\n",
                {"proxy.yaml:3:24:", "clusters[0].endpoints[0].labels", "key 'app' given twice"}}),
    [](const auto& test) { return std::string(test.param.name); });

TEST(YamlProto, LoadMessageNamesMissingFile) {
  mesh::v1::ProxyConfig config;
  auto result = load_message("/nonexistent/proxy.yaml", config);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kIo);
  EXPECT_THAT(result.error().message, HasSubstr("/nonexistent/proxy.yaml"));
}

TEST(YamlProto, LenientMessagesSkipUnknownFieldsOthersStayStrict) {
  ParseOptions options;
  options.lenient = [](const google::protobuf::Descriptor& type) { return type.name() == "Admin"; };
  mesh::v1::ProxyConfig config;
  auto lenient =
      parse_message("admin: {address: {port: 1}, future_field: x}\n", "p.yaml", config, options);
  ASSERT_TRUE(lenient) << lenient.error().message;
  EXPECT_EQ(config.admin().address().port(), 1u);

  auto strict =
      parse_message("admin: {address: {port: 1, future_field: x}}\n", "p.yaml", config, options);
  ASSERT_FALSE(strict);
  EXPECT_THAT(strict.error().message, HasSubstr("unknown field 'future_field'"));
}

TEST(YamlProto, JsonNamesOnlyAcceptsWhatTheApiServerAcceptsAndSuggestsIt) {
  // Kubernetes objects are read as the API server reads them: "routeTable"
  // (the JSON name), never "route_table" (the proto name), and the mistake
  // is answered with the JSON name, without our protobuf type's name.
  ParseOptions options;
  options.json_names_only = true;
  mesh::v1::ProxyConfig config;
  auto json = parse_message("listeners: [{name: a, routeTable: web}]\n", "k.yaml", config, options);
  ASSERT_TRUE(json) << json.error().message;
  EXPECT_EQ(config.listeners(0).route_table(), "web");

  struct Case {
    const char* text;
    const char* message;
  };
  for (const auto& c : std::vector<Case>{
           {"listeners: [{name: a, route_table: web}]\n",
            "k.yaml:1:23: listeners[0]: unknown field 'route_table' (did you mean 'routeTable'?)"},
           {"listeners: [{name: a, routeTabel: web}]\n",
            "unknown field 'routeTabel' (did you mean 'routeTable'?)"},
       }) {
    auto parsed = parse_message(c.text, "k.yaml", config, options);
    ASSERT_FALSE(parsed) << c.text;
    EXPECT_THAT(parsed.error().message, HasSubstr(c.message));
    EXPECT_THAT(parsed.error().message, ::testing::Not(HasSubstr("mesh.v1")));
  }
  // Without the option (mesh-proxy's own config), both names are read.
  auto proto_name = parse_message("listeners: [{name: a, route_table: web}]\n", "p.yaml", config);
  EXPECT_TRUE(proto_name);
}

TEST(YamlProto, LoadDocumentsSplitsAStreamAndDropsEmptyOnes) {
  auto documents = load_documents("version: a\n---\n---\nversion: b\n", "m.yaml");
  ASSERT_TRUE(documents) << documents.error().message;
  ASSERT_EQ(documents->size(), 2u);
  mesh::v1::ProxyConfig config;
  ASSERT_TRUE(parse_node((*documents)[1], "m.yaml", config));
  EXPECT_EQ(config.version(), "b");

  auto broken = load_documents("a: 1\n---\nb: [\n", "m.yaml");
  ASSERT_FALSE(broken);
  EXPECT_THAT(broken.error().message, HasSubstr("m.yaml:4:1:"));
}

}  // namespace
}  // namespace weft::yaml
