// One multiplexed HTTP/2 connection to an upstream endpoint, owned by its
// worker's pool. Exchanges share it up to the peer's
// SETTINGS_MAX_CONCURRENT_STREAMS; a GOAWAY stops new streams on it, and
// the streams the peer says it did not process come back as kRefused so the
// caller can retry them elsewhere. Idle connections are PINGed and closed
// when a PING goes unanswered or the cluster's idle timeout passes.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "proxy/http/body_pipe.h"
#include "proxy/http/http2/session.h"
#include "proxy/http/http2/session_io.h"
#include "proxy/http/message.h"
#include "proxy/upstream/pool/pool.h"

namespace weft::proxy::upstream::http2 {

using Clock = std::chrono::steady_clock;

// What came of one request.
struct Response {
  enum class Outcome {
    kHead,            // the response head arrived: `head`, `end_stream`
    kTimeout,         // no head before the deadline; the stream was reset
    kReset,           // the peer reset the stream: `error_code`
    kRefused,         // the peer did not process it: safe to retry
    kConnectionLost,  // the connection ended first
  };
  Outcome outcome = Outcome::kConnectionLost;
  http::ResponseHead head;
  bool end_stream = false;
  std::uint32_t error_code = 0;
  std::int32_t stream = -1;
};

class Connection final : public http::http2::SessionEvents,
                         public std::enable_shared_from_this<Connection> {
 public:
  Connection(const boost::asio::any_io_executor& executor, std::chrono::milliseconds idle_timeout);
  ~Connection() override;

  // Runs the session over `transport` until it ends (spawned by the pool).
  void start(pool::Connection transport);
  // The transport could not be opened: waiters give up.
  void fail_to_connect();
  boost::asio::awaitable<void> wait_ready();

  bool connecting() const { return state_ == State::kConnecting; }
  bool ready() const { return state_ == State::kReady && !session_->draining(); }
  bool closed() const { return state_ == State::kClosed; }
  // Streams it can take now, counting reserved ones.
  std::uint32_t capacity() const;
  void reserve() { ++reserved_; }
  void release() {
    --reserved_;
    last_used_ = Clock::now();
  }

  // Sends `head` with `body` (null: none); the response body goes into
  // `response_body`. Waits for the response head until `deadline`.
  boost::asio::awaitable<Response> exchange(const http::RequestHead& head,
                                            std::shared_ptr<http::BodyPipe> body,
                                            std::shared_ptr<http::BodyPipe> response_body,
                                            Clock::time_point deadline);
  // Ends the connection now (a GOAWAY, then the socket is closed): streams
  // still open fail. For a connection of its own, such as a health probe's.
  void close();
  // Cancels `stream` if it is still open (the client went away).
  void cancel(std::int32_t stream);
  bool is_open(std::int32_t stream) const { return pending_.contains(stream); }

  // SessionEvents
  void on_request(std::int32_t, http::RequestHead, bool) override {}
  void on_response(std::int32_t stream, http::ResponseHead head, bool end_stream) override;
  void on_closed(std::int32_t stream, std::uint32_t error_code) override;
  void on_stream_rejected(std::string_view) override {}

 private:
  enum class State { kConnecting, kReady, kClosed };
  struct Pending {
    explicit Pending(const boost::asio::any_io_executor& executor) : changed(executor) {}
    http::Signal changed;
    std::optional<http::ResponseHead> head;
    bool end_stream = false;
    bool closed = false;
    std::uint32_t error_code = 0;
    bool refused = false;
  };

  boost::asio::awaitable<void> run(pool::Connection transport);
  boost::asio::awaitable<void> keepalive();
  void close_all();

  boost::asio::any_io_executor executor_;
  std::chrono::milliseconds idle_timeout_;
  State state_ = State::kConnecting;
  http::Signal ready_;
  std::unique_ptr<http::http2::Session> session_;
  std::unique_ptr<http::http2::SessionIo> io_;
  std::unordered_map<std::int32_t, std::shared_ptr<Pending>> pending_;
  std::uint32_t reserved_ = 0;
  Clock::time_point last_used_ = Clock::now();
};

}  // namespace weft::proxy::upstream::http2
