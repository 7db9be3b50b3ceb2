// Routing and forwarding one downstream HTTP/2 stream, to an HTTP/2
// upstream (multiplexed, bodies flow pipe to session with no copy loop of
// ours) or an HTTP/1.1 one (a pooled keep-alive connection, the request
// written then the response read, trailers carried as chunked trailers).
// Errors the client sees are those of the HTTP/1.1 path (x-weft-error), or
// gRPC status in trailers when the request is a gRPC call.
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <optional>

#include "proxy/http/convert.h"
#include "proxy/http/grpc.h"
#include "proxy/http/http1/headers.h"
#include "proxy/http/http1/parser.h"
#include "proxy/http/http1/stream_io.h"
#include "proxy/http/http1/writer.h"
#include "proxy/listener/http2_stream.h"
#include "proxy/upstream/connect.h"
#include "proxy/upstream/http2/pool.h"

namespace weft::proxy::listener {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using namespace asio::experimental::awaitable_operators;
using http::http1::ResponseParser;

// Response bodies buffered per stream before the producer waits.
constexpr std::size_t kResponsePipeBytes = std::size_t{256} * 1024;
constexpr std::size_t kMaxResponseHeaderBytes = std::size_t{60} * 1024;
constexpr int kMaxAttempts = 3;  // refused streams (GOAWAY) are retried

// The request as it goes upstream: forwarding fields added, the route's edits.
http::RequestHead upstream_request(Http2Downstream& downstream, Http2Stream& stream,
                                   const router::Route& route) {
  if (!stream.request.fields.get("x-request-id")) {
    stream.request.fields.add(
        "x-request-id", std::string(http::http1::new_request_id(downstream.state().rng).view()));
  }
  http::RequestHead head;
  head.method = stream.request.method;
  head.scheme = stream.request.scheme;
  head.authority = stream.request.authority;
  head.path = stream.request.path;
  http::copy_end_to_end(stream.request.fields, head.fields);
  const auto& peer = downstream.peer_ip();
  auto forwarded_for = head.fields.get("x-forwarded-for");
  head.fields.set("x-forwarded-for",
                  forwarded_for ? std::string(*forwarded_for) + ", " + peer : peer);
  head.fields.set("x-forwarded-proto", downstream.tls() ? "https" : "http");
  http::apply_edits(head.fields, route.request_headers);
  return head;
}

// The route timeout (else the stream's idle timeout), capped by the call's
// own deadline for gRPC.
std::chrono::milliseconds timeout_for(const Http2Downstream& downstream, const Http2Stream& stream,
                                      const router::Route& route) {
  const auto timeout = route.timeout_or(downstream.idle_timeout());
  if (!stream.grpc) return timeout;
  auto header = stream.request.fields.get("grpc-timeout");
  if (!header) return timeout;
  auto deadline = http::grpc::parse_timeout(*header);
  return deadline ? std::min(timeout, *deadline) : timeout;
}

std::string endpoint_text(const upstream::ClusterState& cluster, std::size_t endpoint) {
  const auto& address = cluster.config.endpoints[endpoint].address;
  return address.address().to_string() + ":" + std::to_string(address.port());
}

// A gRPC call's status: in the trailers, or in the head of a trailers-only
// response. Nullopt when neither has one (the call was cut off).
std::optional<unsigned> grpc_status_of(const http::ResponseHead& head, const http::BodyPipe& body) {
  auto value = head.fields.get("grpc-status");
  if (!value) value = body.trailers().get("grpc-status");
  if (!value) return std::nullopt;
  unsigned code = 0;
  auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), code);
  if (ec != std::errc() || end != value->data() + value->size()) return 2;  // UNKNOWN
  return code;
}

// Hands the upstream's response head to the client; false: the client's
// stream is gone.
bool relay_head(Http2Downstream& downstream, Http2Stream& stream, const http::ResponseHead& head,
                const router::Route& route, std::shared_ptr<http::BodyPipe> body) {
  http::ResponseHead out;
  out.status = head.status;
  http::copy_end_to_end(head.fields, out.fields);
  http::apply_edits(out.fields, route.response_headers);
  return downstream.respond(stream, out, std::move(body));
}

asio::awaitable<void> forward_http2(Http2Downstream& downstream, Http2Stream& stream,
                                    const router::Route& route, upstream::ClusterState& cluster) {
  auto head = upstream_request(downstream, stream, route);
  auto deadline = Clock::now() + timeout_for(downstream, stream, route);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto endpoint = cluster.balancer.next();
    stream.upstream = endpoint_text(cluster, endpoint);
    auto acquired = co_await cluster.h2_pool->acquire(cluster, endpoint);
    if (auto* failed = std::get_if<upstream::ConnectFailure>(&acquired)) {
      reply(downstream, stream, upstream_failure(failed->reason));
      co_return;
    }
    auto& lease = std::get<upstream::http2::Lease>(acquired);
    auto body = std::make_shared<http::BodyPipe>(downstream.executor(), kResponsePipeBytes);
    auto response = co_await lease->exchange(head, stream.request_body, body, deadline);
    using Outcome = upstream::http2::Response::Outcome;
    const bool body_untouched = !stream.request_body || stream.request_body->consumed() == 0;
    if (response.outcome == Outcome::kRefused && body_untouched) continue;
    if (response.outcome == Outcome::kTimeout) {
      reply(downstream, stream, upstream_failure("upstream_request_timeout"));
      co_return;
    }
    if (response.outcome != Outcome::kHead) {
      reply(downstream, stream, upstream_failure("upstream_reset"));
      co_return;
    }
    if (!relay_head(downstream, stream, response.head, route,
                    response.end_stream ? nullptr : body)) {
      lease->cancel(response.stream);
      co_return;
    }
    co_await wait_closed(stream);
    if (stream.close_code != 0) lease->cancel(response.stream);  // the client cancelled
    if (stream.grpc) stream.grpc_status = grpc_status_of(response.head, *body);
    co_return;
  }
  reply(downstream, stream, upstream_failure("upstream_reset"));
}

// Closes a socket when its deadline passes: the pending operation fails and
// the exchange reports a timeout.
class Watchdog {
 public:
  explicit Watchdog(upstream::pool::Socket& socket)
      : socket_(socket), timer_(socket.get_executor()) {}
  ~Watchdog() { disarm(); }
  void arm(Clock::time_point deadline) {
    timer_.expires_at(deadline);
    timer_.async_wait([fired = fired_, &socket = socket_](boost::system::error_code ec) {
      if (ec) return;
      *fired = true;
      boost::system::error_code ignored;
      socket.close(ignored);
    });
  }
  void disarm() { timer_.cancel(); }
  bool fired() const { return *fired_; }

 private:
  upstream::pool::Socket& socket_;
  asio::steady_timer timer_;
  std::shared_ptr<bool> fired_ = std::make_shared<bool>(false);
};

// One HTTP/1.1 exchange for an HTTP/2 stream on `up`. Returns the failure
// reason, empty on success; sets `reusable`.
template <class UpStream>
asio::awaitable<std::string_view> exchange_http1(Http2Downstream& downstream, Http2Stream& stream,
                                                 const router::Route& route,
                                                 const http::RequestHead& head, UpStream& up,
                                                 Watchdog& watchdog, Clock::time_point deadline,
                                                 std::chrono::milliseconds idle, bool& reusable) {
  reusable = false;
  auto& request_body = stream.request_body;
  http::http1::RequestHead h1;
  http::to_http1(head, request_body != nullptr, h1);
  const bool chunked = request_body && h1.find(beast_http::field::content_length) == h1.end();
  http::http1::MessageWriter writer;
  writer.start(h1, chunked);
  auto buffer = downstream.state().relay_buffers.lease();
  auto chunk = buffer.span();
  for (bool last = request_body == nullptr;;) {
    std::string_view piece;
    if (request_body) {
      watchdog.arm(Clock::now() + idle);
      co_await request_body->wait_readable();
      if (request_body->state() == http::BodyPipe::State::kFailed) co_return "client_reset";
      piece = {chunk.data(), request_body->read(chunk.data(), chunk.size())};
      last = request_body->at_end();
      if (last && chunked) writer.trailers(request_body->trailers());
    }
    watchdog.arm(Clock::now() + idle);
    if (co_await http::http1::write_all(up, writer.next(piece, last)))
      co_return watchdog.fired() ? "upstream_request_timeout" : "upstream_reset";
    if (last) break;
  }

  beast::flat_buffer up_buffer;
  // Reads take the buffer's free space: without room they would be 512 bytes.
  up_buffer.reserve(worker::BufferPool::kBufferBytes);
  std::optional<ResponseParser> parser;
  watchdog.arm(deadline);
  do {  // 1xx interim responses are read and dropped
    parser.emplace();
    parser->header_limit(kMaxResponseHeaderBytes);
    parser->body_limit(std::numeric_limits<std::uint64_t>::max());
    parser->skip(head.method == "HEAD");
    auto ec = co_await http::http1::read_header(up, up_buffer, *parser);
    if (watchdog.fired()) co_return "upstream_request_timeout";
    if (ec == beast_http::error::end_of_stream || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      co_return "upstream_reset";
    }
    if (ec) co_return "upstream_protocol_error";
  } while (parser->head().result_int() < 200);
  auto& res = parser->head();
  const bool upstream_keep_alive = parser->keep_alive();
  const std::size_t head_fields = res.size();
  auto out = http::from_http1(res);
  std::shared_ptr<http::BodyPipe> body;
  if (!parser->is_done()) {
    body = std::make_shared<http::BodyPipe>(downstream.executor(), kResponsePipeBytes);
  }
  if (!relay_head(downstream, stream, out, route, body)) co_return "client_reset";
  while (body && !parser->is_done()) {
    co_await body->wait_writable();
    if (body->consumer_closed()) co_return "client_reset";
    watchdog.arm(Clock::now() + idle);
    auto read_ec = co_await http::http1::read_some(up, up_buffer, *parser);
    if (read_ec && read_ec != beast_http::error::need_buffer) {
      body->fail(http::BodyPipe::kCancel);
      co_return "upstream_reset";
    }
    body->push(parser->piece());
  }
  if (body) body->finish(http::fields_from(res, head_fields));
  watchdog.disarm();
  reusable = upstream_keep_alive && up_buffer.size() == 0;
  co_return std::string_view{};
}

asio::awaitable<void> forward_http1(Http2Downstream& downstream, Http2Stream& stream,
                                    const router::Route& route, upstream::ClusterState& cluster) {
  const auto idle = downstream.idle_timeout();
  auto head = upstream_request(downstream, stream, route);
  auto deadline = Clock::now() + timeout_for(downstream, stream, route);
  auto endpoint = cluster.balancer.next();
  stream.upstream = endpoint_text(cluster, endpoint);
  auto opened = co_await upstream::take_or_connect(cluster, endpoint);
  if (auto* failed = std::get_if<upstream::ConnectFailure>(&opened)) {
    reply(downstream, stream, upstream_failure(failed->reason));
    co_return;
  }
  auto& connection = std::get<upstream::Opened>(opened).connection;
  Watchdog watchdog(connection.socket());
  bool reusable = false;
  std::string_view error;
  if (auto* plain = connection.plain()) {
    error = co_await exchange_http1(downstream, stream, route, head, *plain, watchdog, deadline,
                                    idle, reusable);
  } else {
    error = co_await exchange_http1(downstream, stream, route, head, *connection.tls(), watchdog,
                                    deadline, idle, reusable);
  }
  if (reusable) cluster.pool->put(endpoint, std::move(connection), Clock::now());
  if (error.empty() || error == "client_reset") co_return;
  if (stream.status == 0) {
    reply(downstream, stream, upstream_failure(error));
  } else {
    downstream.reset(stream, http::BodyPipe::kCancel);  // the response had begun
  }
}

asio::awaitable<void> forward(Http2Downstream& downstream, Http2Stream& stream,
                              const router::Route& route, const router::Forward& forward,
                              const worker::View& view) {
  const auto chosen = forward.choose(*view.splits);
  if (chosen == router::kUnresolvedBackend) {
    reply(downstream, stream, upstream_failure("backend_not_found"));
    co_return;
  }
  auto& cluster = (*view.clusters)[chosen];
  stream.cluster = cluster.config.name;
  if (cluster.config.endpoints.empty()) {
    reply(downstream, stream, upstream_failure("no_healthy_upstream"));
    co_return;
  }
  cluster.stats.requests->Increment();
  if (cluster.config.protocol == config::UpstreamProtocol::kHttp1) {
    co_await forward_http1(downstream, stream, route, cluster);
  } else {
    co_await forward_http2(downstream, stream, route, cluster);
  }
}

}  // namespace

asio::awaitable<void> wait_closed(Http2Stream& stream) {
  while (!stream.closed) {
    co_await stream.closed_signal.wait();
  }
}

void reply(Http2Downstream& downstream, Http2Stream& stream, const LocalReply& local,
           const router::HeaderEdits* edits) {
  auto& metrics = downstream.state().metrics;
  http::ResponseHead head;
  if (!local.reason.empty()) {
    metrics.local_reply(local.reason).Increment();
    stream.error = local.reason;
  }
  std::shared_ptr<http::BodyPipe> body;
  if (stream.grpc && !local.reason.empty()) {
    // Trailers-only: a gRPC client reads the outcome from grpc-status.
    head.status = 200;
    head.fields.add("content-type", "application/grpc");
    head.fields.add("grpc-status",
                    std::to_string(http::grpc::status_for(local.status, local.reason)));
    head.fields.add("grpc-message", std::string(local.body.substr(0, local.body.size() - 1)));
    head.fields.add("x-weft-error", std::string(local.reason));
  } else {
    head.status = local.status;
    head.fields.add("server", "weft");
    if (!local.reason.empty()) head.fields.add("x-weft-error", std::string(local.reason));
    if (!local.location.empty()) head.fields.add("location", local.location);
    if (!local.body.empty()) {
      head.fields.add("content-type", "text/plain");
      head.fields.add("content-length", std::to_string(local.body.size()));
      body = std::make_shared<http::BodyPipe>(downstream.executor(), local.body.size());
      body->push(local.body);
      body->finish();
    }
  }
  if (edits != nullptr) http::apply_edits(head.fields, *edits);
  // The request body, if any, will not be read.
  if (stream.request_body) stream.request_body->close_consumer();
  if (stream.grpc && !local.reason.empty()) {
    stream.grpc_status = http::grpc::status_for(local.status, local.reason);
  }
  downstream.respond(stream, head, std::move(body));
}

asio::awaitable<void> serve_stream(Http2Downstream& downstream, Http2Stream& stream,
                                   const worker::View& view, std::size_t route_table) {
  auto& metrics = downstream.state().metrics;
  if (stream.request.method == "CONNECT") {
    const LocalReply local{501, "connect_unsupported", "CONNECT is not supported\n", ""};
    reply(downstream, stream, local);
    co_return;
  }
  const auto& table = view.snapshot->route_tables[route_table];
  const http::RequestView request(stream.request);
  const auto* route = table.route_for(request);
  if (route == nullptr) {
    reply(downstream, stream, {404, "route_not_found", "no route\n", ""});
    co_return;
  }
  if (const auto* action = std::get_if<router::Forward>(&route->action)) {
    co_await forward(downstream, stream, *route, *action, view);
    co_return;
  }
  if (const auto* direct = std::get_if<router::DirectResponse>(&route->action)) {
    metrics.local_reply("direct_response").Increment();
    reply(downstream, stream, {direct->status, "", direct->body, ""}, &route->response_headers);
    co_return;
  }
  const auto& redirect = std::get<router::Redirect>(route->action);
  metrics.local_reply("redirect").Increment();
  reply(downstream, stream, {redirect.status, "", "", redirect.location(request)},
        &route->response_headers);
}

}  // namespace weft::proxy::listener
