// GCC 12 reports a false -Wmismatched-new-delete on Asio's coroutine frames.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
// An HTTP/1.1 request forwarded to an HTTP/2 cluster: the head translated
// (Host to :authority, hop-by-hop fields dropped), the body streamed from the
// client into the upstream stream while the response streams back, chunked
// when it has no length, with HTTP/2 trailers as chunked trailers.
#include "proxy/http/convert.h"
#include "proxy/http/http1/headers.h"
#include "proxy/http/http1/upstream_request.h"
#include "proxy/layers/response_fields.h"
#include "proxy/listener/http1_connection.h"
#include "proxy/listener/http1_exchange.h"
#include "proxy/upstream/http2/call.h"

namespace weft::proxy::listener {
namespace {

constexpr std::size_t kPipeBytes = std::size_t{256} * 1024;

}  // namespace

template <class DownStream>
asio::awaitable<bool> Http1Connection<DownStream>::pump_request(RequestParser& parser,
                                                                http::BodyPipe& body,
                                                                std::chrono::milliseconds idle) {
  const std::size_t head_fields = parser.head().size();
  down_buffer_.reserve(down_buffer_.size() + worker::BufferPool::kBufferBytes);
  while (!parser.is_done()) {
    co_await body.wait_writable();
    // The upstream stream ended without taking the rest (see forward_http2).
    if (body.state() != http::BodyPipe::State::kOpen || body.consumer_closed()) co_return false;
    deadline_.arm(Side::kDownstream, idle);
    auto ec = deadline_.outcome(co_await http::http1::read_some(down_, down_buffer_, parser));
    if (ec && ec != beast_http::error::need_buffer) {
      body.fail();  // the client went away mid-body: reset the upstream stream
      co_return false;
    }
    body.push(parser.piece());
  }
  deadline_.disarm();
  body.finish(http::fields_from(parser.head(), head_fields));
  co_return true;
}

template <class DownStream>
asio::awaitable<Next> Http1Connection<DownStream>::relay_response(
    RequestParser& parser, http::ResponseHead head, std::shared_ptr<http::BodyPipe> body,
    const router::Route& route, const layers::timeout::Deadlines& deadlines, Exchange& exchange) {
  http::http1::ResponseHead response(arena());
  http::to_http1(head, body != nullptr, response);
  if (!body && http::http1::status_has_body(head.status) &&
      parser.head().method() != beast_http::verb::head &&
      response.find(beast_http::field::content_length) == response.end()) {
    // The whole response was one HEADERS frame (a trailers-only gRPC
    // answer): say so, or the client would wait for a body.
    response.set(beast_http::field::content_length, "0");
  }
  http::http1::apply_edits(response, route.response_headers);
  layers::add_response_fields(exchange, response);
  exchange.status = head.status;
  bool keep_alive = exchange.client_keep_alive && !state_.draining;
  const bool chunked = body && response.find(beast_http::field::content_length) == response.end();
  if (chunked && parser.head().version() < 11) {
    response.erase(beast_http::field::transfer_encoding);  // HTTP/1.0: the close ends the body
    keep_alive = false;
  }
  if (!keep_alive) {
    response.set(beast_http::field::connection, "close");
  } else if (parser.head().version() < 11) {
    response.set(beast_http::field::connection, "keep-alive");
  }
  writer_.start(response, chunked && parser.head().version() >= 11);
  auto lease = state_.relay_buffers.lease();
  auto chunk = lease.span();
  const auto idle = deadlines.idle();
  bool wrote = false;  // the head leaves with the first body bytes
  for (bool last = body == nullptr;;) {
    std::string_view piece;
    if (body) {
      // The upstream's pace is bounded like the client's: idleness, within
      // the attempt's deadline (deadline_.limit).
      const auto limit = deadline_.limit.or_idle(worker::coarse_now(), idle);
      const bool in_time = co_await body->wait_readable_until(limit.when);
      if (!in_time) {
        body->close_consumer();  // resets the upstream stream
        if (!wrote) {            // the client can still be told why
          const auto local = local_reply(limit.failure);
          co_await reply(parser, local, exchange);
          co_return Next::kClose;
        }
        exchange.error = http::reason(limit.failure);
        co_return Next::kClose;
      }
      if (body->state() == http::BodyPipe::State::kFailed) co_return Next::kClose;
      piece = {chunk.data(), body->read(chunk.data(), chunk.size())};
      last = body->at_end();
      if (last) writer_.trailers(body->trailers());
    }
    deadline_.arm(Side::kDownstream, idle);
    auto write_ec = co_await http::http1::write_all(down_, writer_.next(piece, last));
    if (deadline_.outcome(write_ec)) co_return Next::kClose;
    wrote = true;
    if (last) break;
  }
  deadline_.disarm();
  co_return keep_alive&& parser.is_done() ? Next::kKeepAlive : Next::kClose;
}

template <class DownStream>
Http2Request Http1Connection<DownStream>::http2_request(RequestParser& parser,
                                                        const router::Route& route,
                                                        const config::Cluster& cluster,
                                                        const asio::any_io_executor& executor) {
  auto& head = parser.head();
  // TE is hop-by-hop, but "trailers" in it is what a gRPC server needs to
  // see on HTTP/2 (RFC 9113 §8.2.2 allows exactly that value).
  const bool te_trailers = head[beast_http::field::te].find("trailers") != std::string_view::npos;
  http::http1::prepare_upstream_request(head, false, downstream(), route.request_headers,
                                        cluster.peer_field, state_.rng);
  Http2Request request;
  request.head = http::from_http1(head, downstream().tls ? "https" : "http");
  if (request.head.authority.empty()) request.head.authority = cluster.name;
  if (te_trailers) request.head.fields.add("te", "trailers");
  if (!parser.is_done()) request.body = std::make_shared<http::BodyPipe>(executor, kPipeBytes);
  return request;
}

// The client's body, read from its socket into the request pipe while the
// first send waits for the answer.
template <class DownStream>
class Http1Connection<DownStream>::ClientBody final : public upstream::http2::BodySource {
 public:
  ClientBody(Http1Connection& connection, RequestParser& parser, std::chrono::milliseconds idle)
      : connection_(connection), parser_(parser), idle_(idle) {}
  asio::awaitable<void> pump(http::BodyPipe& body) override {
    co_await connection_.pump_request(parser_, body, idle_);  // a failure reaches the pipe
  }

 private:
  Http1Connection& connection_;
  RequestParser& parser_;
  std::chrono::milliseconds idle_;
};

template <class DownStream>
auto Http1Connection<DownStream>::attempt_http2(RequestParser& parser, Http2Request& request,
                                                const router::Route& route,
                                                upstream::ClusterState& cluster,
                                                const layers::timeout::Deadlines& deadlines,
                                                layers::retry::Tries& tries, Exchange& exchange,
                                                Next& next)
    -> asio::awaitable<layers::retry::AttemptEnd> {
  ClientBody client_body(*this, parser, deadlines.idle());
  // The client's body is pumped once, by the first try; later tries replay it.
  const bool pump = request.body && !request.pumping;
  request.pumping = true;
  // Reads of the client's body during the first try stay within its limit.
  deadline_.limit = deadlines.attempt(worker::coarse_now());
  const upstream::http2::Request call{
      request.head,  request.body,
      exchange.grpc, pump ? &client_body : nullptr,
      kPipeBytes,    state_.view->access_log || state_.tap ? &exchange.upstream : nullptr,
      exchange.hash, &exchange.destination};
  auto answer = co_await upstream::http2::call(cluster, call, deadlines, tries);
  if (answer.ended) co_return *answer.ended;
  deadline_.limit = answer.limit;
  auto body = answer.response.end_stream ? nullptr : answer.body;
  next = co_await relay_response(parser, std::move(answer.response.head), body, route, deadlines,
                                 exchange);
  co_return layers::retry::AttemptEnd{true, false, {}};
}

template Http2Request Http1Connection<asio::ip::tcp::socket>::http2_request(
    RequestParser&, const router::Route&, const config::Cluster&, const asio::any_io_executor&);
template Http2Request Http1Connection<TlsDownstream>::http2_request(RequestParser&,
                                                                    const router::Route&,
                                                                    const config::Cluster&,
                                                                    const asio::any_io_executor&);
template asio::awaitable<layers::retry::AttemptEnd>
Http1Connection<asio::ip::tcp::socket>::attempt_http2(RequestParser&, Http2Request&,
                                                      const router::Route&, upstream::ClusterState&,
                                                      const layers::timeout::Deadlines&,
                                                      layers::retry::Tries&, Exchange&, Next&);
template asio::awaitable<layers::retry::AttemptEnd> Http1Connection<TlsDownstream>::attempt_http2(
    RequestParser&, Http2Request&, const router::Route&, upstream::ClusterState&,
    const layers::timeout::Deadlines&, layers::retry::Tries&, Exchange&, Next&);

}  // namespace weft::proxy::listener
