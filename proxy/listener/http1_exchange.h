// Internals of the HTTP/1.1 connection shared by its two source files.
#pragma once

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <memory_resource>
#include <optional>
#include <span>
#include <string>
#include <variant>

#include "proxy/http/body_pipe.h"
#include "proxy/http/failure.h"
#include "proxy/http/http1/fields.h"
#include "proxy/http/http1/parser.h"
#include "proxy/http/http1/request_check.h"
#include "proxy/http/http1/stream_io.h"
#include "proxy/http/http1/upstream_request.h"
#include "proxy/http/http1/writer.h"
#include "proxy/http/message.h"
#include "proxy/layers/exchange.h"
#include "proxy/layers/retry.h"
#include "proxy/layers/timeout.h"
#include "proxy/listener/inbound_peer.h"
#include "proxy/listener/local_reply.h"
#include "proxy/upstream/http1/call.h"
#include "proxy/worker/coarse_clock.h"
#include "proxy/worker/worker_state.h"

namespace weft::proxy::listener {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using Clock = std::chrono::steady_clock;
using http::http1::RequestParser;
using http::http1::ResponseParser;
inline constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// Which socket a wait is on. An expired wait closes that socket, which ends
// the pending operation; the connection then reads the error as a timeout.
enum class Side { kDownstream, kUpstream };

// The deadline of a connection's current wait. Nothing arms a timer per
// operation: the worker sweeps its connections a few times a second
// (worker::Worker::sweep) and expires the ones past their deadline, so a
// read or write costs a store, not a timer queue insert and cancel.
//
// Each wait is allowed the stream's idle timeout, and never past `limit`,
// the exchange's own deadline (request or per-try timeout) while one runs.
struct Deadline {
  static constexpr Clock::time_point kNever = Clock::time_point::max();

  Clock::time_point when = kNever;
  Side side = Side::kDownstream;
  bool expired = false;  // set by the sweep
  // What the armed deadline's passing means: idleness, or `limit`'s failure.
  http::Failure cause = http::Failure::kIdleTimeout;
  layers::timeout::Limit limit;

  void arm(Side s, std::chrono::milliseconds allowance) {
    const auto chosen = limit.or_idle(worker::coarse_now(), allowance);
    side = s;
    when = chosen.when;
    cause = chosen.failure;
    expired = false;
  }
  void disarm() { when = kNever; }
  // An operation's error, as a timeout when the sweep caused it.
  boost::system::error_code outcome(boost::system::error_code ec) const {
    return expired ? make_error_code(beast::error::timeout) : ec;
  }
};

struct RelayResult {
  boost::system::error_code error;
  bool failed_reading = false;  // the error came from the source, not the sink
};

// Streams a message from `from` to `to`: the head (started on `writer`)
// leaves with the first body bytes in one write, and body bytes go out from
// the read buffer they arrived in. Reads wait for writes, so a slow reader
// throttles the writer instead of growing a buffer.
//
// Most messages need no waiting at all: the body came in with the head and
// the socket takes the write at once. relay_buffered() does that part
// without a coroutine; relay() goes on from where it stopped.
template <bool kIsRequest, class From, class To>
class BodyRelay {
 public:
  // Socket reads take up to this much (Beast's own bound); a body moves in
  // pieces of at most that, straight from the read buffer to the write.
  static constexpr std::size_t kReadAhead = std::size_t{64} * 1024;

  BodyRelay(From& from, beast::flat_buffer& from_buffer, http::http1::Parser<kIsRequest>& parser,
            Side from_side, To& to, http::http1::MessageWriter& writer, Deadline& deadline,
            std::chrono::milliseconds allowance)
      : from_(from),
        from_buffer_(from_buffer),
        parser_(parser),
        to_(to),
        writer_(writer),
        deadline_(deadline),
        allowance_(allowance),
        from_side_(from_side) {
    // Beast sizes each socket read by the buffer's free capacity, which
    // starts at 512 bytes: reserve, or bulk transfers move in 512-byte pieces.
    from_buffer_.reserve(from_buffer_.size() + kReadAhead);
  }

  // Relays what needs no wait: the outcome when the message is through (or
  // failed), nothing when relay() must go on.
  std::optional<RelayResult> relay_buffered() {
    if (advance()) return result_;
    return std::nullopt;
  }

  // Relays the rest, waiting for reads and writes.
  asio::awaitable<RelayResult> relay();

  // Whether any byte reached `to` (the head leaves with the first body
  // bytes): when none did, a failure can still be answered.
  bool wrote() const { return wrote_; }

 private:
  enum class Wait { kRead, kWrite };

  // relay_buffered(): true when the message is through or failed.
  bool advance() {
    for (;;) {
      std::string_view piece;
      if (!parser_.is_done()) {
        auto ec = http::http1::parse_buffered(from_buffer_, parser_);
        if (ec == beast_http::error::need_more) {
          wait_ = Wait::kRead;
          return false;
        }
        if (ec == beast_http::error::need_buffer) ec = {};
        if (ec) return fail(ec, true);
        // A parse may take framing only (a chunk header): then piece is empty.
        piece = parser_.piece();
      }
      const bool last = parser_.is_done();
      if (!write_now(writer_.next(piece, last))) return false;
      if (result_.error) return true;
      if (last) break;
    }
    deadline_.disarm();
    return true;
  }

  // False when the socket took only part: relay() writes the rest.
  bool write_now(std::span<const asio::const_buffer> buffers) {
    if (buffers.empty()) return true;
    boost::system::error_code ec;
    const std::size_t sent = http::http1::write_now(to_, buffers, ec);
    if (ec) return fail(ec, false);
    wrote_ = wrote_ || sent > 0;
    if (sent == asio::buffer_size(buffers)) return true;
    wait_ = Wait::kWrite;
    pending_ = buffers;
    pending_sent_ = sent;
    return false;
  }
  bool fail(boost::system::error_code ec, bool reading) {
    result_ = RelayResult{ec, reading};
    return true;
  }

  From& from_;
  beast::flat_buffer& from_buffer_;
  http::http1::Parser<kIsRequest>& parser_;
  To& to_;
  http::http1::MessageWriter& writer_;
  Deadline& deadline_;
  std::chrono::milliseconds allowance_;
  Side from_side_;
  Wait wait_ = Wait::kRead;
  std::span<const asio::const_buffer> pending_;  // writer_'s buffers, valid until its next call
  std::size_t pending_sent_ = 0;
  bool wrote_ = false;
  RelayResult result_;
};

template <bool kIsRequest, class From, class To>
asio::awaitable<RelayResult> BodyRelay<kIsRequest, From, To>::relay() {
  const Side to_side = from_side_ == Side::kDownstream ? Side::kUpstream : Side::kDownstream;
  for (;;) {
    if (wait_ == Wait::kRead) {
      deadline_.arm(from_side_, allowance_);
      auto ec = deadline_.outcome(co_await http::http1::read_some(from_, from_buffer_, parser_));
      if (ec == beast_http::error::need_buffer) ec = {};
      if (ec) co_return RelayResult{ec, true};
      const bool last = parser_.is_done();
      if (write_now(writer_.next(parser_.piece(), last)) && !result_.error && last) break;
    }
    if (wait_ == Wait::kWrite) {
      deadline_.arm(to_side, allowance_);
      auto ec = deadline_.outcome(co_await http::http1::write_rest(to_, pending_, pending_sent_));
      if (ec) co_return RelayResult{ec, false};
      wrote_ = true;
      if (parser_.is_done()) break;
    }
    if (result_.error) co_return result_;
    if (advance()) co_return result_;
  }
  deadline_.disarm();
  co_return RelayResult{};
}

// What an exchange left behind for the next request on the connection.
enum class Next { kKeepAlive, kClose };

// One request on the connection, and what the layers recorded of it.
struct Exchange : layers::Record {
  bool client_keep_alive = true;
  bool body_sent = false;  // an attempt began sending the request body
};

// An HTTP/1.1 request translated for an HTTP/2 cluster, kept across attempts.
struct Http2Request {
  http::RequestHead head;
  std::shared_ptr<http::BodyPipe> body;  // null: none
  bool pumping = false;                  // the client's body is read into `body`
};

// One downstream connection; `DownStream` is a TCP socket or a TLS stream
// over one. Instantiated for both in http1_connection.cc.
template <class DownStream>
class Http1Connection final : public worker::TrackedConnection {
 public:
  Http1Connection(DownStream stream, beast::flat_buffer read_ahead, worker::WorkerState& state,
                  std::size_t listener, std::size_t route_table, InboundPeer peer)
      : down_(std::move(stream)),
        down_buffer_(std::move(read_ahead)),
        state_(state),
        listener_(listener),
        route_table_(route_table),
        peer_(std::move(peer)) {
    boost::system::error_code ec;
    auto remote = socket().remote_endpoint(ec);
    if (!ec) peer_ip_ = remote.address().to_string();
    state_.connections.insert(this);
  }
  ~Http1Connection() override { state_.connections.erase(this); }

  void close_if_idle() override {
    if (!idle_) return;
    boost::system::error_code ignored;
    socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket().cancel(ignored);
  }

  void expire_if_due(Clock::time_point now) override {
    if (now < deadline_.when) return;
    deadline_.expired = true;
    deadline_.disarm();
    boost::system::error_code ignored;
    if (deadline_.side == Side::kUpstream && upstream_socket_ != nullptr) {
      upstream_socket_->close(ignored);  // not reusable now; the client gets a 504
    } else {
      socket().close(ignored);
    }
  }

  asio::awaitable<void> run();

 private:
  // The retry layer's path for this connection, and the client of its
  // HTTP/1.1 upstream call (http1_forward.cc).
  class UpstreamPath;
  class ClientBody;  // http1_to_http2.cc

  asio::awaitable<Next> serve(RequestParser& parser, const worker::View& view, Exchange& exchange);
  asio::awaitable<Next> forward(RequestParser& parser, const router::Route& route,
                                const router::Forward& forward, const worker::View& view,
                                Exchange& exchange);
  // One exchange on `up` for the upstream call (upstream/http1/call.h):
  // the request sent, the answer's head read, the response relayed.
  template <class UpStream>
  asio::awaitable<upstream::http1::Exchanged> exchange_with(UpStream& up, UpstreamPath& path,
                                                            layers::retry::Tries& tries);

  // Relays a 101 answer to an upgrade request, then tunnels bytes both ways.
  template <class UpStream>
  asio::awaitable<void> switch_protocols(UpStream& up, http::http1::ResponseHead& res,
                                         std::chrono::milliseconds idle);
  // Answers `Expect: 100-continue`; false when the client could not be
  // written to.
  asio::awaitable<bool> answer_continue(std::chrono::milliseconds idle);
  // Reads the request body ahead into replay_ for an HTTP/1.1 cluster, up
  // to the replay limit; a longer body streams on after that part. False
  // when the client failed.
  asio::awaitable<bool> read_for_replay(RequestParser& parser, std::chrono::milliseconds idle);
  // Sends replay_ (the head first, when it has not gone out); `whole`: it is
  // the whole body.
  template <class UpStream>
  asio::awaitable<RelayResult> send_replay(UpStream& up, bool whole,
                                           std::chrono::milliseconds idle);
  // The request as an HTTP/2 cluster gets it (http1_to_http2.cc), and one
  // attempt with it. An HTTP/1.0 request without Host gets the cluster's
  // name as its :authority.
  Http2Request http2_request(RequestParser& parser, const router::Route& route,
                             const config::Cluster& cluster, const asio::any_io_executor& executor);
  asio::awaitable<layers::retry::AttemptEnd> attempt_http2(
      RequestParser& parser, Http2Request& request, const router::Route& route,
      upstream::ClusterState& cluster, const layers::timeout::Deadlines& deadlines,
      layers::retry::Tries& tries, Exchange& exchange, Next& next);
  asio::awaitable<bool> pump_request(RequestParser& parser, http::BodyPipe& body,
                                     std::chrono::milliseconds idle);
  asio::awaitable<Next> relay_response(RequestParser& parser, http::ResponseHead head,
                                       std::shared_ptr<http::BodyPipe> body,
                                       const router::Route& route,
                                       const layers::timeout::Deadlines& deadlines,
                                       Exchange& exchange);
  asio::awaitable<Next> reply(RequestParser& parser, const LocalReply& local, Exchange& exchange,
                              const router::HeaderEdits* edits = nullptr);
  asio::awaitable<void> reject(const http::http1::Rejection& rejection);
  asio::awaitable<void> close_lingering();
  // Writes a response the proxy made, framed by Content-Length.
  asio::awaitable<boost::system::error_code> write_local(http::http1::ResponseHead& response,
                                                         std::string_view body, bool keep_alive);
  void finish(const worker::View& view, Exchange& exchange, const RequestParser& parser);
  // Who the client is, for the fields the proxy adds upstream.
  http::http1::Downstream downstream() const {
    return {peer_ip_, !std::is_same_v<DownStream, asio::ip::tcp::socket>,
            peer_.forwarded_client_cert};
  }

  asio::ip::tcp::socket& socket() { return beast::get_lowest_layer(down_); }
  std::pmr::memory_resource* arena() { return &arena_; }
  std::chrono::milliseconds idle_timeout(const worker::View& view) const {
    return view.snapshot->listeners[listener_].idle_timeout;
  }

  DownStream down_;
  beast::flat_buffer down_buffer_;
  beast::flat_buffer up_buffer_;       // upstream bytes read ahead of the response being relayed
  http::http1::MessageWriter writer_;  // its head buffer is reused by every message
  worker::WorkerState& state_;
  std::size_t listener_;
  std::size_t route_table_;
  InboundPeer peer_;
  std::string peer_ip_;
  bool idle_ = true;
  Deadline deadline_;
  // Header fields of the request in flight and of its response. Released at
  // the start of each request; beyond the inline bytes it spills to the heap.
  alignas(std::max_align_t) std::array<std::byte, 4096> arena_bytes_;
  std::pmr::monotonic_buffer_resource arena_{arena_bytes_.data(), arena_bytes_.size()};
  // The response being relayed (its fields in arena_, so declared after it);
  // a member rather than a local, which would make the exchange's coroutine
  // frame too large for Asio to recycle.
  std::optional<ResponseParser> response_;
  // The request body read ahead so that a retry can send it again
  // (read_for_replay); empty when the body streams.
  std::string replay_;
  // The upstream socket of the exchange in flight, for expire_if_due.
  asio::ip::tcp::socket* upstream_socket_ = nullptr;
};

}  // namespace weft::proxy::listener
