#include "controlplane/sources/kubernetes/watch_stream.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace weft::cp::kubernetes {
namespace {

struct SplitCase {
  std::string name;
  std::vector<std::string> chunks;
  std::vector<std::string> lines;
  std::string rest;
};

TEST(LineSplitter, CutsLinesWhereverChunksEnd) {
  const std::vector<SplitCase> cases = {
      {"one line per chunk", {"a\n", "b\n"}, {"a", "b"}, ""},
      {"several lines in a chunk", {"a\nb\nc\n"}, {"a", "b", "c"}, ""},
      {"a line across chunks", {"ab", "c", "d\ne"}, {"abcd"}, "e"},
      {"empty lines are lines", {"\n\n"}, {"", ""}, ""},
      {"no newline at all", {"abc", "def"}, {}, "abcdef"},
  };
  for (const auto& c : cases) {
    LineSplitter splitter;
    std::vector<std::string> lines;
    for (const auto& chunk : c.chunks) {
      EXPECT_EQ(splitter.feed(chunk,
                              [&](std::string_view line) {
                                lines.emplace_back(line);
                                return true;
                              }),
                LineSplitter::Fed::kMore)
          << c.name;
    }
    EXPECT_EQ(lines, c.lines) << c.name;
    EXPECT_EQ(splitter.rest(), c.rest) << c.name;
  }
}

TEST(LineSplitter, StopsWhenTheHandlerSaysSo) {
  LineSplitter splitter;
  std::vector<std::string> lines;
  auto fed = splitter.feed("a\nb\nc", [&](std::string_view line) {
    lines.emplace_back(line);
    return line != "a";
  });
  EXPECT_EQ(fed, LineSplitter::Fed::kStopped);
  EXPECT_EQ(lines, std::vector<std::string>{"a"});
}

TEST(LineSplitter, ALineLongerThanTheLimitIsAnError) {
  LineSplitter splitter(8);
  auto no_line = [](std::string_view) { return true; };
  EXPECT_EQ(splitter.feed("12345", no_line), LineSplitter::Fed::kMore);
  EXPECT_EQ(splitter.feed("6789", no_line), LineSplitter::Fed::kTooLong);
  // Complete lines of any number fit: the limit is per line.
  LineSplitter many(8);
  EXPECT_EQ(many.feed("1234567\n1234567\n1234567\n", no_line), LineSplitter::Fed::kMore);
}

struct EventCase {
  std::string name;
  std::string line;
  bool event;
  std::string type;
  std::int64_t code = 0;
  std::string version;
};

TEST(ParseEvent, ReadsEventsAndRefusesEverythingElse) {
  const std::vector<EventCase> cases = {
      {"added", R"({"type":"ADDED","object":{"metadata":{"resourceVersion":"7"}}})", true, "ADDED",
       0, "7"},
      {"410 gone", R"({"type":"ERROR","object":{"kind":"Status","code":410}})", true, "ERROR", 410,
       ""},
      {"a code that is not a number", R"({"type":"ERROR","object":{"code":"410"}})", true, "ERROR",
       0, ""},
      {"a version that is not a string",
       R"({"type":"MODIFIED","object":{"metadata":{"resourceVersion":7}}})", true, "MODIFIED", 0,
       ""},
      {"not JSON", "{\"type\":", false, "", 0, ""},
      {"no type", R"({"object":{}})", false, "", 0, ""},
      {"an object that is not an object", R"({"type":"ADDED","object":[]})", false, "", 0, ""},
      {"not an object at all", "[1,2]", false, "", 0, ""},
  };
  for (const auto& c : cases) {
    auto event = parse_event(c.line);
    ASSERT_EQ(event.has_value(), c.event) << c.name;
    if (!event) continue;
    EXPECT_EQ(event->type, c.type) << c.name;
    EXPECT_EQ(error_code(*event), c.code) << c.name;
    EXPECT_EQ(resource_version(*event), c.version) << c.name;
  }
}

TEST(ReadObject, ParsesAnObjectOrSaysWhyNot) {
  auto service = parse_event(
      R"({"type":"ADDED","object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"reviews","namespace":"shop","managedFields":[{}]},"spec":{"ports":[{"port":9080}]}}})");
  ASSERT_TRUE(service);
  auto read = read_object(std::move(service->object), "Service");
  EXPECT_EQ(read.ns, "shop");
  EXPECT_EQ(read.name, "reviews");
  EXPECT_TRUE(read.object) << read.error;

  auto unknown = read_object(boost::json::value(boost::json::object{{"kind", "Mystery"}}), "Pod");
  EXPECT_FALSE(unknown.object);
  EXPECT_FALSE(unknown.error.empty());

  auto scalar = read_object(boost::json::value(3), "Pod");
  EXPECT_FALSE(scalar.object);
  EXPECT_EQ(scalar.error, "not a JSON object");
}

}  // namespace
}  // namespace weft::cp::kubernetes
