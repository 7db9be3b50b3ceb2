// One attempt at a request on a cluster over a pooled HTTP/1.1 connection:
// the part every downstream codec's HTTP/1.1 path shares (endpoint choice,
// a pooled or new connection, a pooled connection the upstream had closed
// replaced once, the answer's head read within the attempt's deadline,
// failures named, the retry layer's look at the answer, the connection
// handed back to the pool).
//
// The codec is the call's Client: it sends the request and relays the
// response its own way. An HTTP/1.1 client's bytes go socket to socket
// through one buffer; an HTTP/2 stream's go through its pipes. Templates,
// so the HTTP/1.1 pair keeps its coroutine frames to the ones it had.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <concepts>
#include <cstdint>
#include <limits>
#include <memory_resource>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "proxy/http/http1/parser.h"
#include "proxy/http/http1/stream_io.h"
#include "proxy/layers/retry.h"
#include "proxy/layers/timeout.h"
#include "proxy/upstream/clusters.h"
#include "proxy/upstream/connect.h"
#include "proxy/upstream/http1/errors.h"
#include "proxy/worker/coarse_clock.h"

namespace weft::proxy::upstream::http1 {

inline constexpr std::size_t kMaxResponseHeaderBytes = std::size_t{60} * 1024;

// What stays the same for every attempt at a request.
struct Request {
  std::string_view method;
  bool head_request = false;          // HEAD: the response has no body
  bool upgrade = false;               // a 101 may end HTTP: the answer is never held back
  bool grpc = false;                  // a gRPC call (for the retry layer)
  bool answer_failure = false;        // the only attempt: the client answers a failure itself
  std::string* upstream = nullptr;    // set to each try's "address:port"
  std::optional<std::uint64_t> hash;  // consistent hashing's key, when it has one
  // Set to each try's endpoint's workload (null: not meshed).
  const metrics::Workload** destination = nullptr;
};

// How the exchange on one connection ended.
struct Exchanged {
  layers::retry::AttemptEnd end;  // answered, or what the attempt came to
  bool reusable = false;          // the connection is between messages: back to the pool
  bool closed = false;            // failed as a closed connection before any response byte

  static Exchanged answered(bool reusable = false) { return {{true, false, {}}, reusable, false}; }
  static Exchanged failed(http::Failure failure, bool closed = false) {
    return {{false, false, {failure}}, false, closed};
  }
  // An answer the tries held back: its response is unread, so the
  // connection is not reused.
  static Exchanged held(const layers::retry::Outcome& outcome) {
    return {{false, true, outcome}, false, false};
  }
};

// The final response head of an attempt as read_answer() saw it, for the
// balancer: when it came (its latency) and its status (0: none came).
struct HeadSeen {
  lb::Clock::time_point at{};
  unsigned status = 0;
};

// The codec's side of the call. Its exchange(up, tries) sends the request
// on `up`, asks read_answer() for the head and relays the response; the
// rest serves the call and read_answer().
template <class Client>
concept CallClient = requires(Client& client, pool::Socket& socket, layers::timeout::Limit limit,
                              boost::system::error_code ec, http::Failure failure,
                              layers::retry::Tries& tries) {
  // The attempt's deadline runs on this connection, until unwatch().
  client.watch(socket, limit);
  client.unwatch();
  // The next wait on the upstream: the stream's idle timeout, within the limit.
  client.arm_upstream();
  // An operation's error, as beast::error::timeout when the deadline caused it...
  { client.outcome(ec) } -> std::same_as<boost::system::error_code>;
  // ...and that deadline's failure (idle, per-try or request timeout).
  { client.timeout_cause() } -> std::same_as<http::Failure>;
  { client.response() } -> std::same_as<std::optional<http::http1::ResponseParser>&>;
  { client.response_buffer() } -> std::same_as<boost::beast::flat_buffer&>;
  { client.head_seen() } -> std::same_as<HeadSeen&>;
  // The response head's fields live here (nullptr: in the head itself).
  { client.response_arena() } -> std::convertible_to<std::pmr::memory_resource*>;
  { client.body_replayable() } -> std::convertible_to<bool>;
  client.rewind();  // the request body from its start, for a new connection
  { client.exchange(socket, tries) } -> std::same_as<boost::asio::awaitable<Exchanged>>;
  // Answers the client with `failure` (a local reply).
  { client.answer(failure) } -> std::same_as<boost::asio::awaitable<void>>;
};

// The answer to the request sent on `up` (`sent`: how sending ended): its
// final head in client.response(), 1xx interim responses dropped (a 101 is
// final: it ends HTTP on the connection); or how the exchange ended
// without one to relay: a failure, or an answer `tries` held back.
template <class Client, class UpStream>
boost::asio::awaitable<std::optional<Exchanged>> read_answer(Client& client, UpStream& up,
                                                             const Request& request,
                                                             boost::system::error_code sent,
                                                             layers::retry::Tries& tries) {
  auto& parser = client.response();
  auto ec = sent;
  while (!ec) {
    auto* arena = client.response_arena();
    if (arena != nullptr) {
      parser.emplace(arena);
    } else {
      parser.emplace();
    }
    parser->header_limit(kMaxResponseHeaderBytes);
    parser->body_limit(std::numeric_limits<std::uint64_t>::max());
    parser->skip(request.head_request);
    client.arm_upstream();
    ec = client.outcome(co_await http::http1::read_header(up, client.response_buffer(), *parser));
    if (ec) break;
    const auto status = parser->head().result_int();
    if (status >= 200 || status == 101) break;
  }
  if (ec)
    co_return Exchanged::failed(failure_of(ec, client.timeout_cause()), is_closed_connection(ec));
  auto& head = parser->head();
  client.head_seen() = {lb::Clock::now(), head.result_int()};
  // Another try is possible: is this answer final?
  if (!request.upgrade && tries.hold_answer(head.result_int(), head, request.grpc,
                                            client.body_replayable(), worker::coarse_now())) {
    co_return Exchanged::held(tries.held_outcome());
  }
  co_return std::nullopt;
}

// What the cluster learns of `endpoint` from an attempt's end: the head's
// latency and status, or a failure before any head. A client that left
// teaches nothing.
inline void learn(ClusterState& cluster, std::size_t endpoint, lb::Lease& lease,
                  const HeadSeen& head, const layers::retry::AttemptEnd& end) {
  if (head.status != 0) {
    cluster.answered(endpoint, lease, head.status, http::Failure::kNone, head.at);
  } else if (!end.answered) {
    cluster.answered(endpoint, lease, 0, end.outcome.failure, lb::Clock::now());
  }
}

// One attempt: an endpoint's pooled or new connection, replaced once when
// the upstream had closed it (send_on_new_connection). With
// request.answer_failure, a failure is answered here.
template <CallClient Client>
boost::asio::awaitable<layers::retry::AttemptEnd> call(ClusterState& cluster, Client& client,
                                                       const Request& request,
                                                       const layers::timeout::Deadlines& deadlines,
                                                       layers::retry::Tries& tries) {
  layers::retry::AttemptEnd end;
  for (bool first = true;; first = false) {
    const auto endpoint = cluster.pick(worker::coarse_now(), request.hash);
    auto lease = cluster.balancer.lease(endpoint);
    // A pooled connection, usually: taken without a coroutine.
    auto opened = take_idle(cluster, endpoint);
    if (!opened) {
      const auto now = worker::coarse_now();
      opened = co_await connect_new(cluster, endpoint,
                                    deadlines.attempt(now).or_idle(now, deadlines.idle()));
    }
    if (auto* failed = std::get_if<ConnectFailure>(&*opened)) {
      if (!failed->limited) cluster.answered(endpoint, lease, 0, failed->failure, lb::Clock::now());
      end.outcome.failure = failed->failure;
      break;
    }
    auto& [connection, reused] = std::get<Opened>(*opened);
    if (request.upstream != nullptr) *request.upstream = cluster.endpoint_text(endpoint);
    if (request.destination != nullptr) *request.destination = cluster.workloads[endpoint];
    client.watch(connection.socket(), deadlines.attempt(worker::coarse_now()));
    Exchanged exchanged;
    client.head_seen() = {};
    if (auto* plain = connection.plain()) {
      exchanged = co_await client.exchange(*plain, tries);
    } else {
      exchanged = co_await client.exchange(*connection.tls(), tries);
    }
    client.unwatch();
    if (exchanged.reusable) cluster.keep(endpoint, std::move(connection));
    if (send_on_new_connection(
            {first && reused, exchanged.closed, client.body_replayable(), request.method})) {
      client.rewind();
      continue;  // the upstream's close of an idle connection is not the endpoint's failure
    }
    learn(cluster, endpoint, lease, client.head_seen(), exchanged.end);
    end = exchanged.end;
    break;
  }
  if (request.answer_failure && !end.answered) {
    co_await client.answer(end.outcome.failure);
    end.answered = true;
  }
  co_return end;
}

}  // namespace weft::proxy::upstream::http1
