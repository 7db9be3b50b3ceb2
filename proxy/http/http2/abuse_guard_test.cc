#include "proxy/http/http2/abuse_guard.h"

#include <gtest/gtest.h>

#include <vector>

namespace weft::proxy::http::http2 {
namespace {

using std::chrono::milliseconds;

struct Frame {
  FrameType type;
  std::size_t length = 0;
  bool end_stream = false;
  bool end_headers = true;
  milliseconds at{0};  // since the connection opened
};

struct Sequence {
  const char* name;
  std::vector<Frame> frames;
  std::size_t repeat = 1;
  Abuse expected;
};

AbuseLimits small_limits() {
  AbuseLimits limits;
  limits.max_continuation_frames = 3;
  limits.max_consecutive_empty_frames = 2;
  limits.control_frame_burst = 5;
  limits.control_frames_per_second = 10;
  return limits;
}

TEST(AbuseGuard, FrameSequences) {
  using enum FrameType;
  const Sequence sequences[] = {
      {"ordinary request", {{kHeaders, 40}, {kData, 100}, {kData, 0, true}}, 1, Abuse::kNone},
      {"header block in 3 continuations",
       {{kHeaders, 10, false, false},
        {kContinuation, 10, false, false},
        {kContinuation, 10, false, false},
        {kContinuation, 10, false, true}},
       1,
       Abuse::kNone},
      {"continuation flood",
       {{kHeaders, 10, false, false},
        {kContinuation, 10, false, false},
        {kContinuation, 10, false, false},
        {kContinuation, 10, false, false},
        {kContinuation, 10, false, false}},
       1,
       Abuse::kContinuationFlood},
      {"many header blocks each within the limit",
       {{kHeaders, 10, false, false},
        {kContinuation, 10, false, false},
        {kContinuation, 10, false, true}},
       50,
       Abuse::kNone},
      {"two empty frames are fine", {{kData, 0}, {kData, 0}, {kData, 10}}, 20, Abuse::kNone},
      {"empty DATA flood", {{kData, 0}, {kData, 0}, {kData, 0}}, 1, Abuse::kEmptyFrameFlood},
      {"empty HEADERS flood",
       {{kHeaders, 0}, {kHeaders, 0}, {kHeaders, 0}},
       1,
       Abuse::kEmptyFrameFlood},
      {"empty frames that end streams are not empty", {{kData, 0, true}}, 50, Abuse::kNone},
      {"control burst",
       {{kPing, 8}, {kPing, 8}, {kSettings, 0}, {kWindowUpdate, 4}, {kPing, 8}},
       1,
       Abuse::kNone},
      {"control flood",
       {{kPing, 8},
        {kWindowUpdate, 4},
        {kPriority, 5},
        {kSettings, 0},
        {kRstStream, 4},
        {kPing, 8}},
       1,
       Abuse::kControlFrameFlood},
      {"control frames at the sustained rate", {{kPing, 8}}, 200, Abuse::kNone},
  };
  for (const auto& sequence : sequences) {
    auto start = Clock::now();
    AbuseGuard guard(small_limits(), start);
    Abuse seen = Abuse::kNone;
    milliseconds offset{0};
    for (std::size_t round = 0; round < sequence.repeat && seen == Abuse::kNone; ++round) {
      for (const auto& frame : sequence.frames) {
        seen = guard.on_frame(frame.type, frame.length, frame.end_stream, frame.end_headers,
                              start + offset + frame.at);
        if (seen != Abuse::kNone) break;
      }
      // Rounds of a sustained sequence come at the sustained rate.
      offset += milliseconds(100 * sequence.frames.size());
    }
    EXPECT_EQ(seen, sequence.expected) << sequence.name;
  }
}

TEST(AbuseGuard, RapidResetIsABurstAboveTheRate) {
  AbuseLimits limits;
  limits.premature_reset_burst = 10;
  limits.premature_resets_per_second = 5;
  auto start = Clock::now();
  AbuseGuard guard(limits, start);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(guard.on_premature_reset(start), Abuse::kNone) << i;
  EXPECT_EQ(guard.on_premature_reset(start), Abuse::kRapidReset);

  AbuseGuard patient(limits, start);
  for (int i = 0; i < 100; ++i) {  // one every 200 ms: the sustained rate, forever
    EXPECT_EQ(patient.on_premature_reset(start + milliseconds(200 * i)), Abuse::kNone) << i;
  }
}

TEST(AbuseGuard, ReasonsAreMetricLabels) {
  EXPECT_EQ(abuse_reason(Abuse::kRapidReset), "rapid_reset");
  EXPECT_EQ(abuse_reason(Abuse::kContinuationFlood), "continuation_flood");
  EXPECT_EQ(abuse_reason(Abuse::kEmptyFrameFlood), "empty_frame_flood");
  EXPECT_EQ(abuse_reason(Abuse::kControlFrameFlood), "control_frame_flood");
}

}  // namespace
}  // namespace weft::proxy::http::http2
