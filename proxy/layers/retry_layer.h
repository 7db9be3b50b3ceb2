// The retry layer: runs a request's attempts until one answers it or the
// retry decision (retry.h, Tries::after) says the outcome is final. Written
// once for every HTTP version pair: a downstream codec hands it a Path, the
// codec's way of making one attempt and of answering the client.
//
// A route without a retry policy skips the layer: its one attempt runs with
// no coroutine frame of the layer's (serve() is not a coroutine) and
// answers its own failure, which is what the loop would do after it.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <concepts>

#include "common/random.h"
#include "proxy/layers/exchange.h"
#include "proxy/layers/retry.h"
#include "proxy/worker/coarse_clock.h"

namespace weft::proxy::layers::retry {

// A codec's side of the retry layer.
template <class Path>
concept RetryPath = requires(Path& path, Tries& tries, http::Failure failure, bool exhausted) {
  // One attempt upstream; `tries` decides whether its answer is held back.
  { path.attempt(tries) } -> std::same_as<boost::asio::awaitable<AttemptEnd>>;
  // The only attempt: a failure is answered with a local reply.
  { path.only_attempt(tries) } -> std::same_as<boost::asio::awaitable<AttemptEnd>>;
  // Whether the request body can be sent again: none, untouched, or kept whole.
  { path.body_replayable() } -> std::convertible_to<bool>;
  // Before each attempt (x-weft-attempt; only routes with a retry policy
  // take the loop) and before each retry (the body).
  path.mark_attempt(1u);
  path.rewind();
  // A local reply for `failure`, marked retry_budget_exhausted when
  // `exhausted`.
  { path.reply(failure, exhausted) } -> std::same_as<boost::asio::awaitable<void>>;
  // No attempt follows (the request body need not be kept any longer).
  path.settled();
  { path.record() } -> std::same_as<Record&>;
};

// What counts the steps (upstream::ClusterState: the retry metrics).
template <class Counter>
concept StepCounter = requires(const Counter& counter, const Step& step, const Tries& tries) {
  counter.count(step, tries);
};

template <RetryPath Path, StepCounter Counter>
boost::asio::awaitable<AttemptEnd> serve_retried(Path& path, Tries& tries, const Counter& cluster,
                                                 FastRandom& random) {
  using Action = Step::Action;
  for (;;) {
    path.record().attempts = tries.attempt();
    if (tries.attempt() > 1) path.record().retries.push_back(std::chrono::steady_clock::now());
    path.mark_attempt(tries.attempt());
    const auto end = co_await path.attempt(tries);
    const auto step = tries.after(end, path.body_replayable(), worker::coarse_now(), random);
    cluster.count(step, tries);
    if (step.action == Action::kRetry) {
      if (step.wait.count() > 0) {
        boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, step.wait);
        co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      }
      path.rewind();
      continue;
    }
    path.settled();
    if (step.action == Action::kReply) {
      co_await path.reply(step.reply, step.budget_exhausted);
    } else if (step.budget_exhausted && path.record().error.empty()) {
      // a retryable answer went to the client as it was
      path.record().error = http::reason(http::Failure::kRetryBudgetExhausted);
    }
    co_return AttemptEnd{true, false, {}};
  }
}

// Runs the request's attempts: through the loop above when the route has a
// retry policy, else its only attempt directly. The request is answered
// when the returned awaitable completes.
template <RetryPath Path, StepCounter Counter>
boost::asio::awaitable<AttemptEnd> serve(Path& path, Tries& tries, const Counter& cluster,
                                         FastRandom& random) {
  if (tries.last()) {
    path.record().attempts = 1;
    return path.only_attempt(tries);
  }
  return serve_retried(path, tries, cluster, random);
}

}  // namespace weft::proxy::layers::retry
