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
#include "proxy/http/http1/upstream_request.h"
#include "proxy/http/http1/writer.h"
#include "proxy/layers/authorization_layer.h"
#include "proxy/layers/observe.h"
#include "proxy/layers/response_fields.h"
#include "proxy/layers/retry.h"
#include "proxy/layers/retry_layer.h"
#include "proxy/layers/timeout.h"
#include "proxy/layers/trace.h"
#include "proxy/listener/http2_stream.h"
#include "proxy/upstream/http1/call.h"
#include "proxy/upstream/http2/call.h"
#include "proxy/worker/coarse_clock.h"

namespace weft::proxy::listener {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using namespace asio::experimental::awaitable_operators;
using http::http1::ResponseParser;

// Response bodies buffered per stream before the producer waits.
constexpr std::size_t kResponsePipeBytes = std::size_t{256} * 1024;

// The request as it goes upstream: forwarding fields added, the route's edits.
http::RequestHead upstream_request(Http2Downstream& downstream, Http2Stream& stream,
                                   const router::Route& route, const config::Cluster& cluster) {
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
  // Only the proxy says who calls: a client's own x-forwarded-client-cert
  // or x-weft-peer never passes.
  head.fields.remove(http::http1::kForwardedClientCert);
  const auto& client_cert = downstream.inbound_peer().forwarded_client_cert;
  if (!client_cert.empty())
    head.fields.add(std::string(http::http1::kForwardedClientCert), client_cert);
  head.fields.remove(metrics::kPeerField);
  if (!cluster.peer_field.empty()) {
    head.fields.add(std::string(metrics::kPeerField), cluster.peer_field);
  }
  http::apply_edits(head.fields, route.request_headers);
  return head;
}

// The request's timeouts, from when its head arrived; a gRPC call's own
// deadline (grpc-timeout) shortens the route's.
layers::timeout::Deadlines deadlines_for(const Http2Downstream& downstream,
                                         const Http2Stream& stream, const router::Route& route) {
  return {route.timeouts, layers::timeout::grpc_timeout(stream.request.fields, stream.grpc),
          downstream.idle_timeout(), stream.start};
}

// Waits until the session has closed `stream` or `deadline` passes: false
// when it passed first.
asio::awaitable<bool> wait_closed_until(Http2Stream& stream, Clock::time_point deadline) {
  // Not `if (!co_await ...)`: GCC 12 miscompiles that here (a crash on resumption).
  bool in_time = true;
  while (!stream.closed && in_time) {
    in_time = co_await stream.closed_signal.wait_until(deadline);
  }
  co_return stream.closed;
}

// Waits for the session to close `stream` while its response streams: false
// with `failure` set when `limit` passes first, or when the response body
// makes no progress for `idle` (checked once per idle period, so a stall is
// cut after between one and two of them).
asio::awaitable<bool> wait_response_end(Http2Stream& stream, const http::BodyPipe& body,
                                        layers::timeout::Limit limit,
                                        std::chrono::milliseconds idle, http::Failure& failure) {
  auto moved = body.consumed() + body.available();
  for (;;) {
    const auto step = limit.or_idle(Clock::now(), idle);
    const bool closed = co_await wait_closed_until(stream, step.when);
    if (closed) co_return true;
    const auto now_moved = body.consumed() + body.available();
    if (step.failure != http::Failure::kIdleTimeout || now_moved == moved) {
      failure = step.failure;
      co_return false;
    }
    moved = now_moved;
  }
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
// stream is gone. No attempt follows: the request body is no longer kept.
bool relay_head(Http2Downstream& downstream, Http2Stream& stream, const http::ResponseHead& head,
                const router::Route& route, std::shared_ptr<http::BodyPipe> body) {
  if (stream.request_body) stream.request_body->end_replay();
  http::ResponseHead out;
  out.status = head.status;
  http::copy_end_to_end(head.fields, out.fields);
  http::apply_edits(out.fields, route.response_headers);
  layers::add_response_fields(stream, out.fields);
  return downstream.respond(stream, out, std::move(body));
}

// How one attempt ended (layers::retry::AttemptEnd): the client has its
// response (or is gone), or an outcome the retry layer answers or tries
// again.
using layers::retry::AttemptEnd;

AttemptEnd attempt_answered() { return {true, false, {}}; }

// Starts the request body again for the next attempt.
void rewind_body(Http2Stream& stream) {
  if (stream.request_body) stream.request_body->rewind();
}

asio::awaitable<AttemptEnd> attempt_http2(Http2Downstream& downstream, Http2Stream& stream,
                                          const router::Route& route,
                                          upstream::ClusterState& cluster,
                                          const http::RequestHead& head,
                                          const layers::timeout::Deadlines& deadlines,
                                          layers::retry::Tries& tries) {
  const upstream::http2::Request call{head,        stream.request_body, stream.grpc,
                                      nullptr,     kResponsePipeBytes,  &stream.upstream,
                                      stream.hash, &stream.destination};
  auto answer = co_await upstream::http2::call(cluster, call, deadlines, tries);
  if (answer.ended) co_return *answer.ended;
  auto& lease = *answer.lease;
  auto& response = answer.response;
  if (!relay_head(downstream, stream, response.head, route,
                  response.end_stream ? nullptr : answer.body)) {
    lease->cancel(response.stream);
    co_return attempt_answered();
  }
  http::Failure cut = http::Failure::kNone;
  const bool ended =
      co_await wait_response_end(stream, *answer.body, answer.limit, deadlines.idle(), cut);
  if (!ended) {
    // The response began but did not end in time: cut it short.
    lease->cancel(response.stream);
    downstream.reset(stream, http::BodyPipe::kCancel);
    stream.error = http::reason(cut);
    co_return attempt_answered();
  }
  if (stream.close_code != 0) lease->cancel(response.stream);  // the client cancelled
  if (stream.grpc) stream.grpc_status = grpc_status_of(response.head, *answer.body);
  co_return attempt_answered();
}

// Closes a socket when its deadline passes: the pending operation fails and
// the exchange reports the deadline's failure.
class Watchdog {
 public:
  Watchdog(upstream::pool::Socket& socket, const layers::timeout::Limit& limit,
           std::chrono::milliseconds idle)
      : socket_(socket), timer_(socket.get_executor()), limit_(limit), idle_(idle) {}
  ~Watchdog() { disarm(); }
  // For the next wait: idleness, within the attempt's limit.
  void arm() {
    armed_ = limit_.or_idle(Clock::now(), idle_);
    timer_.expires_at(armed_.when);
    timer_.async_wait([fired = fired_, &socket = socket_](boost::system::error_code ec) {
      if (ec) return;
      *fired = true;
      boost::system::error_code ignored;
      socket.close(ignored);
    });
  }
  void disarm() { timer_.cancel(); }
  // An operation's error, as a timeout when the armed deadline fired.
  boost::system::error_code outcome(boost::system::error_code ec) const {
    return *fired_ ? make_error_code(beast::error::timeout) : ec;
  }
  http::Failure cause() const { return armed_.failure; }

 private:
  upstream::pool::Socket& socket_;
  asio::steady_timer timer_;
  layers::timeout::Limit limit_;
  std::chrono::milliseconds idle_;
  layers::timeout::Limit armed_;
  std::shared_ptr<bool> fired_ = std::make_shared<bool>(false);
};

// An HTTP/2 stream's side of the HTTP/1.1 upstream call
// (upstream/http1/call.h): the request written from the stream's body
// pipe, the response read into a pipe the session sends from, trailers
// carried as chunked trailers.
class Http1Client {
 public:
  using Exchanged = upstream::http1::Exchanged;

  Http1Client(Http2Downstream& downstream, Http2Stream& stream, const router::Route& route,
              const http::RequestHead& head, const layers::timeout::Deadlines& deadlines)
      : downstream_(downstream),
        stream_(stream),
        route_(route),
        head_(head),
        deadlines_(deadlines) {
    request_.method = head.method;
    request_.head_request = head.method == "HEAD";
    request_.grpc = stream.grpc;
    request_.upstream = &stream.upstream;
    request_.destination = &stream.destination;
    request_.hash = stream.hash;
  }

  asio::awaitable<AttemptEnd> attempt(upstream::ClusterState& cluster,
                                      layers::retry::Tries& tries) {
    return upstream::http1::call(cluster, *this, request_, deadlines_, tries);
  }

  void watch(upstream::pool::Socket& socket, layers::timeout::Limit limit) {
    watchdog_.emplace(socket, limit, deadlines_.idle());
  }
  void unwatch() { watchdog_.reset(); }
  void arm_upstream() { watchdog_->arm(); }
  boost::system::error_code outcome(boost::system::error_code ec) const {
    return watchdog_->outcome(ec);
  }
  http::Failure timeout_cause() const { return watchdog_->cause(); }
  std::optional<ResponseParser>& response() { return response_; }
  beast::flat_buffer& response_buffer() { return buffer_; }
  upstream::http1::HeadSeen& head_seen() { return head_seen_; }
  std::pmr::memory_resource* response_arena() { return nullptr; }
  bool body_replayable() const { return http::replayable(stream_.request_body); }
  void rewind() { rewind_body(stream_); }
  template <class UpStream>
  asio::awaitable<Exchanged> exchange(UpStream& up, layers::retry::Tries& tries);
  asio::awaitable<void> answer(http::Failure failure) {
    reply(downstream_, stream_, local_reply(failure));
    co_return;
  }

 private:
  // How writing the request ended.
  struct Sent {
    boost::system::error_code error;  // writing upstream failed
    bool client_gone = false;         // the client's stream failed first
  };
  template <class UpStream>
  asio::awaitable<Sent> send_request(UpStream& up);

  Http2Downstream& downstream_;
  Http2Stream& stream_;
  const router::Route& route_;
  const http::RequestHead& head_;
  const layers::timeout::Deadlines& deadlines_;
  upstream::http1::Request request_;
  std::optional<Watchdog> watchdog_;
  std::optional<ResponseParser> response_;
  beast::flat_buffer buffer_;
  upstream::http1::HeadSeen head_seen_;
};

// Writes the request (head, then the body from its pipe) to `up`.
template <class UpStream>
auto Http1Client::send_request(UpStream& up) -> asio::awaitable<Sent> {
  auto& request_body = stream_.request_body;
  http::http1::RequestHead h1;
  http::to_http1(head_, request_body != nullptr, h1);
  const bool chunked = request_body && h1.find(beast_http::field::content_length) == h1.end();
  http::http1::MessageWriter writer;
  writer.start(h1, chunked);
  auto buffer = downstream_.state().relay_buffers.lease();
  auto chunk = buffer.span();
  for (bool last = request_body == nullptr;;) {
    std::string_view piece;
    if (request_body) {
      watchdog_->arm();
      co_await request_body->wait_readable();
      if (request_body->state() == http::BodyPipe::State::kFailed) co_return Sent{{}, true};
      piece = {chunk.data(), request_body->read(chunk.data(), chunk.size())};
      last = request_body->at_end();
      if (last && chunked) writer.trailers(request_body->trailers());
    }
    watchdog_->arm();
    if (auto ec = co_await http::http1::write_all(up, writer.next(piece, last))) {
      co_return Sent{watchdog_->outcome(ec), false};
    }
    if (last) co_return Sent{};
  }
}

template <class UpStream>
auto Http1Client::exchange(UpStream& up, layers::retry::Tries& tries)
    -> asio::awaitable<Exchanged> {
  const auto sent = co_await send_request(up);
  if (sent.client_gone) co_return Exchanged::answered();
  buffer_.clear();
  // Reads take the buffer's free space: without room they would be 512 bytes.
  buffer_.reserve(worker::BufferPool::kBufferBytes);
  auto ended = co_await upstream::http1::read_answer(*this, up, request_, sent.error, tries);
  if (ended) co_return *ended;
  auto& parser = *response_;
  auto& res = parser.head();
  const bool upstream_keep_alive = parser.keep_alive();
  const std::size_t head_fields = res.size();
  std::shared_ptr<http::BodyPipe> body;
  if (!parser.is_done()) {
    body = std::make_shared<http::BodyPipe>(downstream_.executor(), kResponsePipeBytes);
  }
  if (!relay_head(downstream_, stream_, http::from_http1(res), route_, body)) {
    co_return Exchanged::answered();  // the client's stream is gone
  }
  while (body && !parser.is_done()) {
    co_await body->wait_writable();
    if (body->consumer_closed()) co_return Exchanged::answered();
    watchdog_->arm();
    auto ec = co_await http::http1::read_some(up, buffer_, parser);
    if (ec && ec != beast_http::error::need_buffer) {
      // The response had begun: it is cut short, the log says why.
      body->fail(http::BodyPipe::kCancel);
      stream_.error = http::reason(upstream::http1::failure_of(outcome(ec), timeout_cause()));
      downstream_.reset(stream_, http::BodyPipe::kCancel);
      co_return Exchanged::answered();
    }
    body->push(parser.piece());
  }
  if (body) body->finish(http::fields_from(res, head_fields));
  watchdog_->disarm();
  co_return Exchanged::answered(upstream_keep_alive && buffer_.size() == 0);
}

// The retry layer's path for an HTTP/2 stream (layers/retry_layer.h): an
// attempt on the cluster's protocol, the stream's body rewound between them.
class StreamPath {
 public:
  StreamPath(Http2Downstream& downstream, Http2Stream& stream, const router::Route& route,
             upstream::ClusterState& cluster, http::RequestHead& head,
             const layers::timeout::Deadlines& deadlines)
      : downstream_(downstream),
        stream_(stream),
        route_(route),
        cluster_(cluster),
        head_(head),
        deadlines_(deadlines),
        http1_(downstream, stream, route, head, deadlines) {}

  asio::awaitable<AttemptEnd> attempt(layers::retry::Tries& tries) {
    if (upstream::upstream_version(cluster_.config, upstream::HttpVersion::kHttp2, false) ==
        upstream::HttpVersion::kHttp1) {
      return http1_.attempt(cluster_, tries);
    }
    return attempt_http2(downstream_, stream_, route_, cluster_, head_, deadlines_, tries);
  }
  asio::awaitable<AttemptEnd> only_attempt(layers::retry::Tries& tries) {
    auto end = co_await attempt(tries);
    if (!end.answered) {
      co_await reply(end.outcome.failure, false);
      end.answered = true;
    }
    co_return end;
  }
  bool body_replayable() const { return http::replayable(stream_.request_body); }
  void mark_attempt(unsigned attempt) {
    head_.fields.set("x-weft-attempt", std::to_string(attempt));
  }
  void rewind() { rewind_body(stream_); }
  void settled() {
    if (stream_.request_body) stream_.request_body->end_replay();
  }
  asio::awaitable<void> reply(http::Failure failure, bool budget_exhausted) {
    auto local = local_reply(failure);
    if (budget_exhausted) local.reason = http::reason(http::Failure::kRetryBudgetExhausted);
    listener::reply(downstream_, stream_, local);
    co_return;
  }
  layers::Record& record() { return stream_; }

 private:
  Http2Downstream& downstream_;
  Http2Stream& stream_;
  const router::Route& route_;
  upstream::ClusterState& cluster_;
  http::RequestHead& head_;
  const layers::timeout::Deadlines& deadlines_;
  Http1Client http1_;  // for an HTTP/1.1 cluster
};

// Tries the request on the cluster through the retry layer.
asio::awaitable<void> try_cluster(Http2Downstream& downstream, Http2Stream& stream,
                                  const router::Route& route, upstream::ClusterState& cluster) {
  auto head = upstream_request(downstream, stream, route, cluster.config);
  const auto deadlines = deadlines_for(downstream, stream, route);
  auto tries = cluster.tries(route.retry, layers::retry::is_idempotent(stream.request.method));
  if (layers::retry::keep_for_replay(route.retry, stream.request_body != nullptr)) {
    stream.request_body->keep_for_replay(layers::retry::kReplayLimit);
  }
  StreamPath path(downstream, stream, route, cluster, head, deadlines);
  co_await layers::retry::serve(path, tries, cluster, downstream.state().rng);
}

asio::awaitable<void> forward(Http2Downstream& downstream, Http2Stream& stream,
                              const router::Route& route, const router::Forward& forward,
                              const worker::View& view) {
  // Held until the response is relayed: the request is in flight till then.
  const http::RequestView request(stream.request);
  auto target = upstream::target_for(forward, *view.splits, *view.clusters, worker::coarse_now(),
                                     {request, downstream.peer_ip(), downstream.state().rng});
  if (target.cluster != nullptr) {
    stream.cluster = target.cluster->config.name;
    stream.service = target.cluster->service;
  }
  if (downstream.direction() == config::Direction::kInbound) {
    layers::observe::read_caller(stream, stream.request.fields.get(metrics::kPeerField),
                                 downstream.state().requests);
  }
  if (const auto& tracing = view.snapshot->tracing) {
    layers::trace::start(stream, stream.request.fields, tracing->settings, downstream.state().rng);
  }
  stream.failover = target.failover;
  stream.hash = target.hash;
  stream.set_cookie = std::move(target.set_cookie);
  if (target.failure != http::Failure::kNone) {
    reply(downstream, stream, local_reply(target.failure));
    co_return;
  }
  co_await try_cluster(downstream, stream, route, *target.cluster);
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
  namespace authorization = layers::authorization;
  const auto& peer = downstream.inbound_peer();
  if (const auto* denied = authorization::check(
          downstream.state(), view, downstream.listener(),
          {peer.identity, peer.port, true, stream.request.method, stream.request.path})) {
    authorization::record_denial(stream, *denied, stream.request.fields.get(metrics::kPeerField),
                                 downstream.state().requests);
    reply(downstream, stream, denied_reply());
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
