// Outlier detection: an endpoint that fails several times in a row is
// ejected (the balancer does not pick it) for a while that grows with each
// ejection, then returns; one that comes back and succeeds stays.
//
// The state is the proxy's, not a worker's (an endpoint failing on one
// worker fails on all): one EndpointHealth per cluster name and endpoint
// address, kept across configuration pushes that keep the endpoint, its
// counts atomics written by whichever worker saw the attempt. Consecutive
// counts across workers are approximate by a request or two, as Envoy's
// are. The decisions (classify, advance, may_eject, ejection_time) are
// pure and table-tested.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "proxy/http/failure.h"
#include "proxy/upstream/outlier/policy.h"

namespace weft::proxy::upstream::outlier {

using Clock = std::chrono::steady_clock;

// What one attempt's end says of its endpoint.
enum class Result : std::uint8_t {
  kSuccess,             // an answer below 500
  kServerError,         // a 5xx answer other than 502, 503, 504
  kGatewayError,        // 502, 503 or 504
  kLocalOriginFailure,  // no answer: connect failure or timeout, reset, per-try timeout
};

// What an attempt that got `status` (0: no answer) or failed with
// `failure` says of its endpoint; nullopt for failures that are not the
// endpoint's (no endpoint was tried, a limit of the proxy's own).
std::optional<Result> classify(unsigned status, http::Failure failure);

// Consecutive failures of each kind.
struct Streaks {
  std::uint32_t server_errors = 0;  // 5xx, gateway errors included
  std::uint32_t gateway_errors = 0;
  std::uint32_t local_origin = 0;
};

// Why an endpoint is ejected (the metric's reason label).
enum class Reason : std::uint8_t {
  kNone,
  kConsecutive5xx,
  kConsecutiveGatewayErrors,
  kConsecutiveLocalOriginFailures,
  kSuccessRate,
};
const char* reason_label(Reason reason);

// The streaks after `result`, and the threshold it reached, if any.
Reason advance(Streaks& streaks, Result result, const Policy& policy);

// Whether one more of `total` endpoints may be ejected with `ejected`
// already out: within the policy's share, and always the first.
bool may_eject(std::size_t ejected, std::size_t total, std::uint32_t max_percent);

// How long the `nth` ejection (1 for the first) lasts: the base time that
// many times, at most the maximum.
Clock::duration ejection_time(const Policy& policy, std::uint32_t nth);

// The ejections that still count for the next one's length: one fewer for
// each interval the endpoint served since it returned.
std::uint32_t remembered_ejections(std::uint32_t ejections, Clock::duration back_for,
                                   const Policy& policy);

// One endpoint's requests in a success-rate interval.
struct RateSample {
  std::uint64_t requests = 0;
  std::uint64_t successes = 0;
};

// Success-rate ejection (Envoy's): of the endpoints with at least
// `request_volume` requests in the interval, when there are at least
// `minimum_hosts` of them, those whose success rate is below the mean by
// more than `stdev_factor` population standard deviations. Indexes into
// `samples`, worst first.
std::vector<std::size_t> success_rate_outliers(std::span<const RateSample> samples,
                                               const Policy::SuccessRate& policy);

// When a cluster's next success-rate sweep is due, shared by every worker:
// the one that first sees it due does it.
class Sweep {
 public:
  // True for one caller per interval.
  bool claim(Clock::time_point now, Clock::duration interval) {
    auto due = due_.load(std::memory_order_relaxed);
    if (now.time_since_epoch().count() < due) return false;
    return due_.compare_exchange_strong(due, (now + interval).time_since_epoch().count(),
                                        std::memory_order_relaxed);
  }

 private:
  std::atomic<Clock::rep> due_{0};  // the first answer starts the first interval
};

// One endpoint's health, shared by every worker.
class EndpointHealth {
 public:
  bool ejected(Clock::time_point now) const { return now < ejected_until(); }
  // Failing its active health check (health/checker.h).
  bool check_failing() const { return check_failing_.load(std::memory_order_relaxed); }
  void set_check_failing(bool failing) { check_failing_.store(failing, std::memory_order_relaxed); }
  // Whether the balancer may pick it: neither ejected nor failing its check.
  bool healthy(Clock::time_point now) const { return !ejected(now) && !check_failing(); }
  Clock::time_point ejected_until() const {
    return Clock::time_point(Clock::duration(ejected_until_.load(std::memory_order_relaxed)));
  }
  std::uint32_t ejections() const { return ejections_.load(std::memory_order_relaxed); }

  // Counts `result`; the threshold it reached (kNone: none). The caller
  // ejects when may_eject() allows.
  Reason record(Result result, const Policy& policy);
  // Out of the balancer's picks until now + ejection_time().
  void eject(const Policy& policy, Clock::time_point now);
  // The requests since the last sweep, and a new interval.
  RateSample take_rate() {
    return {requests_.exchange(0, std::memory_order_relaxed),
            successes_.exchange(0, std::memory_order_relaxed)};
  }

 private:
  std::atomic<std::uint32_t> server_errors_{0}, gateway_errors_{0}, local_origin_{0};
  std::atomic<std::uint32_t> ejections_{0};
  std::atomic<std::uint64_t> requests_{0}, successes_{0};  // this success-rate interval
  std::atomic<bool> check_failing_{false};
  std::atomic<Clock::rep> ejected_until_{0};
};

}  // namespace weft::proxy::upstream::outlier
