// GCC 12 reports a false -Wmismatched-new-delete on Asio's coroutine frames.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include "proxy/upstream/http2/call.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <variant>

#include "proxy/http/grpc.h"
#include "proxy/worker/coarse_clock.h"

namespace weft::proxy::upstream::http2 {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using layers::retry::AttemptEnd;

constexpr int kMaxSends = 3;  // refused streams (GOAWAY) are sent again

Answer ended(AttemptEnd end) {
  Answer answer;
  answer.ended = end;
  return answer;
}

// The first send of a body that `source` pumps: both run together. A
// stream that ends without a head stops the pump, which would otherwise
// wait forever on a full pipe nobody reads.
asio::awaitable<Response> exchange_pumping(Connection& connection, const Request& request,
                                           const std::shared_ptr<http::BodyPipe>& response_body,
                                           Clock::time_point deadline) {
  auto exchange = [&]() -> asio::awaitable<Response> {
    auto got = co_await connection.exchange(request.head, request.body, response_body, deadline);
    if (got.outcome != Response::Outcome::kHead &&
        request.body->state() == http::BodyPipe::State::kOpen) {
      request.body->close_consumer();
    }
    co_return got;
  };
  co_return co_await (request.source->pump(*request.body) && exchange());
}

}  // namespace

asio::awaitable<Answer> call(ClusterState& cluster, const Request& request,
                             const layers::timeout::Deadlines& deadlines,
                             layers::retry::Tries& tries) {
  auto executor = co_await asio::this_coro::executor;
  bool pumped = request.source == nullptr || !request.body;
  for (int send = 0; send < kMaxSends; ++send) {
    auto endpoint = cluster.pick(worker::coarse_now(), request.hash);
    if (request.upstream != nullptr) *request.upstream = cluster.endpoint_text(endpoint);
    if (request.destination != nullptr) *request.destination = cluster.workloads[endpoint];
    auto lease = cluster.balancer.lease(endpoint);
    const auto started = worker::coarse_now();
    const auto wait_limit = deadlines.attempt(started).or_idle(started, deadlines.idle());
    auto acquired = co_await cluster.h2_pool->acquire(cluster, endpoint, wait_limit);
    if (auto* failed = std::get_if<ConnectFailure>(&acquired)) {
      if (!failed->limited) cluster.answered(endpoint, lease, 0, failed->failure, lb::Clock::now());
      co_return ended({false, false, {failed->failure}});
    }
    Answer answer;
    answer.lease.emplace(std::move(std::get<Lease>(acquired)));
    const auto now = Clock::now();
    answer.limit = deadlines.attempt(now);
    // The head is awaited for the stream's idle timeout within that.
    const auto head_limit = answer.limit.or_idle(now, deadlines.idle());
    answer.body = std::make_shared<http::BodyPipe>(executor, request.response_pipe_bytes);
    auto& connection = **answer.lease;
    if (!pumped) {
      pumped = true;
      answer.response =
          co_await exchange_pumping(connection, request, answer.body, head_limit.when);
    } else {
      answer.response =
          co_await connection.exchange(request.head, request.body, answer.body, head_limit.when);
    }
    using Outcome = Response::Outcome;
    const auto outcome = answer.response.outcome;
    // A refused stream was not processed: no latency to learn from it.
    if (outcome == Outcome::kHead) {
      // A failed gRPC call is a 200 whose grpc-status says it failed: judged
      // by that when the head carries it (trailers-only).
      const auto& head = answer.response.head;
      const auto judged =
          request.grpc ? http::grpc::judged_status(head.status, head.fields.get("grpc-status"))
                       : head.status;
      cluster.answered(endpoint, lease, judged, http::Failure::kNone, lb::Clock::now());
    } else if (outcome != Outcome::kRefused) {
      const auto failure =
          outcome == Outcome::kTimeout ? head_limit.failure : http::Failure::kReset;
      cluster.answered(endpoint, lease, 0, failure, lb::Clock::now());
    }
    // Sent again only while the whole body is in the pipe, untouched or kept.
    const bool replayable = http::replayable(request.body);
    if (outcome == Outcome::kRefused && replayable) {
      if (request.body) request.body->rewind();
      continue;
    }
    if (outcome == Outcome::kTimeout) co_return ended({false, false, {head_limit.failure}});
    if (outcome != Outcome::kHead) {
      co_return ended({false, false, {http::Failure::kReset, outcome == Outcome::kRefused}});
    }
    const auto& head = answer.response.head;
    if (tries.hold_answer(head.status, head.fields, request.grpc, replayable, Clock::now())) {
      connection.cancel(answer.response.stream);
      co_return ended({false, true, tries.held_outcome()});
    }
    if (request.body) request.body->end_replay();  // no attempt follows
    answer.endpoint = std::move(lease);            // in flight until the response is relayed
    co_return answer;
  }
  co_return ended({false, false, {http::Failure::kReset, true}});
}

}  // namespace weft::proxy::upstream::http2
