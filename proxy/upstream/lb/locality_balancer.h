// A cluster's balancer with locality: one Balancer per tier of endpoints
// (the proxy's zone, its region, anywhere; locality.h), a tier drawn per
// request by the tiers' shares, and the cluster's algorithm within it.
// Without tiers (no locality, or every endpoint in one tier) it is the
// cluster's one Balancer and costs a branch.
//
// The tiers' balancers never panic on their own: the whole cluster's does.
// Below the panic threshold over all endpoints, or when no tier has a
// healthy endpoint, requests go to the whole cluster as they would without
// locality. With consistent hashing the tier is drawn by the request's
// hash, so a key stays in its tier while the shares hold, and each tier has
// its own table.
#pragma once

#include <optional>
#include <vector>

#include "proxy/upstream/lb/balancer.h"
#include "proxy/upstream/lb/locality.h"

namespace weft::proxy::upstream::lb {

// An endpoint picked, and the tier it was picked from (none: no tiers, or
// the whole cluster was used).
struct Choice {
  std::size_t endpoint = 0;
  std::optional<Tier> tier;
};

class LocalityBalancer {
 public:
  // The endpoints of one tier: a balancer over them alone, and each one's
  // index in the cluster.
  struct TierSet {
    Tier tier;
    Balancer balancer;
    std::vector<std::size_t> endpoints;
  };

  // `tiers`: the non-empty ones, nearest first; fewer than two is none.
  LocalityBalancer(Balancer all, std::vector<TierSet> tiers, std::uint32_t spillover_threshold,
                   std::uint64_t seed);

  Choice pick(Clock::time_point now, std::optional<std::uint64_t> hash = std::nullopt) {
    if (tiers_.empty()) return {all_.pick(now, hash), std::nullopt};
    return pick_tiered(now, hash);
  }
  const Availability& availability(Clock::time_point now) { return all_.availability(now); }
  void recount_soon();
  Lease lease(std::size_t endpoint) { return all_.lease(endpoint); }
  Lease lease_at(std::size_t endpoint, Clock::time_point started) {
    return all_.lease_at(endpoint, started);
  }
  const EndpointLoad& load(std::size_t endpoint) const { return all_.load(endpoint); }
  double latency_estimate(std::size_t endpoint, Clock::time_point now) const {
    return all_.latency_estimate(endpoint, now);
  }
  std::shared_ptr<EndpointLoad> shared_load(std::size_t endpoint) const {
    return all_.shared_load(endpoint);
  }
  Algorithm algorithm() const { return all_.algorithm(); }
  std::size_t size() const { return all_.size(); }

 private:
  Choice pick_tiered(Clock::time_point now, std::optional<std::uint64_t> hash);
  Choice pick_in_tier(Clock::time_point now, std::optional<std::uint64_t> hash);
  void reweigh(Clock::time_point now);

  Balancer all_;
  std::vector<TierSet> tiers_;
  std::uint32_t spillover_threshold_;
  // Running sums of tiers_' shares, recomputed with the tiers' health.
  std::vector<std::uint32_t> cumulative_;
  Clock::time_point reweigh_at_{};
  FastRandom random_;
};

}  // namespace weft::proxy::upstream::lb
