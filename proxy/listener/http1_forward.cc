// Forwarding one HTTP/1.1 request to an upstream endpoint and the response
// back. Errors the client sees carry x-weft-error (http/failure.h): a
// failure before the response head is a local reply; after it, the
// response is cut short and the connection closed. The route's timeouts
// (layers/timeout.h) bound every wait of an attempt.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <optional>

#include "proxy/http/grpc.h"
#include "proxy/http/http1/headers.h"
#include "proxy/http/http1/upstream_request.h"
#include "proxy/layers/observe.h"
#include "proxy/layers/response_fields.h"
#include "proxy/layers/retry_layer.h"
#include "proxy/layers/trace.h"
#include "proxy/listener/http1_connection.h"
#include "proxy/listener/http1_exchange.h"
#include "proxy/listener/tunnel.h"
#include "proxy/upstream/connect.h"

namespace weft::proxy::listener {
namespace {

// A response whose body ends when the upstream closes (no Content-Length,
// not chunked, and a status that has a body).
bool close_delimited(const ResponseParser& parser, bool head_request) {
  if (head_request || !http::http1::status_has_body(parser.head().result_int())) return false;
  return !parser.content_length() && !parser.chunked();
}

http::http1::ResponseFraming framing(const ResponseParser& parser, bool head_request) {
  const auto length = parser.content_length();
  return {.content_length = length ? std::optional(*length) : std::nullopt,
          .chunked = parser.chunked(),
          .close_delimited = close_delimited(parser, head_request),
          .has_body = !head_request && http::http1::status_has_body(parser.head().result_int())};
}

}  // namespace

// The retry layer's path for this connection (layers/retry_layer.h): an
// attempt over HTTP/1.1 (this is then the upstream call's client,
// upstream/http1/call.h) or, translated, HTTP/2; what the client's
// connection does next is kept for forward() to return.
template <class DownStream>
class Http1Connection<DownStream>::UpstreamPath {
 public:
  UpstreamPath(Http1Connection& connection, RequestParser& parser, const router::Route& route,
               upstream::ClusterState& cluster, const layers::timeout::Deadlines& deadlines,
               Http2Request* h2_request, Exchange& exchange)
      : connection_(connection),
        parser_(parser),
        route_(route),
        cluster_(cluster),
        deadlines_(deadlines),
        h2_request_(h2_request),
        exchange_(exchange),
        bodyless_(parser.is_done()) {
    auto& head = parser.head();
    request_.method = head.method_string();
    request_.head_request = head.method() == beast_http::verb::head;
    request_.upgrade = http::http1::is_upgrade(head);
    request_.grpc = exchange.grpc;
    // Formatted only for the access log and meshctl tap.
    request_.upstream =
        connection.state_.view->access_log || connection.state_.tap ? &exchange.upstream : nullptr;
    request_.destination = &exchange.destination;
    request_.hash = exchange.hash;
  }

  // The retry layer's path.
  asio::awaitable<layers::retry::AttemptEnd> attempt(layers::retry::Tries& tries) {
    if (h2_request_ != nullptr) {
      return connection_.attempt_http2(parser_, *h2_request_, route_, cluster_, deadlines_, tries,
                                       exchange_, next_);
    }
    request_.answer_failure = false;
    return upstream::http1::call(cluster_, *this, request_, deadlines_, tries);
  }
  asio::awaitable<layers::retry::AttemptEnd> only_attempt(layers::retry::Tries& tries) {
    if (h2_request_ != nullptr) return only_attempt_http2(tries);
    // Answers its own failure: no frame for the retry layer on this path.
    request_.answer_failure = true;
    return upstream::http1::call(cluster_, *this, request_, deadlines_, tries);
  }
  bool body_replayable() const {
    if (h2_request_ != nullptr) return http::replayable(h2_request_->body);
    // Read whole into replay_ (the parser is then done), or not yet sent.
    return bodyless_ || !exchange_.body_sent;
  }
  void mark_attempt(unsigned attempt) {
    auto text = std::to_string(attempt);
    if (h2_request_ != nullptr) {
      h2_request_->head.fields.set("x-weft-attempt", text);
      return;
    }
    auto& head = parser_.head();
    head.erase("x-weft-attempt");
    head.insert_literal(beast_http::field::unknown, "x-weft-attempt", text);
  }
  void rewind() {
    if (h2_request_ != nullptr && h2_request_->body) h2_request_->body->rewind();
  }
  void settled() {
    if (h2_request_ != nullptr && h2_request_->body) h2_request_->body->end_replay();
  }
  asio::awaitable<void> reply(http::Failure failure, bool budget_exhausted) {
    auto local = local_reply(failure);
    if (budget_exhausted) local.reason = http::reason(http::Failure::kRetryBudgetExhausted);
    next_ = co_await connection_.reply(parser_, local, exchange_);
  }
  layers::Record& record() { return exchange_; }
  Next next() const { return next_; }

  // The upstream call's client: the connection's deadline watches the
  // upstream socket (expire_if_due closes it).
  void watch(upstream::pool::Socket& socket, layers::timeout::Limit limit) {
    connection_.upstream_socket_ = &socket;
    connection_.deadline_.limit = limit;
  }
  void unwatch() {
    connection_.upstream_socket_ = nullptr;
    connection_.deadline_.limit = {};
    connection_.deadline_.disarm();
  }
  void arm_upstream() { connection_.deadline_.arm(Side::kUpstream, deadlines_.idle()); }
  boost::system::error_code outcome(boost::system::error_code ec) const {
    return connection_.deadline_.outcome(ec);
  }
  http::Failure timeout_cause() const { return connection_.deadline_.cause; }
  std::optional<ResponseParser>& response() { return connection_.response_; }
  beast::flat_buffer& response_buffer() { return connection_.up_buffer_; }
  upstream::http1::HeadSeen& head_seen() { return head_seen_; }
  std::pmr::memory_resource* response_arena() { return connection_.arena(); }
  template <class UpStream>
  asio::awaitable<upstream::http1::Exchanged> exchange(UpStream& up, layers::retry::Tries& tries) {
    return connection_.exchange_with(up, *this, tries);
  }
  asio::awaitable<void> answer(http::Failure failure) { return reply(failure, false); }

  RequestParser& parser() { return parser_; }
  const router::Route& route() const { return route_; }
  const layers::timeout::Deadlines& deadlines() const { return deadlines_; }
  const upstream::http1::Request& request() const { return request_; }
  Exchange& exchange_record() { return exchange_; }
  void set_next(Next next) { next_ = next; }

 private:
  asio::awaitable<layers::retry::AttemptEnd> only_attempt_http2(layers::retry::Tries& tries) {
    auto end = co_await attempt(tries);
    if (!end.answered) {
      co_await reply(end.outcome.failure, false);
      end.answered = true;
    }
    co_return end;
  }

  Http1Connection& connection_;
  RequestParser& parser_;
  const router::Route& route_;
  upstream::ClusterState& cluster_;
  const layers::timeout::Deadlines& deadlines_;
  Http2Request* h2_request_;
  Exchange& exchange_;
  bool bodyless_;
  upstream::http1::Request request_;
  upstream::http1::HeadSeen head_seen_;
  Next next_ = Next::kClose;
};

template <class DownStream>
asio::awaitable<Next> Http1Connection<DownStream>::forward(RequestParser& parser,
                                                           const router::Route& route,
                                                           const router::Forward& forward,
                                                           const worker::View& view,
                                                           Exchange& exchange) {
  auto& head = parser.head();
  // Held until this returns: the request is in flight until its response
  // is relayed.
  const http::http1::RequestView request(head);
  auto target = upstream::target_for(forward, *view.splits, *view.clusters, worker::coarse_now(),
                                     {request, peer_ip_, state_.rng});
  auto* cluster = target.cluster;
  if (cluster != nullptr) {
    exchange.cluster = cluster->config.name;
    exchange.service = cluster->service;
  }
  if (view.snapshot->listeners[listener_].direction == config::Direction::kInbound) {
    auto peer = head.find(metrics::kPeerField);
    layers::observe::read_caller(exchange,
                                 peer == head.end() ? std::nullopt : std::optional(peer->value()),
                                 state_.requests);
  }
  if (const auto& tracing = view.snapshot->tracing) {
    layers::trace::start(exchange, head, tracing->settings, state_.rng);
  }
  exchange.failover = target.failover;
  exchange.hash = target.hash;
  exchange.set_cookie = std::move(target.set_cookie);
  if (target.failure != http::Failure::kNone) {
    co_return co_await reply(parser, local_reply(target.failure), exchange);
  }
  exchange.grpc = http::grpc::is_grpc(head[beast_http::field::content_type]);
  const layers::timeout::Deadlines deadlines(route.timeouts,
                                             layers::timeout::grpc_timeout(head, exchange.grpc),
                                             idle_timeout(view), exchange.start);
  if (auto expect = head.find(beast_http::field::expect);
      expect != head.end() && boost::beast::iequals(expect->value(), "100-continue")) {
    head.erase(expect);
    // Not `if (!co_await ...)`: GCC 12 miscompiles a co_await in a condition.
    const bool continued = co_await answer_continue(deadlines.idle());
    if (!continued) co_return Next::kClose;
  }
  const bool upgrade = http::http1::is_upgrade(head);
  const bool to_http2 = upstream::upstream_version(cluster->config, upstream::HttpVersion::kHttp1,
                                                   upgrade) == upstream::HttpVersion::kHttp2;
  // Request bodies are streamed, not kept, unless a retry policy may send
  // them again: then up to layers::retry::kReplayLimit of one is kept (in
  // replay_ for an HTTP/1.1 cluster, in the pipe for an HTTP/2 one). A
  // request is tried again only while its body is untouched or kept whole.
  const bool keep_body = layers::retry::keep_for_replay(route.retry, !parser.is_done() && !upgrade);
  replay_.clear();
  // On the heap: kept out of this coroutine's frame, which Asio recycles
  // only while it is small.
  std::unique_ptr<Http2Request> h2_request;
  if (to_http2) {
    h2_request = std::make_unique<Http2Request>(
        http2_request(parser, route, cluster->config, co_await asio::this_coro::executor));
    if (keep_body) h2_request->body->keep_for_replay(layers::retry::kReplayLimit);
  } else {
    const auto length = parser.content_length();
    // Upstream connections are always persistent HTTP/1.1.
    http::http1::to_http1_upstream_request(
        head, upgrade, downstream(), route.request_headers, cluster->config.peer_field, state_.rng,
        {length ? std::optional(*length) : std::nullopt, parser.chunked()}, cluster->config.name);
    const bool read = !keep_body || co_await read_for_replay(parser, deadlines.idle());
    if (!read) co_return Next::kClose;  // the client failed mid-body
  }
  auto tries =
      cluster->tries(route.retry, !upgrade && layers::retry::is_idempotent(head.method_string()));
  UpstreamPath path(*this, parser, route, *cluster, deadlines, h2_request.get(), exchange);
  co_await layers::retry::serve(path, tries, *cluster, state_.rng);
  co_return path.next();
}

template <class DownStream>
asio::awaitable<bool> Http1Connection<DownStream>::answer_continue(std::chrono::milliseconds idle) {
  // Answered here: the body is streamed upstream as it arrives, so the
  // upstream never needs to be asked.
  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  deadline_.arm(Side::kDownstream, idle);
  co_return !co_await http::http1::write_all(down_, asio::buffer(kContinue));
}

template <class DownStream>
asio::awaitable<bool> Http1Connection<DownStream>::read_for_replay(RequestParser& parser,
                                                                   std::chrono::milliseconds idle) {
  down_buffer_.reserve(down_buffer_.size() + worker::BufferPool::kBufferBytes);
  while (!parser.is_done() && replay_.size() <= layers::retry::kReplayLimit) {
    deadline_.arm(Side::kDownstream, idle);
    auto ec = deadline_.outcome(co_await http::http1::read_some(down_, down_buffer_, parser));
    if (ec && ec != beast_http::error::need_buffer) co_return false;
    replay_.append(parser.piece());
  }
  deadline_.disarm();
  co_return true;
}

template <class DownStream>
template <class UpStream>
asio::awaitable<RelayResult> Http1Connection<DownStream>::send_replay(
    UpStream& up, bool whole, std::chrono::milliseconds idle) {
  deadline_.arm(Side::kUpstream, idle);
  auto ec = co_await http::http1::write_all(up, writer_.next(replay_, whole));
  deadline_.disarm();
  co_return RelayResult{deadline_.outcome(ec), false};
}

template <class DownStream>
template <class UpStream>
auto Http1Connection<DownStream>::exchange_with(UpStream& up, UpstreamPath& path,
                                                layers::retry::Tries& tries)
    -> asio::awaitable<upstream::http1::Exchanged> {
  using upstream::http1::Exchanged;
  auto& parser = path.parser();
  auto& exchange = path.exchange_record();
  const auto& request = path.request();
  const unsigned downstream_version = parser.head().version();
  // Every read and write is allowed the stream's idle timeout, within the
  // attempt's deadline (deadline_.limit).
  const auto stream_idle = path.deadlines().idle();
  // A body streamed from the client cannot be read again, so only a request
  // whose body was untouched, or read whole into replay_, may be retried.
  const bool body_pending = !parser.is_done();
  exchange.body_sent = exchange.body_sent || body_pending;
  // The head goes out with the first body bytes (or alone, without a body).
  writer_.start(parser.head(), parser.chunked());
  std::optional<RelayResult> sent;
  if (!replay_.empty()) sent = co_await send_replay(up, !body_pending, stream_idle);
  if (!sent || (!sent->error && body_pending)) {  // the body, or the rest of it, streams
    BodyRelay request_relay(down_, down_buffer_, parser, Side::kDownstream, up, writer_, deadline_,
                            stream_idle);
    sent = request_relay.relay_buffered();
    if (!sent) sent = co_await request_relay.relay();
  }
  if (sent->error && sent->failed_reading) co_return Exchanged::answered();  // the client failed

  up_buffer_.clear();  // kept across requests: its capacity is reused
  auto ended = co_await upstream::http1::read_answer(path, up, request, sent->error, tries);
  if (ended) co_return *ended;
  auto& up_buffer = up_buffer_;
  auto& response = response_;
  auto& res = response->head();
  exchange.status = res.result_int();
  if (request.upgrade && res.result() == beast_http::status::switching_protocols) {
    co_await switch_protocols(up, res, stream_idle);
    co_return Exchanged::answered();
  }

  // The parser's keep-alive: decided while parsing, no second read of Connection.
  const bool upstream_reusable = response->keep_alive() && !request.upgrade;
  http::http1::strip_hop_by_hop(res, false);
  http::http1::apply_edits(res, path.route().response_headers);
  layers::add_response_fields(exchange, res);
  bool keep_alive = exchange.client_keep_alive && !state_.draining;
  // The framing as parsed, rather than re-read from the fields.
  const bool chunked = http::http1::frame_response(res, downstream_version,
                                                   framing(*response, request.head_request));
  // An HTTP/1.0 client knows where a body ends only by its length or the close.
  if (downstream_version < 11)
    keep_alive = keep_alive && res.count(beast_http::field::content_length) > 0;
  res.version(11);
  // strip_hop_by_hop removed Connection, and HTTP/1.1 is persistent unless
  // it says otherwise.
  if (!keep_alive) res.insert(beast_http::field::connection, "close");
  writer_.start(res, chunked);
  BodyRelay response_relay(up, up_buffer, *response, Side::kUpstream, down_, writer_, deadline_,
                           stream_idle);
  auto relayed = response_relay.relay_buffered();
  if (!relayed) relayed = co_await response_relay.relay();
  if (relayed->error) {
    if (!response_relay.wrote() && relayed->failed_reading) {
      // Nothing reached the client yet: it can still be told why.
      co_await path.answer(upstream::http1::failure_of(relayed->error, deadline_.cause));
      co_return Exchanged::answered();
    }
    // Cut short: the client sees the connection close, the log why.
    if (deadline_.expired) exchange.error = http::reason(deadline_.cause);
    co_return Exchanged::answered();
  }
  path.set_next(keep_alive ? Next::kKeepAlive : Next::kClose);
  co_return Exchanged::answered(upstream_reusable && response->is_done() && up_buffer.size() == 0);
}

template <class DownStream>
template <class UpStream>
asio::awaitable<void> Http1Connection<DownStream>::switch_protocols(
    UpStream& up, http::http1::ResponseHead& res, std::chrono::milliseconds idle) {
  http::http1::strip_hop_by_hop(res, true);
  writer_.start(res, false);
  // A tunnel outlives the request: its timeouts do not apply, only idleness.
  deadline_.limit = {};
  deadline_.arm(Side::kDownstream, idle);
  auto ec = co_await http::http1::write_all(down_, writer_.next({}, false));
  deadline_.disarm();  // the tunnel watches idleness itself
  if (ec) co_return;
  co_await tunnel(down_, down_buffer_, up, up_buffer_, idle);
}

template asio::awaitable<Next> Http1Connection<asio::ip::tcp::socket>::forward(
    RequestParser&, const router::Route&, const router::Forward&, const worker::View&, Exchange&);
template asio::awaitable<Next> Http1Connection<TlsDownstream>::forward(
    RequestParser&, const router::Route&, const router::Forward&, const worker::View&, Exchange&);

}  // namespace weft::proxy::listener
