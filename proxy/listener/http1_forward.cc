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
#include "proxy/layers/retry_layer.h"
#include "proxy/listener/http1_connection.h"
#include "proxy/listener/http1_exchange.h"
#include "proxy/listener/tunnel.h"
#include "proxy/upstream/connect.h"

namespace weft::proxy::listener {
namespace {

constexpr std::size_t kMaxResponseHeaderBytes = std::size_t{60} * 1024;

// Reads the final response head, consuming 1xx informational responses (a
// 101 is final: it ends HTTP on the connection).
template <class UpStream>
asio::awaitable<boost::system::error_code> read_response_head(UpStream& upstream,
                                                              beast::flat_buffer& buffer,
                                                              std::optional<ResponseParser>& parser,
                                                              bool head_request, Deadline& deadline,
                                                              std::pmr::memory_resource* arena) {
  for (;;) {
    parser.emplace(arena);
    parser->header_limit(kMaxResponseHeaderBytes);
    parser->body_limit(std::numeric_limits<std::uint64_t>::max());
    parser->skip(head_request);
    auto ec = deadline.outcome(co_await http::http1::read_header(upstream, buffer, *parser));
    if (ec) co_return ec;
    auto status = parser->head().result_int();
    if (status >= 200 || status == 101) co_return ec;
  }
}

// The failure an upstream read or write error means; `timeout` when the
// deadline's passing caused it.
http::Failure failure_of(const boost::system::error_code& ec, http::Failure timeout) {
  if (ec == beast::error::timeout) return timeout;
  if (ec.category() == beast_http::make_error_code(beast_http::error::bad_field).category() &&
      ec != beast_http::error::end_of_stream && ec != beast_http::error::partial_message) {
    return http::Failure::kProtocolError;
  }
  return http::Failure::kReset;
}

// A gRPC call's own deadline (grpc-timeout), whatever HTTP version carries it.
std::optional<std::chrono::milliseconds> grpc_timeout_of(const http::http1::RequestHead& head,
                                                         bool grpc) {
  if (!grpc) return std::nullopt;
  auto value = head.find("grpc-timeout");
  if (value == head.end()) return std::nullopt;
  return http::grpc::parse_timeout(value->value());
}

// A response whose body ends when the upstream closes (no Content-Length,
// not chunked, and a status that has a body).
bool close_delimited(const ResponseParser& parser, bool head_request) {
  if (head_request || !http::http1::status_has_body(parser.head().result_int())) return false;
  return !parser.content_length() && !parser.chunked();
}

bool is_stale_connection_error(const boost::system::error_code& ec) {
  return ec == beast_http::error::end_of_stream || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::eof;
}

}  // namespace

template <class DownStream>
void Http1Connection<DownStream>::prepare_request(http::http1::RequestHead& head,
                                                  const router::Route& route, bool upgrade) {
  http::http1::strip_hop_by_hop(head, upgrade);
  // Beast has no enum for these names: insert them as unknown, skipping
  // its name lookup.
  constexpr auto kUnknown = beast_http::field::unknown;
  auto forwarded_for = head.find("x-forwarded-for");
  if (forwarded_for == head.end()) {
    head.insert_literal(kUnknown, "x-forwarded-for", peer_ip_);
  } else {
    auto appended = std::string(forwarded_for->value()) + ", " + peer_ip_;
    head.erase("x-forwarded-for");
    head.insert_literal(kUnknown, "x-forwarded-for", appended);
  }
  if (head.find("x-request-id") == head.end()) {
    head.insert_literal(kUnknown, "x-request-id", http::http1::new_request_id(state_.rng).view());
  }
  const bool tls = !std::is_same_v<DownStream, asio::ip::tcp::socket>;
  head.erase("x-forwarded-proto");
  head.insert_literal(kUnknown, "x-forwarded-proto", tls ? "https" : "http");
  http::http1::apply_edits(head, route.request_headers);
  head.version(11);  // upstream connections are always persistent HTTP/1.1
}

// The retry layer's path for this connection (layers/retry_layer.h): an
// attempt over HTTP/1.1 or, translated, HTTP/2; what the client's
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
        bodyless_(parser.is_done()) {}

  asio::awaitable<layers::retry::AttemptEnd> attempt(layers::retry::Tries& tries) {
    if (h2_request_ != nullptr) {
      return connection_.attempt_http2(parser_, *h2_request_, route_, cluster_, deadlines_, tries,
                                       exchange_, next_);
    }
    return connection_.attempt_http1(parser_, route_, cluster_, deadlines_, tries, exchange_, next_,
                                     false);
  }
  asio::awaitable<layers::retry::AttemptEnd> only_attempt(layers::retry::Tries& tries) {
    if (h2_request_ != nullptr) return only_attempt_http2(tries);
    // Answers its own failure: no frame for the retry layer on this path.
    return connection_.attempt_http1(parser_, route_, cluster_, deadlines_, tries, exchange_, next_,
                                     true);
  }
  bool body_replayable() const {
    if (h2_request_ != nullptr) return !h2_request_->body || h2_request_->body->replayable();
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
  Next next_ = Next::kClose;
};

template <class DownStream>
asio::awaitable<Next> Http1Connection<DownStream>::forward(RequestParser& parser,
                                                           const router::Route& route,
                                                           const router::Forward& forward,
                                                           const worker::View& view,
                                                           Exchange& exchange) {
  auto& head = parser.head();
  const auto chosen = forward.choose(*view.splits);
  auto* cluster = chosen == router::kUnresolvedBackend ? nullptr : &(*view.clusters)[chosen];
  if (cluster != nullptr) exchange.cluster = cluster->config.name;
  if (cluster == nullptr || cluster->config.endpoints.empty()) {
    const auto local = local_reply(cluster == nullptr ? http::Failure::kBackendNotFound
                                                      : http::Failure::kNoHealthyUpstream);
    co_return co_await reply(parser, local, exchange);
  }
  exchange.grpc = http::grpc::is_grpc(head[beast_http::field::content_type]);
  const layers::timeout::Deadlines deadlines(route.timeouts, grpc_timeout_of(head, exchange.grpc),
                                             idle_timeout(view), exchange.start);
  if (auto expect = head.find(beast_http::field::expect);
      expect != head.end() && boost::beast::iequals(expect->value(), "100-continue")) {
    head.erase(expect);
    // Not `if (!co_await ...)`: GCC 12 miscompiles a co_await in a condition.
    const bool continued = co_await answer_continue(deadlines.idle());
    if (!continued) co_return Next::kClose;
  }
  cluster->stats.requests->Increment();
  cluster->retry_budget->on_request(worker::coarse_now());
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
        http2_request(parser, route, co_await asio::this_coro::executor));
    if (keep_body) h2_request->body->keep_for_replay(layers::retry::kReplayLimit);
  } else {
    prepare_request(head, route, upgrade);
    const bool read = !keep_body || co_await read_for_replay(parser, deadlines.idle());
    if (!read) co_return Next::kClose;  // the client failed mid-body
  }
  layers::retry::Tries tries(route.retry, *cluster->retry_budget,
                             !upgrade && layers::retry::is_idempotent(head.method_string()));
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
auto Http1Connection<DownStream>::attempt_http1(RequestParser& parser, const router::Route& route,
                                                upstream::ClusterState& cluster,
                                                const layers::timeout::Deadlines& deadlines,
                                                layers::retry::Tries& tries, Exchange& exchange,
                                                Next& next, bool answer_failure)
    -> asio::awaitable<layers::retry::AttemptEnd> {
  layers::retry::AttemptEnd result;
  for (int stale = 0;; ++stale) {
    auto endpoint = cluster.balancer.next();
    // A pooled connection, usually: taken without a coroutine.
    auto opened = upstream::take_idle(cluster, endpoint);
    if (!opened) opened = co_await upstream::connect_new(cluster, endpoint);
    if (auto* failed = std::get_if<upstream::ConnectFailure>(&*opened)) {
      result.outcome.failure = failed->failure;
      break;
    }
    auto& up = std::get<upstream::Opened>(*opened);
    if (state_.access_log) exchange.upstream = cluster.endpoint_text(endpoint);
    upstream_socket_ = &up.connection.socket();
    deadline_.limit = deadlines.attempt(worker::coarse_now());
    // Replaced once when the upstream had closed it: nothing was lost.
    const bool reused = up.reused && stale == 0;
    Attempt end;
    if (auto* plain = up.connection.plain()) {
      end = co_await exchange_with(*plain, reused, parser, route, deadlines, tries, exchange);
    } else {
      end = co_await exchange_with(*up.connection.tls(), reused, parser, route, deadlines, tries,
                                   exchange);
    }
    upstream_socket_ = nullptr;
    deadline_.limit = {};
    deadline_.disarm();
    if (end.stale) continue;
    if (end.upstream_reusable) {
      cluster.pool->put(endpoint, std::move(up.connection), worker::coarse_now());
    }
    next = end.next;
    result = {end.answered, end.held, end.outcome};
    break;
  }
  if (answer_failure && !result.answered) {
    next = co_await reply(parser, local_reply(result.outcome.failure), exchange);
    result.answered = true;
  }
  co_return result;
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
auto Http1Connection<DownStream>::exchange_with(UpStream& up, bool reused, RequestParser& parser,
                                                const router::Route& route,
                                                const layers::timeout::Deadlines& deadlines,
                                                layers::retry::Tries& tries, Exchange& exchange)
    -> asio::awaitable<Attempt> {
  auto& head = parser.head();
  const bool upgrade = http::http1::is_upgrade(head);
  const bool head_request = head.method() == beast_http::verb::head;
  const unsigned downstream_version = head.version();
  // Every read and write is allowed the stream's idle timeout, within the
  // attempt's deadline (deadline_.limit).
  const auto stream_idle = deadlines.idle();
  // A body streamed from the client cannot be read again, so only a request
  // whose body was untouched, or read whole into replay_, may be retried.
  const bool body_pending = !parser.is_done();
  exchange.body_sent = exchange.body_sent || body_pending;
  // The head goes out with the first body bytes (or alone, without a body).
  writer_.start(head, parser.chunked());
  std::optional<RelayResult> sent;
  if (!replay_.empty()) sent = co_await send_replay(up, !body_pending, stream_idle);
  if (!sent || (!sent->error && body_pending)) {  // the body, or the rest of it, streams
    BodyRelay request_relay(down_, down_buffer_, parser, Side::kDownstream, up, writer_, deadline_,
                            stream_idle);
    sent = request_relay.relay_buffered();
    if (!sent) sent = co_await request_relay.relay();
  }
  if (sent->error && sent->failed_reading) co_return Attempt::done();  // the client failed

  auto& up_buffer = up_buffer_;  // kept across requests: its capacity is reused
  up_buffer.clear();
  auto& response = response_;
  auto read_error = sent->error;
  if (!read_error) {
    deadline_.arm(Side::kUpstream, stream_idle);
    read_error =
        co_await read_response_head(up, up_buffer, response, head_request, deadline_, arena());
  }
  if (read_error) {
    // A pooled connection the upstream closed as the request went out: sent
    // again on a new one, unless the upstream may have acted on it (RFC 9110
    // §9.2.2: a non-idempotent method is not retried on a guess).
    if (reused && !body_pending && is_stale_connection_error(read_error) &&
        layers::retry::is_idempotent(head.method_string())) {
      co_return Attempt::stale_connection();
    }
    co_return Attempt::failed(failure_of(read_error, deadline_.cause));
  }

  auto& res = response->head();
  // Another try is possible: is this answer final? (The connection is not
  // reused when it is not: its response is unread.)
  if (!upgrade && tries.hold_answer(res.result_int(), res, exchange.grpc, !body_pending,
                                    worker::coarse_now())) {
    co_return Attempt::held_back(tries.held_outcome());
  }
  exchange.status = res.result_int();
  if (upgrade && res.result() == beast_http::status::switching_protocols) {
    co_await switch_protocols(up, res, stream_idle);
    co_return Attempt::done();
  }

  // The parser's keep-alive: decided while parsing, no second read of Connection.
  const bool upstream_reusable = response->keep_alive() && !upgrade;
  http::http1::strip_hop_by_hop(res, false);
  http::http1::apply_edits(res, route.response_headers);
  bool keep_alive = exchange.client_keep_alive && !state_.draining;
  // The framing as parsed, rather than re-read from the fields.
  bool chunked = response->chunked();
  if (downstream_version < 11) {
    if (chunked)
      http::http1::set_chunked(res, false);  // HTTP/1.0 has no chunking: the close ends the body
    chunked = false;
    keep_alive = keep_alive && response->content_length().has_value();
  } else if (close_delimited(*response, head_request)) {
    http::http1::set_chunked(res,
                             true);  // an HTTP/1.0-style body, re-framed so the client can reuse
    chunked = true;
  }
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
      const auto failure = local_reply(failure_of(relayed->error, deadline_.cause));
      co_await reply(parser, failure, exchange);
      co_return Attempt::done();
    }
    // Cut short: the client sees the connection close, the log why.
    if (deadline_.expired) exchange.error = http::reason(deadline_.cause);
    co_return Attempt::done();
  }
  const bool reusable = upstream_reusable && response->is_done() && up_buffer.size() == 0;
  co_return Attempt::done(keep_alive ? Next::kKeepAlive : Next::kClose, reusable);
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
