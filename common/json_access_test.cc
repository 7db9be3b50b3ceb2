#include "common/json_access.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace weft::json_access {
namespace {

TEST(JsonAccess, MissingOrMistypedMembersReadAsAbsent) {
  auto value = boost::json::parse(R"({"s":"text","n":1,"o":{"k":"v"},"a":[1]})");
  const auto* object = value.if_object();
  EXPECT_EQ(string_at(object, "s"), "text");
  EXPECT_EQ(string_at(object, "n"), "");
  EXPECT_EQ(string_at(object, "missing"), "");
  EXPECT_EQ(string_at(nullptr, "s"), "");
  ASSERT_NE(object_at(object, "o"), nullptr);
  EXPECT_EQ(string_at(object_at(object, "o"), "k"), "v");
  EXPECT_EQ(object_at(object, "a"), nullptr);
  ASSERT_NE(array_at(object, "a"), nullptr);
  EXPECT_EQ(array_at(object, "o"), nullptr);
  EXPECT_EQ(find(object, "n")->as_int64(), 1);
  EXPECT_EQ(find(nullptr, "n"), nullptr);
  EXPECT_TRUE(member(value, "missing").is_null());
  EXPECT_TRUE(member(boost::json::value(3), "s").is_null());
  EXPECT_EQ(string_at(member(value, "o"), "k"), "v");
}

TEST(JsonAccess, TextAndItemsReadAnyMemberForPeople) {
  auto v = boost::json::parse(R"({"s": "x", "n": 3, "b": true, "z": null, "a": [1, 2]})");
  EXPECT_EQ(text_at(v, "s"), "x");
  EXPECT_EQ(text_at(v, "n"), "3");
  EXPECT_EQ(text_at(v, "b"), "true");
  EXPECT_EQ(text_at(v, "z"), "");
  EXPECT_EQ(text_at(v, "missing"), "");
  EXPECT_EQ(text_at(boost::json::value(5), "s"), "");
  EXPECT_EQ(items_at(v, "a").size(), 2u);
  EXPECT_TRUE(items_at(v, "s").empty());
  EXPECT_TRUE(items_at(v, "missing").empty());
}

}  // namespace
}  // namespace weft::json_access
