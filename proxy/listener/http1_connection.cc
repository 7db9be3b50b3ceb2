#include "proxy/listener/http1_connection.h"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <tuple>
#include <variant>

#include "proxy/http/http1/headers.h"
#include "proxy/http/http1/request_check.h"
#include "proxy/layers/authorization_layer.h"
#include "proxy/layers/observe.h"
#include "proxy/listener/finish.h"
#include "proxy/listener/http1_exchange.h"
#include "proxy/listener/tunnel.h"

namespace weft::proxy::listener {

using http::http1::RequestView;

namespace {

// A read error that is no request at all: the client closed, went idle, or
// the connection was drained between requests.
bool ends_quietly(const boost::system::error_code& ec) {
  return ec == beast_http::error::end_of_stream || ec == asio::error::operation_aborted ||
         ec == beast::error::timeout || ec == asio::error::connection_reset ||
         ec == asio::error::eof;
}

}  // namespace

template <class DownStream>
asio::awaitable<void> Http1Connection<DownStream>::run() {
  http::http1::Limits limits;
  down_buffer_.reserve(down_buffer_.size() + 4096);  // most request heads in one read
  for (;;) {
    // The head is read under the snapshot current while the connection
    // waits; the request is served under the one current when its head is
    // complete, which it keeps to its end. A keep-alive connection idle
    // across a configuration change (a new AuthorizationPolicy, a route)
    // serves its next request under the new one.
    auto view = state_.view;
    limits.traced = view->snapshot->tracing.has_value();
    response_.reset();  // its fields live in the arena
    arena_.release();   // the previous request's fields are gone
    RequestParser parser(arena());
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());

    idle_ = true;
    if (state_.draining) co_return;
    deadline_.limit = {};  // the previous request's timeouts are over
    // Idle until the head's first byte, then the head has its own deadline
    // (slowloris: a head trickled in a byte at a time).
    const auto& listener = view->snapshot->listeners[listener_];
    bool head_started = down_buffer_.size() > 0;
    deadline_.arm(Side::kDownstream,
                  head_started ? listener.request_headers_timeout : listener.idle_timeout);
    auto ec = deadline_.outcome(co_await http::http1::read_header(down_, down_buffer_, parser, [&] {
      if (head_started) return;
      head_started = true;
      deadline_.arm(Side::kDownstream, listener.request_headers_timeout);
    }));
    idle_ = false;
    if (ec == beast::error::timeout && head_started) {
      co_await reject({408, "request_headers_timeout"});
      co_await close_lingering();
      co_return;
    }
    if (ec) {
      if (!ends_quietly(ec)) {
        co_await reject(http::http1::rejection_for(ec));
        co_await close_lingering();
      }
      co_return;
    }
    if (auto rejection = http::http1::check_request_head(parser.head(), limits)) {
      co_await reject(*rejection);
      co_await close_lingering();
      co_return;
    }
    http::http1::to_origin_form(parser.head());
    Exchange exchange;
    exchange.client_keep_alive = parser.keep_alive() && parser.head().version() >= 11;
    if (view != state_.view) view = state_.view;  // (no reference into the old one is used below)
    auto next = co_await serve(parser, *view, exchange);
    finish(*view, exchange, parser);
    if (next == Next::kClose || !exchange.client_keep_alive || state_.draining) {
      if (!parser.is_done()) co_await close_lingering();  // the body was answered unread
      break;
    }
  }
  boost::system::error_code ignored;
  socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

// Closing a socket with bytes unread makes the kernel send a reset, and a
// client still writing its request body then fails that write (EPIPE) and
// drops the answer it was already sent. So stop sending, then read and drop
// what the client still sends until it closes, for at most kLingerLimit:
// nginx's lingering close. A drain may close the connection meanwhile.
template <class DownStream>
asio::awaitable<void> Http1Connection<DownStream>::close_lingering() {
  static constexpr std::chrono::seconds kLingerLimit{5};
  boost::system::error_code ec;
  socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  if (ec) co_return;  // the socket is gone already
  idle_ = true;       // nothing left to answer
  deadline_.limit = {};
  deadline_.arm(Side::kDownstream, kLingerLimit);  // once: a bound on the whole drain
  std::size_t read = 0;
  do {
    down_buffer_.clear();
    std::tie(ec, read) = co_await socket().async_read_some(
        down_buffer_.prepare(BodyRelay<true, DownStream, DownStream>::kReadAhead), kNoThrow);
  } while (!ec);
  std::string_view end = "error";
  if (deadline_.expired) {
    end = "time_limit";
  } else if (ec == asio::error::eof) {
    end = "client_closed";
  }
  state_.metrics.lingering_close(end).Increment();
}

template <class DownStream>
asio::awaitable<Next> Http1Connection<DownStream>::serve(RequestParser& parser,
                                                         const worker::View& view,
                                                         Exchange& exchange) {
  const auto& head = parser.head();
  namespace authorization = layers::authorization;
  if (const auto* denied = authorization::check(
          state_, view, listener_,
          {peer_.identity, peer_.port, true, head.method_string(), head.target()})) {
    auto peer_field = head.find(metrics::kPeerField);
    authorization::record_denial(
        exchange, *denied,
        peer_field == head.end() ? std::nullopt : std::optional(peer_field->value()),
        state_.requests);
    const auto local = denied_reply();
    co_return co_await reply(parser, local, exchange);
  }
  const auto& table = view.snapshot->route_tables[route_table_];
  const RequestView request(head);
  const auto* route = table.route_for(request);
  if (route == nullptr) {
    const LocalReply local{404, "route_not_found", "no route\n", ""};
    co_return co_await reply(parser, local, exchange);
  }
  if (const auto* forward = std::get_if<router::Forward>(&route->action)) {
    co_return co_await this->forward(parser, *route, *forward, view, exchange);
  }
  if (const auto* direct = std::get_if<router::DirectResponse>(&route->action)) {
    state_.metrics.local_reply("direct_response").Increment();
    const LocalReply local{direct->status, "", direct->body, ""};
    co_return co_await reply(parser, local, exchange, &route->response_headers);
  }
  const auto& redirect = std::get<router::Redirect>(route->action);
  state_.metrics.local_reply("redirect").Increment();
  const LocalReply local{redirect.status, "", "", redirect.location(request)};
  co_return co_await reply(parser, local, exchange, &route->response_headers);
}

template <class DownStream>
asio::awaitable<Next> Http1Connection<DownStream>::reply(RequestParser& parser,
                                                         const LocalReply& local,
                                                         Exchange& exchange,
                                                         const router::HeaderEdits* edits) {
  http::http1::ResponseHead response(arena());
  response.result(local.status);
  response.insert(beast_http::field::server, "weft");
  if (!local.reason.empty()) {
    response.insert("x-weft-error", local.reason);
    state_.metrics.local_reply(local.reason).Increment();
    exchange.error = local.reason;
  }
  if (!local.location.empty()) response.insert(beast_http::field::location, local.location);
  if (!local.body.empty()) response.insert(beast_http::field::content_type, "text/plain");
  if (edits != nullptr) http::http1::apply_edits(response, *edits);
  // An unread request body would be taken for the next request: close instead.
  bool keep_alive = exchange.client_keep_alive && parser.is_done() && !state_.draining;
  exchange.status = local.status;
  deadline_.limit = {};  // the request's timeouts have passed or do not apply to its answer
  deadline_.arm(Side::kDownstream, std::chrono::seconds(10));
  auto ec = co_await write_local(response, local.body, keep_alive);
  co_return ec || !keep_alive ? Next::kClose : Next::kKeepAlive;
}

template <class DownStream>
asio::awaitable<boost::system::error_code> Http1Connection<DownStream>::write_local(
    http::http1::ResponseHead& response, std::string_view body, bool keep_alive) {
  if (http::http1::status_has_body(response.result_int())) {
    response.set(beast_http::field::content_length, std::to_string(body.size()));
  } else {
    body = {};
  }
  if (!keep_alive) response.set(beast_http::field::connection, "close");
  writer_.start(response, false);
  co_return co_await http::http1::write_all(down_, writer_.next(body, true));
}

template <class DownStream>
asio::awaitable<void> Http1Connection<DownStream>::reject(const http::http1::Rejection& rejection) {
  state_.metrics.parse_rejection(rejection.reason).Increment();
  const auto view = state_.view;
  const auto& stats = view->listener_stats[listener_];
  stats.count_response(rejection.status);
  // Unparsed: no caller or Service is known.
  layers::Record record;
  record.status = rejection.status;
  record.error = rejection.reason;
  const Ending ending{
      .downstream = peer_ip_, .downstream_tls = downstream().tls, .peer_identity = peer_.identity};
  layers::observe::count(
      state_.requests, record,
      {view->snapshot->listeners[listener_].direction, view->workload, std::nullopt,
       downstream().tls},
      std::chrono::duration<double, std::milli>(Clock::now() - record.start).count());
  http::http1::ResponseHead response(arena());
  response.result(rejection.status);
  response.insert(beast_http::field::server, "weft");
  response.insert("x-weft-error", rejection.reason);
  response.insert(beast_http::field::content_type, "text/plain");
  const std::string body = std::string(rejection.reason) + "\n";
  deadline_.arm(Side::kDownstream, std::chrono::seconds(5));
  co_await write_local(response, body, false);
  record.response_bytes = body.size();
  log_request(state_, *view, listener_, record, ending, Clock::now());
}

template <class DownStream>
void Http1Connection<DownStream>::finish(const worker::View& view, Exchange& exchange,
                                         const RequestParser& parser) {
  exchange.request_bytes = parser.body_bytes();
  exchange.response_bytes = writer_.response_body_bytes();
  Ending ending{.http2 = false,
                .downstream = peer_ip_,
                .downstream_tls = downstream().tls,
                .peer_identity = peer_.identity};
  if (reports_request_fields(state_, view, exchange)) {
    const auto& head = parser.head();
    ending.method = head.method_string();
    ending.target = head.target();
    ending.authority = head[beast_http::field::host];
    ending.request_id = head["x-request-id"];
  }
  finish_request(state_, view, listener_, exchange, ending);
}

template class Http1Connection<asio::ip::tcp::socket>;
template class Http1Connection<TlsDownstream>;

asio::awaitable<void> serve_http1(asio::ip::tcp::socket stream, beast::flat_buffer read_ahead,
                                  worker::WorkerState& state, std::size_t listener,
                                  std::size_t route_table, InboundPeer peer) {
  Http1Connection<asio::ip::tcp::socket> connection(std::move(stream), std::move(read_ahead), state,
                                                    listener, route_table, std::move(peer));
  co_await connection.run();
}

asio::awaitable<void> serve_http1(TlsDownstream stream, beast::flat_buffer read_ahead,
                                  worker::WorkerState& state, std::size_t listener,
                                  std::size_t route_table, InboundPeer peer) {
  Http1Connection<TlsDownstream> connection(std::move(stream), std::move(read_ahead), state,
                                            listener, route_table, std::move(peer));
  co_await connection.run();
}

}  // namespace weft::proxy::listener
