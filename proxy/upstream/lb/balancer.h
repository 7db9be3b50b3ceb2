// Picks the endpoint of each request to a cluster, per worker, by the
// cluster's algorithm (TrafficPolicy loadBalancer.type):
//
//   kRoundRobin    smooth weighted round robin (round_robin.h)
//   kRandom        a weighted random draw
//   kLeastRequest  the power of two choices: of two endpoints drawn by
//                  weight, the one with fewer requests in flight per weight
//                  (the first drawn on a tie, so idle endpoints share by
//                  weight and busy ones hold in-flight requests in proportion)
//   kPeakEwma      the same two choices compared by peak-EWMA latency times
//                  (requests in flight + 1) over weight (peak_ewma.h): the
//                  default
//   kRingHash,     the request's hash looked up in the cluster's table
//   kMaglev        (hash_table.h); an ejected endpoint's keys hash again, so
//                  only they move; a request without a hash is drawn at
//                  random
//
// Slow start: an endpoint that joined less than `slow_start` ago is drawn
// with a share of its weight growing linearly from 10% to 100% over the
// window (a draw of it is kept with that probability, else drawn again).
// Ejected endpoints (outlier detection) are not picked while another is
// left. Below the panic threshold (fewer than that percent of endpoints
// healthy) every endpoint is picked, ejected or not: the load of the
// ejected ones would overload the few left, as Envoy's panic mode reasons.
// Picking allocates nothing; the state is this worker's.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "common/random.h"
#include "proxy/upstream/lb/endpoint_load.h"
#include "proxy/upstream/lb/hash_table.h"
#include "proxy/upstream/lb/peak_ewma.h"
#include "proxy/upstream/lb/policy.h"
#include "proxy/upstream/lb/round_robin.h"
#include "proxy/upstream/outlier/detector.h"

namespace weft::proxy::upstream::lb {

// The share of its weight an endpoint that joined at `joined` gets at `now`.
double slow_start_share(Clock::time_point joined, Clock::time_point now, Clock::duration window);

// One request's hold on the endpoint it went to: counted in flight from the
// pick until the lease ends. With PeakEWMA, answered() gives the estimate
// the round trip from the pick to the response head (or the failure).
class Lease {
 public:
  Lease() = default;
  Lease(EndpointLoad& load, const PeakEwmaSettings* timing, Clock::time_point started);
  Lease(Lease&& other) noexcept;
  Lease& operator=(Lease&& other) noexcept;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease() { release(); }

  // `failed`: a 5xx or 429 head, or no head at all (refused, reset, timed
  // out). Once per lease; `at`: when the head or failure came.
  void answered(bool failed, Clock::time_point at);

 private:
  void release();

  EndpointLoad* load_ = nullptr;
  const PeakEwmaSettings* timing_ = nullptr;  // null: not PeakEWMA, or answered already
  Clock::time_point started_{};
};

// Whether a cluster with `healthy` of its `total` endpoints healthy is in
// panic: fewer than `threshold` percent of them (0: never).
inline bool in_panic(std::size_t healthy, std::size_t total, std::uint32_t threshold) {
  return std::uint64_t{healthy} * 100 < std::uint64_t{total} * threshold;
}

// How many of a cluster's endpoints may take requests, as a worker last
// counted them.
struct Availability {
  std::size_t healthy = 0;  // neither ejected nor failing a health check
  bool panic = false;       // in_panic(): every endpoint is picked
};

// Whether an attempt's end counts against its endpoint: a 5xx or 429
// status, or a failure before any head (status 0).
inline bool failed_answer(unsigned status) { return status == 0 || status >= 500 || status == 429; }

class Balancer {
 public:
  // `loads` and `health` are indexed like `weights`: the cluster's
  // endpoints. `health` empty: outlier detection is off.
  Balancer(Policy policy, std::vector<std::uint32_t> weights,
           std::vector<std::shared_ptr<EndpointLoad>> loads, std::uint64_t seed,
           std::vector<const outlier::EndpointHealth*> health = {},
           std::shared_ptr<const HashTable> table = nullptr);

  // The endpoint for the next request: by `hash` with consistent hashing.
  // Requires at least one endpoint.
  std::size_t pick(Clock::time_point now, std::optional<std::uint64_t> hash = std::nullopt);
  // The endpoints healthy at `now`, recounted at most every kRecount: a
  // count is O(endpoints), a request's look at it O(1).
  const Availability& availability(Clock::time_point now) {
    if (now >= recount_at_) recount(now);
    return availability_;
  }
  static constexpr Clock::duration kRecount = std::chrono::milliseconds(50);
  // Counts again at the next look: this worker just ejected an endpoint.
  void recount_soon() {
    if (!health_.empty()) recount_at_ = {};
  }
  // Holds `endpoint` for one request from now (the clock is read only for
  // PeakEWMA, which times the round trip).
  Lease lease(std::size_t endpoint) {
    const bool timed = policy_.algorithm == Algorithm::kPeakEwma;
    return lease_at(endpoint, timed ? Clock::now() : Clock::time_point{});
  }
  // The same, from `started` (a test's clock).
  Lease lease_at(std::size_t endpoint, Clock::time_point started) {
    const bool timed = policy_.algorithm == Algorithm::kPeakEwma;
    return Lease(*loads_[endpoint], timed ? &ewma_ : nullptr, started);
  }
  const EndpointLoad& load(std::size_t endpoint) const { return *loads_[endpoint]; }
  // Neither ejected nor failing its health check at `now` (always, without
  // outlier detection and health checks): read live, not recounted.
  bool healthy(std::size_t endpoint, Clock::time_point now) const {
    return !ejected(endpoint, now);
  }
  // PeakEWMA's latency estimate of `endpoint` at `now` in nanoseconds; 0
  // with another algorithm, or before the endpoint's first answer.
  double latency_estimate(std::size_t endpoint, Clock::time_point now) const {
    const auto& load = *loads_[endpoint];
    if (policy_.algorithm != Algorithm::kPeakEwma || load.rtt_ns == 0) return 0;
    return rtt_estimate(load, now, ewma_);
  }
  // For the next view of the cluster, which shares it.
  std::shared_ptr<EndpointLoad> shared_load(std::size_t endpoint) const { return loads_[endpoint]; }
  Algorithm algorithm() const { return policy_.algorithm; }
  std::size_t size() const { return weights_.size(); }

 private:
  // One endpoint drawn in proportion to its weight (slow start applied),
  // not ejected unless all are.
  std::size_t draw(Clock::time_point now);
  std::size_t draw_weighted(Clock::time_point now);
  // Ejected by outlier detection, or failing its active health check.
  bool ejected(std::size_t endpoint, Clock::time_point now) const {
    return !health_.empty() && !health_[endpoint]->healthy(now);
  }
  void recount(Clock::time_point now);
  std::size_t draw_by_weight();
  // The table's endpoint for `hash`, or for a rehash of it while that one
  // is ejected; none when every try lands on an ejected endpoint.
  std::optional<std::size_t> lookup(std::uint64_t hash, Clock::time_point now);
  // Of `a` and `b`, the one to send to.
  std::size_t better(std::size_t a, std::size_t b, Clock::time_point now) const;

  Policy policy_;
  PeakEwmaSettings ewma_;
  std::vector<std::uint32_t> weights_;
  // Running sums of the weights for a weighted draw; empty when all are equal.
  std::vector<std::uint64_t> cumulative_;
  std::vector<std::shared_ptr<EndpointLoad>> loads_;
  std::vector<const outlier::EndpointHealth*> health_;
  std::shared_ptr<const HashTable> table_;  // shared by every worker
  RoundRobin round_robin_;                  // for unequal weights
  std::size_t next_ = 0;                    // round robin over equal weights: the last turn
  FastRandom random_;
  Clock::time_point slow_start_until_{};  // after this no endpoint is in its window
  Availability availability_;
  // The next recount; the end of time without outlier detection, where
  // every endpoint is always healthy.
  Clock::time_point recount_at_{};
};

}  // namespace weft::proxy::upstream::lb
