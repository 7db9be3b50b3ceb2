#include "proxy/http/grpc_framing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace weft::proxy::http::grpc {
namespace {

TEST(GrpcFraming, FramesAndReadsBackAcrossArbitrarySplits) {
  std::string wire =
      frame_message("hello") + frame_message("") + frame_message(std::string(300, 'x'));
  EXPECT_EQ(wire.substr(0, 5), std::string("\0\0\0\0\5", 5));
  for (std::size_t split = 0; split <= wire.size(); split += 7) {
    MessageReader reader(1024);
    std::vector<std::string> got;
    for (const auto& chunk : {wire.substr(0, split), wire.substr(split)}) {
      reader.append(chunk);
      while (true) {
        auto next = reader.next();
        ASSERT_TRUE(next);
        if (!*next) break;
        got.push_back(**next);
      }
    }
    ASSERT_EQ(got.size(), 3u) << "split at " << split;
    EXPECT_EQ(got[0], "hello");
    EXPECT_EQ(got[1], "");
    EXPECT_EQ(got[2].size(), 300u);
    EXPECT_EQ(reader.buffered(), 0u);
  }
}

TEST(GrpcFraming, RejectsCompressedAndOversizedMessages) {
  MessageReader compressed(1024);
  compressed.append(std::string("\1\0\0\0\1x", 6));
  EXPECT_FALSE(compressed.next());

  MessageReader oversized(16);
  oversized.append(frame_message(std::string(17, 'x')).substr(0, 5));  // the prefix is enough
  auto next = oversized.next();
  ASSERT_FALSE(next);
  EXPECT_THAT(next.error().message, ::testing::HasSubstr("17 bytes exceeds the 16 byte limit"));
}

}  // namespace
}  // namespace weft::proxy::http::grpc
