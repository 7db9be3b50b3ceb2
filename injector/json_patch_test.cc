#include "injector/json_patch.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace weft::injector {
namespace {

struct PatchCase {
  const char* document;
  const char* patch;
  const char* result;  // null: the patch is refused
};

TEST(JsonPatch, AppliesRfc6902Operations) {
  const PatchCase cases[] = {
      {R"({"a":1})", R"([{"op":"add","path":"/b","value":2}])", R"({"a":1,"b":2})"},
      {R"({"a":[1,3]})", R"([{"op":"add","path":"/a/1","value":2}])", R"({"a":[1,2,3]})"},
      {R"({"a":[1]})", R"([{"op":"add","path":"/a/-","value":2}])", R"({"a":[1,2]})"},
      {R"({"a":[1]})", R"([{"op":"add","path":"/a/0","value":0}])", R"({"a":[0,1]})"},
      {R"({"m":{}})", R"([{"op":"add","path":"/m/x~1y","value":"v"}])", R"({"m":{"x/y":"v"}})"},
      {R"({"m":{"a~b":1}})", R"([{"op":"replace","path":"/m/a~0b","value":2}])",
       R"({"m":{"a~b":2}})"},
      {R"({"a":1,"b":2})", R"([{"op":"remove","path":"/a"}])", R"({"b":2})"},
      {R"({"a":[1,2]})", R"([{"op":"remove","path":"/a/0"}])", R"({"a":[2]})"},
      {R"({"a":1})", R"([{"op":"test","path":"/a","value":1}])", R"({"a":1})"},
      {R"({"a":1})", R"([{"op":"add","path":"","value":[]}])", R"([])"},
      {R"({"a":1})", R"([{"op":"test","path":"/a","value":2}])", nullptr},
      {R"({"a":[1]})", R"([{"op":"add","path":"/a/2","value":2}])", nullptr},
      {R"({"a":[1]})", R"([{"op":"replace","path":"/a/-","value":2}])", nullptr},
      {R"({"a":1})", R"([{"op":"remove","path":"/b"}])", nullptr},
      {R"({"a":1})", R"([{"op":"add","path":"/x/y","value":1}])", nullptr},
      {R"({"a":1})", R"([{"op":"add","path":"a","value":1}])", nullptr},
      {R"({"a":1})", R"([{"op":"add","path":"/a~2","value":1}])", nullptr},
      {R"({"a":1})", R"([{"op":"move","path":"/b","from":"/a","value":1}])", nullptr},
      {R"({"a":1})", R"([{"op":"add","path":"/b"}])", nullptr},
      {R"({"a":1})", R"([1])", nullptr},
  };
  for (const auto& c : cases) {
    auto document = boost::json::parse(c.document);
    auto applied = apply_patch(document, boost::json::parse(c.patch).as_array());
    if (c.result == nullptr) {
      EXPECT_FALSE(applied) << c.patch;
      continue;
    }
    ASSERT_TRUE(applied) << c.patch << ": " << applied.error().message;
    EXPECT_EQ(document, boost::json::parse(c.result)) << c.patch;
  }
}

}  // namespace
}  // namespace weft::injector
