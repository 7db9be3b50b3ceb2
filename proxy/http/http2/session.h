// One HTTP/2 connection's protocol state on nghttp2, server or client side,
// without I/O: the connection feeds it received bytes and writes what it
// produces. Header blocks arrive as protocol-independent heads (message.h);
// DATA goes into and comes out of BodyPipes, with the flow-control window
// of a stream reopened only as its pipe's consumer takes bytes (no
// automatic WINDOW_UPDATE), so memory per stream is bounded by the window.
//
// nghttp2 validates the messaging rules (RFC 9113 §8: uppercase or empty
// names, CR/LF/NUL in values, connection-specific fields, pseudo-header
// order, content-length against DATA) and answers a violation with
// RST_STREAM; this adds the limits of issue #4 that it does not enforce:
// header list size (HPACK bombs), and the AbuseGuard floods, answered with
// GOAWAY ENHANCE_YOUR_CALM.
#pragma once

#include <nghttp2/nghttp2.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>

#include "proxy/http/body_pipe.h"
#include "proxy/http/http2/abuse_guard.h"
#include "proxy/http/http2/limits.h"
#include "proxy/http/message.h"

namespace weft::proxy::http::http2 {

// Why a session refused to go on, for metrics and logs.
enum class SessionError {
  kNone,
  kProtocol,    // nghttp2 rejected the input (a connection error)
  kRapidReset,  // AbuseGuard verdicts
  kContinuationFlood,
  kEmptyFrameFlood,
  kControlFrameFlood,
  kControlQueueFull,  // max_queued_control_frames
};
std::string_view session_error_reason(SessionError error);

// Per-stream events, implemented by the connection that owns the session.
class SessionEvents {
 public:
  virtual ~SessionEvents() = default;
  // Server: a request head arrived on a new stream. Client: the response
  // head (1xx interim heads are not reported). `end_stream`: no body.
  virtual void on_request(std::int32_t stream, RequestHead head, bool end_stream) = 0;
  virtual void on_response(std::int32_t stream, ResponseHead head, bool end_stream) = 0;
  // The stream is gone: `error_code` is the RST_STREAM/GOAWAY code (0 when
  // it ended normally). The stream's pipes were detached first.
  virtual void on_closed(std::int32_t stream, std::uint32_t error_code) = 0;
  // A stream-level violation the session answered with RST_STREAM.
  virtual void on_stream_rejected(std::string_view reason) = 0;
};

class Session {
 public:
  enum class Role { kServer, kClient };

  Session(Role role, const SessionLimits& limits, SessionEvents& events);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Feeds received bytes. False: the connection must end (after flushing
  // output, which may hold a GOAWAY); error() says why.
  bool receive(std::string_view bytes);
  // The connection is gone: every stream's inbound pipe fails, outbound
  // pipes lose their consumer. No events are reported.
  void abandon();
  // Bytes to write next; empty when nothing is pending. Valid until the
  // next call into the session.
  std::string_view output();
  bool wants_read() const;
  bool wants_write() const;
  SessionError error() const { return error_; }
  const SessionLimits& limits() const { return limits_; }

  // Client: opens a stream for `head`; the body comes from `body` (null:
  // none). Returns the stream id, or a negative nghttp2 error.
  std::int32_t submit_request(const RequestHead& head, std::shared_ptr<BodyPipe> body);
  // Server: answers `stream`; null body: the head ends the stream.
  bool submit_response(std::int32_t stream, const ResponseHead& head,
                       std::shared_ptr<BodyPipe> body);
  // Where DATA received on `stream` goes. Set before the peer's data can
  // arrive (on_request / submit_request); null drops it.
  void set_inbound(std::int32_t stream, std::shared_ptr<BodyPipe> pipe);
  void reset(std::int32_t stream, std::uint32_t error_code);
  void goaway(std::uint32_t error_code);
  // Client: the streams the peer allows open at once (its SETTINGS, or
  // max_concurrent_streams until they arrive).
  std::uint32_t remote_max_concurrent_streams() const;
  // Sends a PING; ping_outstanding() until its ACK arrives.
  void ping();
  bool ping_outstanding() const { return ping_outstanding_; }
  // The last stream the peer said (in GOAWAY) it may process; -1: none seen.
  std::int32_t goaway_last_stream() const { return goaway_last_stream_; }
  bool draining() const { return goaway_last_stream_ >= 0; }
  std::size_t open_streams() const { return streams_.size(); }
  // When a stream last opened or moved a header block or DATA either way:
  // PINGs and SETTINGS do not count, so they cannot hold a connection open.
  std::chrono::steady_clock::time_point last_stream_activity() const { return last_activity_; }

  // The connection owning the session wants output flushed when a pipe
  // changes underneath it (data to send, window to reopen).
  std::function<void()> on_output_pending;

 private:
  struct Stream;
  struct Callbacks;
  friend struct Callbacks;

  Stream& stream(std::int32_t id);
  void on_header_block(std::int32_t id, bool end_stream);
  Stream* find(std::int32_t id);
  void attach_outbound(std::int32_t id, std::shared_ptr<BodyPipe> body);
  void detach(Stream& s, bool unprocessed);
  void fail_session(SessionError error, std::uint32_t code);
  // A client's HEADERS on `id` that opens no new stream and continues none
  // nghttp2 or this session still knows: a stream identifier lower than one
  // the client already used (RFC 9113 §5.1.1: a connection error), which
  // nghttp2 1.52 ignores instead.
  bool reuses_stream_id(std::int32_t id) const;
  void request_output() {
    if (on_output_pending) on_output_pending();
  }

  Role role_;
  SessionLimits limits_;
  SessionEvents& events_;
  nghttp2_session* session_ = nullptr;
  AbuseGuard guard_;
  SessionError error_ = SessionError::kNone;
  std::int32_t goaway_last_stream_ = -1;
  bool ping_outstanding_ = false;
  std::chrono::steady_clock::time_point last_activity_ = std::chrono::steady_clock::now();
  // Read once per receive() or output() call: every frame and callback of
  // that call shares it instead of reading the clock each.
  std::chrono::steady_clock::time_point now_ = last_activity_;
  std::unordered_map<std::int32_t, std::unique_ptr<Stream>> streams_;
  std::int32_t highest_client_stream_ = 0;
  // Streams closed before the client ended its side (reset by either end):
  // its frames may still be on their way, and a late HEADERS (trailers)
  // on one is no protocol error. The last kClosedEarly of them.
  static constexpr std::size_t kClosedEarly = 64;
  std::array<std::int32_t, kClosedEarly> closed_early_{};
  std::size_t closed_early_next_ = 0;
};

}  // namespace weft::proxy::http::http2
