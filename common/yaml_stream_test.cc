#include "common/yaml_stream.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace weft::yaml {
namespace {

TEST(YamlStream, LoadsEveryDocumentEmptyOnesIncluded) {
  auto documents = load_all("a: 1\n---\n---\nb: 2\n", "m.yaml");
  ASSERT_TRUE(documents) << documents.error().message;
  ASSERT_EQ(documents->size(), 3u);
  EXPECT_EQ((*documents)[0]["a"].as<int>(), 1);
  EXPECT_TRUE((*documents)[1].IsNull());
  EXPECT_EQ((*documents)[2]["b"].as<int>(), 2);
}

// Each of these makes yaml-cpp 0.7's YAML::LoadAll loop forever; a test
// that regressed would hang until ctest's timeout.
TEST(YamlStream, ATokenNoDocumentCanStartWithIsAnErrorNotAHang) {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {",", "m.yaml:1:1: unexpected ',' where a document should start"},
      {", a\n", "m.yaml:1:1: unexpected ','"},
      {"a: 1\n---\n,\n", "m.yaml:3:1: unexpected ','"},
      {"kind: Service\nmetadata: {name: a} trailing\n", "m.yaml:2:"},
      {"a: [\n", "m.yaml:2:1: end of sequence flow not found"},
  };
  for (const auto& c : cases) {
    auto documents = load_all(c.text, "m.yaml");
    ASSERT_FALSE(documents) << c.text;
    EXPECT_THAT(documents.error().message, ::testing::HasSubstr(c.message)) << c.text;
  }
}

}  // namespace
}  // namespace weft::yaml
