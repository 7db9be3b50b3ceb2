#include "common/log.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <cstdlib>

namespace weft::log {
namespace {

TEST(Log, ParsesLevels) {
  struct Case {
    const char* name;
    spdlog::level::level_enum level;
  };
  for (auto [name, level] :
       {Case{"trace", spdlog::level::trace}, Case{"debug", spdlog::level::debug},
        Case{"info", spdlog::level::info}, Case{"warning", spdlog::level::warn},
        Case{"warn", spdlog::level::warn}, Case{"error", spdlog::level::err},
        Case{"off", spdlog::level::off}}) {
    auto parsed = parse_level(name);
    ASSERT_TRUE(parsed) << name;
    EXPECT_EQ(*parsed, level) << name;
  }
  EXPECT_FALSE(parse_level("loud"));
  EXPECT_FALSE(parse_format("xml"));
}

TEST(Log, FlagWinsOverEnvironment) {
  ::setenv("WEFT_LOG_LEVEL", "debug", 1);
  ::setenv("WEFT_LOG_FORMAT", "json", 1);
  auto from_env = resolve_options("", "");
  ASSERT_TRUE(from_env);
  EXPECT_EQ(from_env->level, spdlog::level::debug);
  EXPECT_EQ(from_env->format, Format::kJson);
  auto from_flag = resolve_options("error", "text");
  ASSERT_TRUE(from_flag);
  EXPECT_EQ(from_flag->level, spdlog::level::err);
  EXPECT_EQ(from_flag->format, Format::kText);
  ::setenv("WEFT_LOG_LEVEL", "nonsense", 1);
  EXPECT_FALSE(resolve_options("", ""));
  ::unsetenv("WEFT_LOG_LEVEL");
  ::unsetenv("WEFT_LOG_FORMAT");
}

TEST(Log, JsonQuote) {
  EXPECT_EQ(json_quote("plain"), "\"plain\"");
  EXPECT_EQ(json_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
  auto parsed = boost::json::parse(json_quote(std::string("nul\0ctl\x01", 8)));
  EXPECT_EQ(parsed.as_string(), std::string_view("nul\0ctl\x01", 8));
}

TEST(Log, JsonLineEscapesTheMessage) {
  auto line = format_json_line("1.5", "info", "quote \" newline \n tab \t");
  ASSERT_EQ(line.back(), '\n');
  auto parsed = boost::json::parse(line).as_object();
  EXPECT_EQ(parsed.at("msg").as_string(), "quote \" newline \n tab \t");
  EXPECT_EQ(parsed.at("level").as_string(), "info");
  EXPECT_DOUBLE_EQ(parsed.at("ts").as_double(), 1.5);
}

}  // namespace
}  // namespace weft::log
