// Internals of the downstream HTTP/2 connection shared by its source files.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "proxy/http/body_pipe.h"
#include "proxy/http/http2/session.h"
#include "proxy/http/http2/session_io.h"
#include "proxy/http/message.h"
#include "proxy/layers/exchange.h"
#include "proxy/listener/inbound_peer.h"
#include "proxy/listener/local_reply.h"
#include "proxy/worker/worker_state.h"

namespace weft::proxy::listener {

using Clock = std::chrono::steady_clock;

// One request stream of a downstream HTTP/2 connection, and what the layers
// recorded of it (layers::Record).
struct Http2Stream : layers::Record {
  explicit Http2Stream(const boost::asio::any_io_executor& executor) : closed_signal(executor) {}

  std::int32_t id = 0;
  http::RequestHead request;
  std::shared_ptr<http::BodyPipe> request_body;  // null: the request has none
  // The body the response is sent from (its bytes taken are those sent);
  // null: none.
  std::shared_ptr<http::BodyPipe> response_body;
  // The session closed the stream: `close_code` 0 when it ended normally.
  bool closed = false;
  std::uint32_t close_code = 0;
  http::Signal closed_signal;
  std::optional<unsigned> grpc_status;  // for metrics and the access log
};

// The connection's side of a stream's handler: everything a handler does to
// the downstream session goes through here, so it can tell when the
// connection is gone.
class Http2Downstream {
 public:
  virtual ~Http2Downstream() = default;
  // False when the stream is gone (reset by the client, connection lost).
  virtual bool respond(Http2Stream& stream, const http::ResponseHead& head,
                       std::shared_ptr<http::BodyPipe> body) = 0;
  virtual void reset(Http2Stream& stream, std::uint32_t error_code) = 0;
  virtual boost::asio::any_io_executor executor() = 0;
  virtual worker::WorkerState& state() = 0;
  virtual const std::string& peer_ip() const = 0;
  virtual const InboundPeer& inbound_peer() const = 0;
  virtual std::size_t listener() const = 0;  // index into the snapshot's listeners
  virtual bool tls() const = 0;
  // The listener's idle timeout: the longest a body may stall.
  virtual std::chrono::milliseconds idle_timeout() const = 0;
  // Which side of its workload the listener serves (request metrics).
  virtual config::Direction direction() const = 0;
};

// Routes `stream` and answers it: forwarded, or a local reply. Returns when
// the response has been handed to the session (not when it is sent).
boost::asio::awaitable<void> serve_stream(Http2Downstream& downstream, Http2Stream& stream,
                                          const worker::View& view, std::size_t route_table);

// A local reply: plain text with x-weft-error, or for a gRPC request a
// trailers-only response with grpc-status and grpc-message.
void reply(Http2Downstream& downstream, Http2Stream& stream, const LocalReply& local,
           const router::HeaderEdits* edits = nullptr);

// Waits until the session has closed `stream`.
boost::asio::awaitable<void> wait_closed(Http2Stream& stream);

}  // namespace weft::proxy::listener
