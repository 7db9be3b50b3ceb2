// The downstream HTTP/2 connection: the session's I/O, its streams' life
// cycle, drain and idle timeout. Routing and forwarding of each stream are
// in http2_forward.cc.
#include "proxy/listener/http2_connection.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/beast/core/buffers_to_string.hpp>

#include "proxy/http/grpc.h"
#include "proxy/listener/finish.h"
#include "proxy/listener/http2_stream.h"

namespace weft::proxy::listener {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http2 = http::http2;

constexpr std::uint32_t kNoError = 0;
constexpr std::uint32_t kCancel = 8;

template <class DownStream>
class Http2Connection final : public worker::TrackedConnection,
                              public http2::SessionEvents,
                              public Http2Downstream,
                              public std::enable_shared_from_this<Http2Connection<DownStream>> {
 public:
  Http2Connection(DownStream stream, const beast::flat_buffer& read_ahead,
                  worker::WorkerState& state, std::size_t listener, std::size_t route_table,
                  InboundPeer peer)
      : down_(std::move(stream)),
        read_ahead_(beast::buffers_to_string(read_ahead.data())),
        state_(state),
        listener_(listener),
        route_table_(route_table),
        peer_(std::move(peer)),
        session_(http2::Session::Role::kServer, state.view->snapshot->listeners[listener].http2,
                 *this),
        io_(session_, down_.get_executor()) {
    boost::system::error_code ec;
    auto remote = socket().remote_endpoint(ec);
    if (!ec) peer_ip_ = remote.address().to_string();
    state_.connections.insert(this);
  }
  ~Http2Connection() override { state_.connections.erase(this); }

  asio::awaitable<void> run() {
    co_await io_.run(down_, read_ahead_);
    closed_ = true;
    if (auto error = session_.error(); error != http2::SessionError::kNone) {
      auto reason = http2::session_error_reason(error);
      state_.metrics.http2_connection_error(reason).Increment();
      spdlog::debug("HTTP/2 connection from {} ended: {}", peer_ip_, reason);
    }
    session_.abandon();
    auto streams = std::move(streams_);
    for (auto& [id, stream] : streams) {
      stream->closed = true;
      stream->close_code = kCancel;
      stream->closed_signal.notify();
    }
    boost::system::error_code ignored;
    socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  }

  // TrackedConnection: drain sends GOAWAY, lets the open streams finish.
  void close_if_idle() override {
    if (closed_) return;
    session_.goaway(kNoError);
    if (streams_.empty()) io_.stop();
  }

  // Idle: nothing moved on any stream (no HEADERS, no DATA either way) for
  // the listener's idle timeout, whether streams are open or not: a client
  // that stops reading cannot pin its streams' buffers forever. PINGs and
  // SETTINGS do not count, so they cannot keep a connection either.
  void expire_if_due(Clock::time_point now) override {
    if (closed_) return;
    if (now - session_.last_stream_activity() < idle_timeout()) return;
    state_.metrics.http2_connection_error("idle_timeout").Increment();
    session_.goaway(kNoError);
    io_.stop();
  }

  // SessionEvents
  void on_request(std::int32_t id, http::RequestHead head, bool end_stream) override {
    auto stream = std::make_shared<Http2Stream>(executor());
    stream->id = id;
    stream->request = std::move(head);
    auto content_type = stream->request.fields.get("content-type");
    stream->grpc = content_type && http::grpc::is_grpc(*content_type);
    if (!end_stream) {
      stream->request_body =
          std::make_shared<http::BodyPipe>(executor(), session_.limits().stream_window);
      session_.set_inbound(id, stream->request_body);
    }
    streams_[id] = stream;
    asio::co_spawn(executor(), handle(this->shared_from_this(), stream), asio::detached);
  }

  void on_response(std::int32_t, http::ResponseHead, bool) override {}

  void on_closed(std::int32_t id, std::uint32_t error_code) override {
    auto found = streams_.find(id);
    if (found == streams_.end()) return;
    auto stream = std::move(found->second);
    streams_.erase(found);
    stream->closed = true;
    stream->close_code = error_code;
    stream->closed_signal.notify();
    if (state_.draining && streams_.empty()) io_.stop();
  }

  void on_stream_rejected(std::string_view reason) override {
    state_.metrics.http2_stream_error(reason).Increment();
  }

  // Http2Downstream
  bool respond(Http2Stream& stream, const http::ResponseHead& head,
               std::shared_ptr<http::BodyPipe> body) override {
    if (closed_ || stream.closed) return false;
    stream.status = head.status;
    stream.response_body = body;
    return session_.submit_response(stream.id, head, std::move(body));
  }
  void reset(Http2Stream& stream, std::uint32_t error_code) override {
    if (!closed_ && !stream.closed) session_.reset(stream.id, error_code);
  }
  asio::any_io_executor executor() override { return down_.get_executor(); }
  worker::WorkerState& state() override { return state_; }
  const std::string& peer_ip() const override { return peer_ip_; }
  const InboundPeer& inbound_peer() const override { return peer_; }
  std::size_t listener() const override { return listener_; }
  bool tls() const override { return !std::is_same_v<DownStream, asio::ip::tcp::socket>; }
  std::chrono::milliseconds idle_timeout() const override {
    return state_.view->snapshot->listeners[listener_].idle_timeout;
  }
  config::Direction direction() const override {
    return state_.view->snapshot->listeners[listener_].direction;
  }

 private:
  static asio::awaitable<void> handle(std::shared_ptr<Http2Connection> self,
                                      std::shared_ptr<Http2Stream> stream) {
    auto view = self->state_.view;  // the stream keeps the snapshot it started with
    co_await serve_stream(*self, *stream, *view, self->route_table_);
    co_await wait_closed(*stream);
    self->finish(*stream, *view);
  }

  void finish(Http2Stream& stream, const worker::View& view) {
    if (stream.request_body) stream.request_bytes = stream.request_body->pushed();
    if (stream.response_body) stream.response_bytes = stream.response_body->consumed();
    Ending ending{.http2 = true,
                  .downstream = peer_ip_,
                  .grpc_status = stream.grpc_status,
                  .reset = stream.close_code,
                  .downstream_tls = tls(),
                  .peer_identity = peer_.identity};
    if (reports_request_fields(state_, view, stream)) {
      const auto& head = stream.request;
      ending.method = head.method;
      ending.target = head.path;
      ending.authority = head.authority;
      ending.request_id = head.fields.get("x-request-id").value_or("");
    }
    finish_request(state_, view, listener_, stream, ending);
  }

  asio::ip::tcp::socket& socket() { return beast::get_lowest_layer(down_); }

  DownStream down_;
  std::string read_ahead_;
  worker::WorkerState& state_;
  std::size_t listener_;
  std::size_t route_table_;
  InboundPeer peer_;
  std::string peer_ip_;
  http2::Session session_;
  http2::SessionIo io_;
  std::unordered_map<std::int32_t, std::shared_ptr<Http2Stream>> streams_;
  bool closed_ = false;
};

template <class DownStream>
asio::awaitable<void> serve(DownStream stream, const beast::flat_buffer& read_ahead,
                            worker::WorkerState& state, std::size_t listener,
                            std::size_t route_table, InboundPeer peer) {
  // (`peer` copied: clang-tidy takes a move from a coroutine's parameter
  // for a use after it.)
  auto connection = std::make_shared<Http2Connection<DownStream>>(
      std::move(stream), read_ahead, state, listener, route_table, peer);
  co_await connection->run();
}

}  // namespace

asio::awaitable<void> serve_http2(asio::ip::tcp::socket stream, beast::flat_buffer read_ahead,
                                  worker::WorkerState& state, std::size_t listener,
                                  std::size_t route_table, InboundPeer peer) {
  co_await serve(std::move(stream), read_ahead, state, listener, route_table, std::move(peer));
}

asio::awaitable<void> serve_http2(TlsDownstream stream, beast::flat_buffer read_ahead,
                                  worker::WorkerState& state, std::size_t listener,
                                  std::size_t route_table, InboundPeer peer) {
  co_await serve(std::move(stream), read_ahead, state, listener, route_table, std::move(peer));
}

}  // namespace weft::proxy::listener
