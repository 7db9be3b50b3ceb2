#include "proxy/upstream/http2/connection.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>

namespace weft::proxy::upstream::http2 {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {
// How often an idle connection is checked (PING, idle timeout).
constexpr std::chrono::seconds kKeepaliveInterval{10};
constexpr std::uint32_t kRefusedStream = 7;  // RFC 9113 §7
constexpr std::uint32_t kCancel = 8;

http::http2::SessionLimits upstream_limits() {
  http::http2::SessionLimits limits;
  // Our own requests: nothing to guard against beyond the defaults.
  return limits;
}
}  // namespace

Connection::Connection(const asio::any_io_executor& executor,
                       std::chrono::milliseconds idle_timeout)
    : executor_(executor),
      idle_timeout_(idle_timeout),
      ready_(executor),
      session_(std::make_unique<http::http2::Session>(http::http2::Session::Role::kClient,
                                                      upstream_limits(), *this)) {}

Connection::~Connection() = default;

void Connection::start(pool::Connection transport) {
  state_ = State::kReady;
  ready_.notify();
  asio::co_spawn(executor_, run(std::move(transport)), asio::detached);
}

void Connection::fail_to_connect() {
  state_ = State::kClosed;
  ready_.notify();
}

asio::awaitable<void> Connection::wait_ready() {
  while (state_ == State::kConnecting) {
    co_await ready_.wait();
  }
}

std::uint32_t Connection::capacity() const {
  if (state_ == State::kClosed || (state_ == State::kReady && session_->draining())) return 0;
  auto limit = session_->remote_max_concurrent_streams();
  return reserved_ >= limit ? 0 : limit - reserved_;
}

asio::awaitable<void> Connection::run(pool::Connection transport) {
  auto self = shared_from_this();  // alive while the connection runs
  io_ = std::make_unique<http::http2::SessionIo>(*session_, executor_);
  if (auto* plain = transport.plain()) {
    co_await (io_->run(*plain) || keepalive());
  } else {
    co_await (io_->run(*transport.tls()) || keepalive());
  }
  state_ = State::kClosed;
  close_all();
}

asio::awaitable<void> Connection::keepalive() {
  asio::steady_timer timer(executor_);
  for (;;) {
    timer.expires_after(kKeepaliveInterval);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (session_->ping_outstanding()) co_return;  // the peer stopped answering
    const bool idle = reserved_ == 0 && pending_.empty();
    if (idle && Clock::now() - last_used_ >= idle_timeout_) {
      session_->goaway(0);
      co_return;
    }
    if (idle || Clock::now() - session_->last_stream_activity() >= kKeepaliveInterval) {
      session_->ping();
    }
  }
}

void Connection::close_all() {
  // The session's destruction fails every stream's pipes; the exchanges
  // waiting for a head learn the connection is gone.
  io_.reset();
  session_->abandon();
  auto pending = std::move(pending_);
  for (auto& [id, p] : pending) {
    p->closed = true;
    p->changed.notify();
  }
}

asio::awaitable<Response> Connection::exchange(const http::RequestHead& head,
                                               std::shared_ptr<http::BodyPipe> body,
                                               std::shared_ptr<http::BodyPipe> response_body,
                                               Clock::time_point deadline) {
  auto self = shared_from_this();
  Response response;
  if (!ready()) {
    response.outcome = Response::Outcome::kRefused;
    co_return response;
  }
  auto id = session_->submit_request(head, std::move(body));
  if (id < 0) {  // no stream ids left, or the session is going away
    response.outcome = Response::Outcome::kRefused;
    co_return response;
  }
  session_->set_inbound(id, std::move(response_body));
  io_->wake();
  auto pending = std::make_shared<Pending>(executor_);
  pending_[id] = pending;
  response.stream = id;
  while (!pending->head && !pending->closed) {
    if (!co_await pending->changed.wait_until(deadline)) {
      if (!pending->head && !pending->closed) {
        cancel(id);
        response.outcome = Response::Outcome::kTimeout;
        co_return response;
      }
    }
  }
  if (pending->head) {
    response.outcome = Response::Outcome::kHead;
    response.head = std::move(*pending->head);
    response.end_stream = pending->end_stream;
  } else if (pending->refused) {
    response.outcome = Response::Outcome::kRefused;
  } else if (state_ == State::kClosed && pending->error_code == 0) {
    response.outcome = Response::Outcome::kConnectionLost;
  } else {
    response.outcome = Response::Outcome::kReset;
    response.error_code = pending->error_code;
  }
  co_return response;
}

void Connection::close() {
  if (state_ != State::kReady || !io_) return;
  session_->goaway(0);
  io_->stop();  // flushes the GOAWAY, then run() closes everything
}

void Connection::cancel(std::int32_t stream) {
  if (state_ != State::kReady || !pending_.contains(stream)) return;
  session_->reset(stream, kCancel);
}

void Connection::on_response(std::int32_t stream, http::ResponseHead head, bool end_stream) {
  auto found = pending_.find(stream);
  if (found == pending_.end()) return;
  found->second->head = std::move(head);
  found->second->end_stream = end_stream;
  found->second->changed.notify();
}

void Connection::on_closed(std::int32_t stream, std::uint32_t error_code) {
  auto found = pending_.find(stream);
  if (found == pending_.end()) return;
  auto pending = std::move(found->second);
  pending_.erase(found);
  pending->closed = true;
  pending->error_code = error_code;
  pending->refused =
      !pending->head && (error_code == kRefusedStream || (session_->goaway_last_stream() >= 0 &&
                                                          stream > session_->goaway_last_stream()));
  pending->changed.notify();
}

}  // namespace weft::proxy::upstream::http2
