#include "proxy/http/http2/abuse_guard.h"

#include <algorithm>

namespace weft::proxy::http::http2 {

std::string_view abuse_reason(Abuse abuse) {
  switch (abuse) {
    case Abuse::kRapidReset:
      return "rapid_reset";
    case Abuse::kContinuationFlood:
      return "continuation_flood";
    case Abuse::kEmptyFrameFlood:
      return "empty_frame_flood";
    case Abuse::kControlFrameFlood:
      return "control_frame_flood";
    case Abuse::kNone:
      break;
  }
  return "none";
}

bool TokenBucket::take(Clock::time_point now) {
  std::chrono::duration<double> elapsed = now - refilled_;
  if (elapsed.count() > 0) {
    tokens_ = std::min(burst_, tokens_ + elapsed.count() * rate_);
    refilled_ = now;
  }
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

AbuseGuard::AbuseGuard(const AbuseLimits& limits, Clock::time_point now)
    : limits_(limits),
      resets_(limits.premature_reset_burst, limits.premature_resets_per_second, now),
      control_frames_(limits.control_frame_burst, limits.control_frames_per_second, now) {}

Abuse AbuseGuard::on_frame(FrameType type, std::size_t length, bool end_stream, bool end_headers,
                           Clock::time_point now) {
  switch (type) {
    case FrameType::kHeaders:
    case FrameType::kPushPromise:
      continuation_frames_ = 0;
      break;
    case FrameType::kContinuation:
      // A header block ends with END_HEADERS; counting every CONTINUATION
      // until then bounds the work and memory a single block may take.
      if (++continuation_frames_ > limits_.max_continuation_frames) {
        return Abuse::kContinuationFlood;
      }
      if (end_headers) continuation_frames_ = 0;
      break;
    case FrameType::kPing:
    case FrameType::kSettings:
    case FrameType::kWindowUpdate:
    case FrameType::kPriority:
    case FrameType::kRstStream:
      if (!control_frames_.take(now)) return Abuse::kControlFrameFlood;
      break;
    default:
      break;
  }
  if (type == FrameType::kData || type == FrameType::kHeaders) {
    if (length == 0 && !end_stream) {
      if (++empty_frames_ > limits_.max_consecutive_empty_frames) return Abuse::kEmptyFrameFlood;
    } else {
      empty_frames_ = 0;
    }
  }
  return Abuse::kNone;
}

Abuse AbuseGuard::on_premature_reset(Clock::time_point now) {
  return resets_.take(now) ? Abuse::kNone : Abuse::kRapidReset;
}

}  // namespace weft::proxy::http::http2
