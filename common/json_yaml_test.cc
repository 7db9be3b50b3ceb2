#include "common/json_yaml.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>

namespace weft::json_yaml {
namespace {

struct ReadCase {
  std::string yaml;
  std::string json;
};

TEST(JsonYaml, ReadsScalarsAsKubectlDoes) {
  const ReadCase cases[] = {
      {"a: 1", R"({"a":1})"},
      {"a: \"1\"", R"({"a":"1"})"},
      {"a: '8080'", R"({"a":"8080"})"},
      {"a: true", R"({"a":true})"},
      {"a: \"true\"", R"({"a":"true"})"},
      {"a: 1.5", R"({"a":1.5E0})"},
      {"a: ~", R"({"a":null})"},
      {"a:", R"({"a":null})"},
      {"a: 10.0.0.1", R"({"a":"10.0.0.1"})"},
      {"a: 1e3", R"({"a":1E3})"},
      {"a: 50m", R"({"a":"50m"})"},
      {"a: -1", R"({"a":-1})"},
      {"a: [x, 2]", R"({"a":["x",2]})"},
      {"a: |\n  line\n", R"({"a":"line\n"})"},
      {"a: {b: {}}", R"({"a":{"b":{}}})"},
  };
  for (const auto& c : cases) {
    auto value = to_json(YAML::Load(c.yaml));
    ASSERT_TRUE(value) << c.yaml;
    EXPECT_EQ(boost::json::serialize(*value), c.json) << c.yaml;
  }
}

TEST(JsonYaml, WritesStringsQuotedOnlyWhenTheyWouldReadBackAsSomethingElse) {
  auto value = boost::json::parse(
      R"({"name":"app","port":"8080","on":"on","n":80,"empty":"","list":[],"map":{},)"
      R"("neg":"-1","colon":"a: b","ok":false,"none":null})");
  EXPECT_EQ(to_yaml(value),
            "name: app\nport: \"8080\"\non: \"on\"\nn: 80\nempty: \"\"\nlist: []\nmap: {}\n"
            "neg: \"-1\"\ncolon: \"a: b\"\nok: false\nnone: ~\n");
}

TEST(JsonYaml, RoundTrips) {
  auto value = boost::json::parse(
      R"({"a":{"b":["1",1,true,"true","x y","#c","*ref","key: v"],"c":"multi\nline"}})");
  auto back = to_json(YAML::Load(to_yaml(value)));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, value);
}

TEST(JsonYaml, RejectsNonScalarKeys) {
  auto value = to_json(YAML::Load("? [a, b]\n: 1\n"));
  ASSERT_FALSE(value);
  EXPECT_NE(value.error().message.find("key must be a scalar"), std::string::npos);
}

}  // namespace
}  // namespace weft::json_yaml
