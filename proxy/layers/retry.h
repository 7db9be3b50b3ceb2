// Whether a failed attempt is tried again, and after how long: the retry
// layer's decision, pure (no sockets, no clock of its own). Modelled on
// Envoy's router retry state and linkerd2-proxy's retry budget:
//   - a condition of the route's RetryPolicy must match the attempt's
//     outcome; a per-try timeout counts under 5xx and gateway-error;
//   - a reset or a per-try timeout leaves unknown whether the upstream
//     acted on the request: only idempotent methods are retried after one.
//     A connect failure or a refused stream never reached it, and an answer
//     the route lists as retryable (a status, a gRPC status) is the
//     upstream's own word: those are retried whatever the method;
//   - a request body is sent again only when it was kept whole for replay
//     (up to kReplayLimit);
//   - nothing is retried once the response head reached the client;
//   - retries per cluster and worker stay within a budget (a share of the
//     requests plus a small rate), so a total outage is never amplified;
//   - backoff is exponential with full jitter, and a retry-after the
//     upstream sent is honoured (up to the policy's max interval).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/random.h"
#include "proxy/http/failure.h"
#include "proxy/layers/circuit_breaker.h"
#include "proxy/router/route.h"

namespace weft::proxy::layers::retry {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Request bodies up to this size are kept while a retry policy may send
// them again; a larger body is streamed, and its request is not retried
// once any of it was sent.
inline constexpr std::size_t kReplayLimit = std::size_t{64} * 1024;

// What one attempt came to, before anything reached the client.
struct Outcome {
  http::Failure failure = http::Failure::kNone;  // none: a response head arrived
  bool refused = false;                          // HTTP/2: the upstream did not process it
  unsigned status = 0;                           // the head's status
  std::optional<unsigned> grpc_status;           // in a trailers-only head
  std::optional<milliseconds> retry_after;       // the head's retry-after
};

// The retry layer's view of an answer: its status, its retry-after (RFC
// 9110 §10.2.3) and, for a gRPC call, the grpc-status of a trailers-only
// answer (an unreadable one is UNKNOWN, as gRPC reads it).
Outcome answer(unsigned status, std::optional<std::string_view> retry_after,
               std::optional<std::string_view> grpc_status);

// Whether a request body is kept whole as it is sent (up to kReplayLimit),
// so that a retry can send it again: only where the route retries at all.
inline bool keep_for_replay(const router::RetryPolicy& policy, bool has_body) {
  return has_body && policy.active();
}

// The condition that makes `outcome` worth another try under `policy`, as
// the metric's reason label ("upstream_reset", "per_try_timeout",
// "status_503", "grpc_unavailable"); nullopt: it is final.
std::optional<std::string> retry_reason(const router::RetryPolicy& policy, const Outcome& outcome,
                                        bool idempotent);

// GET, HEAD, OPTIONS, TRACE, PUT, DELETE (RFC 9110 §9.2.2).
bool is_idempotent(std::string_view method);

// The wait before retry number `retry` (1 for the first retry): full jitter
// over base * 2^(retry-1), capped at the max interval; `random` is any
// 64-bit value. A retry-after replaces it, capped the same way.
milliseconds backoff(const router::RetryPolicy& policy, unsigned retry,
                     std::optional<milliseconds> retry_after, std::uint64_t random);

// retry-after as delay-seconds (RFC 9110 §10.2.3); an HTTP date is not
// honoured (the proxy keeps no wall clock on the request path).
std::optional<milliseconds> parse_retry_after(std::string_view value);

// Retries allowed per cluster and worker over a sliding 10-second window:
// at most `percent` of the requests plus `min_per_second` a second.
class Budget {
 public:
  static constexpr int kWindowSeconds = 10;

  Budget(double percent, double min_per_second)
      : ratio_(percent / 100), min_per_second_(min_per_second) {}

  void on_request(Clock::time_point now);
  // Takes one retry from the budget: false when it is spent.
  bool try_retry(Clock::time_point now);
  bool can_retry(Clock::time_point now);

 private:
  struct Second {
    std::int64_t second = -1;
    std::uint32_t requests = 0, retries = 0;
  };
  Second& slot(Clock::time_point now);

  double ratio_, min_per_second_;
  std::array<Second, kWindowSeconds> seconds_{};
};

// How an attempt ended, as the retry layer sees it.
struct AttemptEnd {
  bool answered = false;  // a response went to the client (or the client left): final
  bool held = false;      // Tries::hold() already held its outcome back
  Outcome outcome;        // when not answered: what the attempt came to
};

// What the request path does once an attempt has ended.
struct Step {
  enum class Action {
    kDone,   // answered
    kReply,  // answer the client with `reply` (a local reply)
    kRetry,  // wait `wait`, then send the request again
  };
  Action action = Action::kDone;
  http::Failure reply = http::Failure::kNone;
  // kDone, kReply: the budget refused a retry the outcome called for; the
  // reply's x-weft-error and the access log say retry_budget_exhausted.
  bool budget_exhausted = false;
  milliseconds wait{0};
};

// One request's tries, as the retry layer walks through them: whether an
// attempt's outcome gives way to another try (and is then never shown to
// the client), and the wait before it. The connection code runs the
// attempts; this decides between them.
// The circuit breaker's limit on a cluster's retries in flight.
struct RetryLimit {
  circuit_breaker::Gate* gate = nullptr;  // null: not limited
  std::uint32_t max = 0;                  // 0: no limit
};

class Tries {
 public:
  Tries(const router::RetryPolicy& policy, Budget& budget, bool idempotent, RetryLimit limit = {})
      : policy_(policy), budget_(budget), idempotent_(idempotent), limit_(limit) {}

  unsigned attempt() const { return attempt_; }
  bool last() const { return !policy_.active() || attempt_ >= policy_.attempts; }
  // Whether `outcome` gives way to another try: a condition matches, tries
  // remain, the request body can be sent again (`body_replayable`: none,
  // untouched, or kept whole) and the budget allows one more. When only
  // the budget said no, budget_exhausted() is set; when only the body,
  // body_too_large().
  bool hold(const Outcome& outcome, bool body_replayable, Clock::time_point now);
  // A retry is in flight from hold() until the next attempt ends: it holds
  // a place under the limit meanwhile. When only the limit said no,
  // retry_overflow() is set.
  // hold() for an answer: a response head's status and `fields` (either
  // codec's: http::FieldList, http::http1::Fields), read only when another
  // try is possible; then held_outcome() is the answer. Its retry-after
  // only times the wait before the retry, so it is read once one is due.
  template <class Fields>
  bool hold_answer(unsigned status, const Fields& fields, bool grpc, bool body_replayable,
                   Clock::time_point now) {
    if (last()) return false;
    const auto grpc_status = grpc ? fields.get("grpc-status") : std::nullopt;
    if (!hold(answer(status, std::nullopt, grpc_status), body_replayable, now)) return false;
    if (auto after = fields.get("retry-after")) held_.retry_after = parse_retry_after(*after);
    return true;
  }
  // After hold(): takes the retry from the budget and moves on; returns the
  // wait before the next attempt.
  milliseconds next(Clock::time_point now, std::uint64_t random);
  // Why the last held outcome was retried (the metric's reason label).
  const std::string& reason() const { return reason_; }
  // The step after an attempt that ended as `end` (every HTTP version pair
  // asks this one question between attempts); a retry takes its budget and
  // its backoff (drawn from `random`) at once.
  Step after(const AttemptEnd& end, bool body_replayable, Clock::time_point now,
             FastRandom& random);
  // The outcome hold() last held back.
  const Outcome& held_outcome() const { return held_; }
  bool budget_exhausted() const { return budget_exhausted_; }
  bool body_too_large() const { return body_too_large_; }
  bool retry_overflow() const { return retry_overflow_; }

 private:
  const router::RetryPolicy& policy_;
  Budget& budget_;
  bool idempotent_;
  unsigned attempt_ = 1;
  std::string reason_;
  Outcome held_;
  bool budget_exhausted_ = false;
  bool body_too_large_ = false;
  RetryLimit limit_;
  circuit_breaker::Ticket retry_ticket_;
  bool retry_overflow_ = false;
};

}  // namespace weft::proxy::layers::retry
