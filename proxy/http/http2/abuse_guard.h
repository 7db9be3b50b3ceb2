// Per-connection accounting of the HTTP/2 misuse patterns that cost a
// server much more than the client who sends them (RFC 9113 §10.5): rapid
// reset, CONTINUATION floods, empty-frame floods and control-frame floods.
// Pure: the connection feeds it every received frame header and every
// premature reset, and sends GOAWAY (ENHANCE_YOUR_CALM) with the reason as
// a metric label when it answers anything but kNone. The other limits of
// issue #4 are nghttp2's own (max concurrent streams, header list size,
// queued outbound acknowledgements).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace weft::proxy::http::http2 {

using Clock = std::chrono::steady_clock;

// RFC 9113 §6 frame types.
enum class FrameType : std::uint8_t {
  kData = 0,
  kHeaders = 1,
  kPriority = 2,
  kRstStream = 3,
  kSettings = 4,
  kPushPromise = 5,
  kPing = 6,
  kGoaway = 7,
  kWindowUpdate = 8,
  kContinuation = 9,
};

struct AbuseLimits {
  // Streams the client resets before their response began (CVE-2023-44487),
  // as a token bucket: a long-lived connection that cancels now and then is
  // fine, a burst of thousands is not.
  std::uint32_t premature_reset_burst = 200;
  std::uint32_t premature_resets_per_second = 50;
  // CONTINUATION frames in one header block (CVE-2024-27316 and kin).
  std::uint32_t max_continuation_frames = 32;
  // DATA or HEADERS frames in a row with no payload and no END_STREAM.
  std::uint32_t max_consecutive_empty_frames = 32;
  // PING, SETTINGS, WINDOW_UPDATE, PRIORITY and RST_STREAM received.
  std::uint32_t control_frame_burst = 1000;
  std::uint32_t control_frames_per_second = 500;
};

enum class Abuse {
  kNone,
  kRapidReset,
  kContinuationFlood,
  kEmptyFrameFlood,
  kControlFrameFlood,
};

// The metric label: rapid_reset, continuation_flood, ...
std::string_view abuse_reason(Abuse abuse);

// `rate` tokens a second up to `burst`; starts full.
class TokenBucket {
 public:
  TokenBucket(std::uint32_t burst, std::uint32_t rate, Clock::time_point now)
      : burst_(burst), rate_(rate), tokens_(burst), refilled_(now) {}
  // Takes a token if there is one.
  bool take(Clock::time_point now);

 private:
  double burst_, rate_, tokens_;
  Clock::time_point refilled_;
};

class AbuseGuard {
 public:
  AbuseGuard(const AbuseLimits& limits, Clock::time_point now);

  // A received frame's header (nghttp2's on_begin_frame): `length` is the
  // payload length, flags as sent.
  Abuse on_frame(FrameType type, std::size_t length, bool end_stream, bool end_headers,
                 Clock::time_point now);
  // The client reset a stream whose response had not started.
  Abuse on_premature_reset(Clock::time_point now);

 private:
  AbuseLimits limits_;
  TokenBucket resets_, control_frames_;
  std::uint32_t continuation_frames_ = 0;
  std::uint32_t empty_frames_ = 0;
};

}  // namespace weft::proxy::http::http2
