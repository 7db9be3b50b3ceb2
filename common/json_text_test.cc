#include "common/json_text.h"

#include <gtest/gtest.h>

namespace weft {
namespace {

TEST(JsonString, EscapesWhatJsonRequiresAndReplacesWhatIsNotUtf8) {
  const struct {
    std::string_view text;
    std::string_view json;
  } cases[] = {
      {"", R"("")"},
      {"/a/b?x=1", R"("/a/b?x=1")"},
      {R"(say "hi" \ bye)", R"("say \"hi\" \\ bye")"},
      {"tab\tnewline\n\x7f", R"("tab\u0009newline\u000a\u007f")"},
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
       "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
      {"lone \xff byte", R"("lone \ufffd byte")"},
      {"overlong \xc0\xaf", R"("overlong \ufffd\ufffd")"},
      {"surrogate \xed\xa0\x80", R"("surrogate \ufffd\ufffd\ufffd")"},
      {"cut \xe2\x82", R"("cut \ufffd\ufffd")"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(json_string(c.text), c.json) << c.text;
    std::string appended = "x";
    append_json_string(appended, c.text);
    EXPECT_EQ(appended, "x" + std::string(c.json));
  }
}

}  // namespace
}  // namespace weft
