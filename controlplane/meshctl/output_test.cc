#include "controlplane/meshctl/output.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace weft::meshctl {
namespace {

TEST(Table, PadsColumnsToTheWidestCell) {
  EXPECT_EQ(table({{"NAME", "STATUS"}, {"client-0", "SYNCED"}}),
            "NAME      STATUS\nclient-0  SYNCED\n");
}

TEST(ToYaml, QuotesStringsAndKeepsNumbersAndStructure) {
  auto value = boost::json::parse(R"({"name": "true", "port": 80, "list": [1, "a"], "ok": false})");
  EXPECT_EQ(to_yaml(value), "name: \"true\"\nport: 80\nlist:\n  - 1\n  - a\nok: false\n");
}

TEST(PrettyJson, IndentsByTwoAndRoundTrips) {
  auto value = boost::json::parse(R"({"a": [1, {"b": "x\"y"}], "e": {}, "l": []})");
  auto text = pretty_json(value);
  EXPECT_EQ(text,
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": \"x\\\"y\"\n    }\n  ],\n  \"e\": {},\n"
            "  \"l\": []\n}\n");
  EXPECT_EQ(boost::json::parse(text), value);
}

}  // namespace
}  // namespace weft::meshctl
