#include "common/base64.h"

#include <gtest/gtest.h>

namespace weft::base64 {
namespace {

struct Case {
  std::string plain;
  std::string encoded;
};

TEST(Base64, EncodesAndDecodesRfc4648Vectors) {
  const Case cases[] = {{"", ""},
                        {"f", "Zg=="},
                        {"fo", "Zm8="},
                        {"foo", "Zm9v"},
                        {"foob", "Zm9vYg=="},
                        {"fooba", "Zm9vYmE="},
                        {"foobar", "Zm9vYmFy"},
                        {std::string("\0\xff", 2), "AP8="}};
  for (const auto& c : cases) {
    EXPECT_EQ(encode(c.plain), c.encoded);
    EXPECT_EQ(decode(c.encoded), c.plain);
  }
}

}  // namespace
}  // namespace weft::base64
