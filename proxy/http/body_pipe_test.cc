#include "proxy/http/body_pipe.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <string>

namespace weft::proxy::http {
namespace {

class BodyPipeReplayTest : public ::testing::Test {
 protected:
  BodyPipeReplayTest() : pipe_(io_.get_executor(), 1024) {
    pipe_.on_consumed = [this](std::size_t n) { credited_ += n; };
  }

  std::string read_all() {
    std::string out;
    char chunk[7];
    while (auto n = pipe_.read(chunk, sizeof chunk)) out.append(chunk, n);
    return out;
  }

  boost::asio::io_context io_;
  BodyPipe pipe_;
  std::size_t credited_ = 0;  // what the producer was told was consumed
};

TEST_F(BodyPipeReplayTest, AKeptBodyIsServedAgainFromItsFirstByte) {
  pipe_.keep_for_replay(100);
  pipe_.push("hello ");
  pipe_.push("world");
  pipe_.finish();
  EXPECT_EQ(read_all(), "hello world");
  EXPECT_TRUE(pipe_.at_end());
  pipe_.consumer_gone(false);  // the upstream answered 503
  EXPECT_FALSE(pipe_.consumer_closed());
  ASSERT_TRUE(pipe_.rewind());
  EXPECT_FALSE(pipe_.at_end());
  EXPECT_EQ(read_all(), "hello world");
  EXPECT_EQ(credited_, 11u) << "each byte reported consumed once";
}

TEST_F(BodyPipeReplayTest, ABodyPastTheLimitIsNotKept) {
  pipe_.keep_for_replay(8);
  pipe_.push("hello ");
  EXPECT_EQ(read_all(), "hello ");
  EXPECT_TRUE(pipe_.replayable());
  pipe_.push("world");  // 11 bytes: over the limit
  EXPECT_FALSE(pipe_.replayable());
  EXPECT_FALSE(pipe_.rewind());
  EXPECT_EQ(read_all(), "world");
  pipe_.consumer_gone(false);
  EXPECT_TRUE(pipe_.consumer_closed()) << "nothing to keep it for";
}

TEST_F(BodyPipeReplayTest, AKeptBodyOverflowingAfterItsConsumerLeftIsDropped) {
  pipe_.keep_for_replay(8);
  pipe_.push("hello");
  read_all();
  pipe_.consumer_gone(false);
  EXPECT_FALSE(pipe_.consumer_closed());
  pipe_.push(" world");  // nobody will read it, and it cannot be replayed
  EXPECT_TRUE(pipe_.consumer_closed());
  EXPECT_EQ(credited_, 11u) << "the producer is not left waiting";
}

TEST_F(BodyPipeReplayTest, EndingTheReplayReleasesAGoneConsumersBytes) {
  pipe_.keep_for_replay(100);
  pipe_.push("hello");
  read_all();
  pipe_.consumer_gone(false);
  pipe_.end_replay();  // the retries are over
  EXPECT_TRUE(pipe_.consumer_closed());
  EXPECT_FALSE(pipe_.rewind());
}

TEST_F(BodyPipeReplayTest, EndingTheReplayWhileReadingKeepsStreaming) {
  pipe_.keep_for_replay(100);
  pipe_.push("hello");
  EXPECT_EQ(read_all(), "hello");
  pipe_.end_replay();  // the response head went to the client
  EXPECT_FALSE(pipe_.consumer_closed());
  EXPECT_FALSE(pipe_.replayable());
  pipe_.push(" world");
  EXPECT_EQ(read_all(), " world");
  EXPECT_EQ(credited_, 11u);
}

TEST_F(BodyPipeReplayTest, WithoutReplayOnlyAnUnprocessedUntouchedBodyIsKept) {
  pipe_.push("hello");
  pipe_.consumer_gone(true);  // refused before reading anything
  EXPECT_FALSE(pipe_.consumer_closed());
  EXPECT_TRUE(pipe_.rewind());
  char c;
  pipe_.read(&c, 1);
  pipe_.consumer_gone(true);  // refused after taking a byte
  EXPECT_TRUE(pipe_.consumer_closed());
  EXPECT_EQ(credited_, 5u);
}

}  // namespace
}  // namespace weft::proxy::http
