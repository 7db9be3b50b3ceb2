#include "proxy/upstream/clusters.h"

#include <map>

#include "proxy/upstream/http2/pool.h"
#include "proxy/worker/coarse_clock.h"

namespace weft::proxy::upstream {

Target target_for(const router::Forward& forward, router::Splits& splits, Clusters& clusters,
                  std::chrono::steady_clock::time_point now, const HashInput& input) {
  const auto chosen = forward.choose(splits);
  if (chosen == router::kUnresolvedBackend) return {nullptr, http::Failure::kBackendNotFound};
  auto* cluster = &clusters[chosen];
  std::string_view failover;
  const auto& health = cluster->balancer.availability(now);
  if (health.healthy == 0) {
    for (const auto& backup : cluster->config.failover) {
      auto& candidate = clusters[backup.cluster];
      if (candidate.balancer.availability(now).healthy == 0) continue;
      cluster->stats.failover(backup.name).Increment();
      cluster = &candidate;
      failover = backup.name;
      break;
    }
    if (failover.empty() && !health.panic) {
      return {cluster, http::Failure::kNoHealthyUpstream};
    }
  }
  if (cluster->balancer.availability(now).panic) cluster->stats.panics->Increment();
  auto admitted = cluster->on_request(now);
  if (!admitted) return {cluster, http::Failure::kUpstreamOverflow};
  Target target{cluster, http::Failure::kNone, std::move(admitted), failover};
  if (lb::is_hashing(cluster->config.load_balancer.algorithm)) {
    auto hashed = layers::hash_key::hash_of(cluster->config.hash_key, input.request,
                                            input.client_ip, input.random());
    target.hash = hashed.hash;
    target.set_cookie = std::move(hashed.set_cookie);
  }
  return target;
}

void ClusterState::answered(std::size_t endpoint, lb::Lease& lease, unsigned status,
                            http::Failure failure, lb::Clock::time_point at) {
  lease.answered(status == 0 || lb::failed_answer(status), at);
  record(endpoint, outlier::classify(status, failure), at);
}

void ClusterState::keep(std::size_t endpoint, pool::Connection connection) {
  if (stats.gates->starved.active() > pool->waiting()) return;  // closed as it goes
  pool->put(endpoint, std::move(connection), worker::coarse_now());
}

void ClusterState::connected(std::size_t endpoint, lb::Lease& lease, http::Failure failure,
                             lb::Clock::time_point at) {
  const bool made = failure == http::Failure::kNone;
  lease.answered(!made, at);
  record(endpoint, made ? outlier::Result::kSuccess : outlier::classify(0, failure), at);
}

void ClusterState::record(std::size_t endpoint, std::optional<outlier::Result> result,
                          lb::Clock::time_point at) {
  if (!result || health.empty() || !config.outlier.enabled()) return;
  const auto reason = health[endpoint]->record(*result, config.outlier);
  if (reason != outlier::Reason::kNone) eject(endpoint, reason, at);
  if (config.outlier.success_rate.enabled && stats.sweep->claim(at, config.outlier.interval)) {
    sweep_success_rates(at);
  }
}

void ClusterState::eject(std::size_t endpoint, outlier::Reason reason, lb::Clock::time_point at) {
  std::size_t ejected = 0;
  for (const auto& h : health) ejected += h->ejected(at) ? 1 : 0;
  if (health[endpoint]->ejected(at) ||
      !outlier::may_eject(ejected, health.size(), config.outlier.max_ejection_percent)) {
    return;
  }
  health[endpoint]->eject(config.outlier, at);
  balancer.recount_soon();
  stats.ejections[static_cast<std::size_t>(reason)]->Increment();
}

void ClusterState::sweep_success_rates(lb::Clock::time_point at) {
  std::vector<outlier::RateSample> samples;
  samples.reserve(health.size());
  for (const auto& h : health) samples.push_back(h->take_rate());
  for (auto endpoint : outlier::success_rate_outliers(samples, config.outlier.success_rate)) {
    eject(endpoint, outlier::Reason::kSuccessRate, at);
  }
}

const std::string& ClusterState::endpoint_text(std::size_t endpoint) const {
  return config.endpoints[endpoint].text;
}

void ClusterState::count(const layers::retry::Step& step, const layers::retry::Tries& tries) const {
  if (step.action == layers::retry::Step::Action::kRetry) {
    stats.retry(tries.reason()).Increment();
    return;
  }
  if (tries.budget_exhausted()) stats.retry_budget_exhausted->Increment();
  if (tries.retry_overflow()) stats.retry_overflows->Increment();
  if (tries.body_too_large()) stats.retry_body_too_large->Increment();
}

HttpVersion upstream_version(const config::Cluster& cluster, HttpVersion downstream, bool upgrade) {
  if (upgrade) return HttpVersion::kHttp1;
  switch (cluster.protocol) {
    case config::UpstreamProtocol::kHttp1:
      return HttpVersion::kHttp1;
    case config::UpstreamProtocol::kHttp2:
      return HttpVersion::kHttp2;
    case config::UpstreamProtocol::kSameAsDownstream:
      return downstream;
  }
  return HttpVersion::kHttp1;
}

bool pools_carry_over(const config::Cluster& a, const config::Cluster& b) {
  return a.name == b.name && a.tls == nullptr && b.tls == nullptr &&
         a.max_idle_per_endpoint == b.max_idle_per_endpoint && a.idle_timeout == b.idle_timeout &&
         a.source_address == b.source_address;
}

namespace {

// The pools of the previous snapshot's `old` share each endpoint that
// `cluster` still lists (by address) with the new ones.
void carry_over(const ClusterState& old, const config::Cluster& cluster, pool::Pool& pool,
                http2::Pool& h2_pool) {
  std::map<config::TcpEndpoint, std::size_t> before;
  for (std::size_t i = 0; i < old.config.endpoints.size(); ++i) {
    before.emplace(old.config.endpoints[i].address, i);
  }
  for (std::size_t i = 0; i < cluster.endpoints.size(); ++i) {
    auto found = before.find(cluster.endpoints[i].address);
    if (found == before.end()) continue;
    // A connection made to another identity at that address is not reused.
    if (old.config.endpoints[found->second].identity != cluster.endpoints[i].identity) continue;
    pool.carry_over(i, *old.pool, found->second);
    h2_pool.carry_over(i, *old.h2_pool, found->second);
  }
}

// Each endpoint's load: the previous view's for an address it listed, else
// a new one that joins at `now` (the epoch when the cluster is new, so the
// endpoints of a first snapshot start at full weight).
std::vector<std::shared_ptr<lb::EndpointLoad>> endpoint_loads(const config::Cluster& cluster,
                                                              const ClusterState* old,
                                                              lb::Clock::time_point now) {
  std::map<config::TcpEndpoint, std::shared_ptr<lb::EndpointLoad>> before;
  if (old != nullptr) {
    for (std::size_t i = 0; i < old->config.endpoints.size(); ++i) {
      before.emplace(old->config.endpoints[i].address, old->balancer.shared_load(i));
    }
  }
  std::vector<std::shared_ptr<lb::EndpointLoad>> loads;
  loads.reserve(cluster.endpoints.size());
  for (const auto& endpoint : cluster.endpoints) {
    auto found = before.find(endpoint.address);
    if (found != before.end()) {
      loads.push_back(found->second);
      continue;
    }
    auto load = std::make_shared<lb::EndpointLoad>();
    if (old != nullptr) load->joined = now;
    loads.push_back(std::move(load));
  }
  return loads;
}

// A tiered cluster's balancer per tier (lb/locality_balancer.h), over
// the same loads and health as the whole cluster's; none when untiered.
// They never panic alone: the whole cluster's balancer does.
std::vector<lb::LocalityBalancer::TierSet> locality_tiers(
    const config::Cluster& cluster, const std::vector<std::shared_ptr<lb::EndpointLoad>>& loads,
    const std::vector<const outlier::EndpointHealth*>& health, FastRandom& seeds) {
  std::vector<lb::LocalityBalancer::TierSet> tiers;
  if (!cluster.locality_spillover) return tiers;
  auto policy = cluster.load_balancer;
  policy.panic_threshold = 0;
  for (std::size_t t = 0; t < lb::kTiers; ++t) {
    const auto tier = static_cast<lb::Tier>(t);
    std::vector<std::size_t> members;
    std::vector<std::uint32_t> weights;
    std::vector<std::shared_ptr<lb::EndpointLoad>> tier_loads;
    std::vector<const outlier::EndpointHealth*> tier_health;
    for (std::size_t i = 0; i < cluster.endpoints.size(); ++i) {
      if (cluster.endpoints[i].tier != tier) continue;
      members.push_back(i);
      weights.push_back(cluster.endpoints[i].weight);
      tier_loads.push_back(loads[i]);
      if (!health.empty()) tier_health.push_back(health[i]);
    }
    if (members.empty()) continue;
    tiers.push_back({tier,
                     lb::Balancer(policy, std::move(weights), std::move(tier_loads), seeds(),
                                  std::move(tier_health), cluster.tier_tables[t]),
                     std::move(members)});
  }
  return tiers;
}

}  // namespace

std::vector<ClusterReport> report(const Clusters& clusters, lb::Clock::time_point now) {
  std::vector<ClusterReport> out;
  out.reserve(clusters.size());
  for (const auto& cluster : clusters) {
    auto& into = out.emplace_back(ClusterReport{.name = cluster.config.name, .endpoints = {}});
    for (std::size_t i = 0; i < cluster.config.endpoints.size(); ++i) {
      EndpointReport endpoint{.address = cluster.endpoint_text(i),
                              .weight = cluster.config.endpoints[i].weight,
                              .in_flight = cluster.balancer.load(i).in_flight,
                              .latency_ms = cluster.balancer.latency_estimate(i, now) / 1e6,
                              .region = cluster.config.endpoints[i].locality.region,
                              .zone = cluster.config.endpoints[i].locality.zone,
                              .tier = {}};
      if (cluster.config.locality_spillover) {
        endpoint.tier = lb::tier_label(cluster.config.endpoints[i].tier);
      }
      if (!cluster.health.empty()) {
        const auto& health = *cluster.health[i];
        endpoint.ejections = health.ejections();
        if (health.ejected(now)) {
          endpoint.health = EndpointHealthState::kEjected;
          endpoint.ejected_for =
              std::chrono::ceil<std::chrono::milliseconds>(health.ejected_until() - now);
        } else if (health.check_failing()) {
          endpoint.health = EndpointHealthState::kFailingCheck;
        }
      }
      into.endpoints.push_back(std::move(endpoint));
    }
    for (const auto& endpoint : cluster.config.not_ready) {
      into.endpoints.push_back({.address = config::address_text(endpoint.address),
                                .weight = endpoint.weight,
                                .health = EndpointHealthState::kNotReady,
                                .ejected_for = {},
                                .ejections = 0,
                                .in_flight = 0,
                                .latency_ms = 0,
                                .region = endpoint.locality.region,
                                .zone = endpoint.locality.zone,
                                .tier = {}});
    }
  }
  return out;
}

Clusters make_clusters(const config::Snapshot& snapshot, metrics::Metrics& metrics,
                       const Clusters* previous, const identity::CurrentCredentials* credentials) {
  static const Clusters kNone;
  const Clusters& before = previous != nullptr ? *previous : kNone;
  Clusters clusters;
  clusters.reserve(snapshot.clusters.size());
  const auto now = lb::Clock::now();
  FastRandom seeds;
  for (const auto& cluster : snapshot.clusters) {
    std::vector<std::uint32_t> weights;
    weights.reserve(cluster.endpoints.size());
    for (const auto& endpoint : cluster.endpoints) weights.push_back(endpoint.weight);
    auto stats = metrics.cluster(cluster.name);
    pool::Discards discards{.pool_full = stats.idle_closed_pool_full,
                            .idle_timeout = stats.idle_closed_timeout,
                            .peer_closed = stats.idle_closed_by_peer};
    auto pool = std::make_shared<pool::Pool>(
        cluster.endpoints.size(), cluster.max_idle_per_endpoint, cluster.idle_timeout, discards);
    auto h2_pool = std::make_shared<http2::Pool>(cluster.endpoints.size(), cluster.idle_timeout);
    std::shared_ptr<layers::retry::Budget> budget;
    const ClusterState* same_name = nullptr;
    for (const auto& old : before) {
      if (old.config.name == cluster.name) same_name = &old;
      if (pools_carry_over(old.config, cluster)) carry_over(old, cluster, *pool, *h2_pool);
      if (old.config.name == cluster.name &&
          old.config.retry_budget_percent == cluster.retry_budget_percent &&
          old.config.retry_budget_min_per_second == cluster.retry_budget_min_per_second) {
        budget = old.retry_budget;
      }
    }
    if (!budget) {
      budget = std::make_shared<layers::retry::Budget>(cluster.retry_budget_percent,
                                                       cluster.retry_budget_min_per_second);
    }
    std::vector<std::shared_ptr<outlier::EndpointHealth>> health;
    std::vector<const outlier::EndpointHealth*> watched;
    if (cluster.outlier.enabled() || cluster.health_check) {
      for (const auto& endpoint : cluster.endpoints) {
        health.push_back(
            metrics.endpoint_health(cluster.name, config::address_text(endpoint.address)));
        watched.push_back(health.back().get());
      }
    }
    auto loads = endpoint_loads(cluster, same_name, now);
    auto tiers = locality_tiers(cluster, loads, watched, seeds);
    if (!tiers.empty()) metrics.by_locality(stats);
    lb::Balancer all(cluster.load_balancer, std::move(weights), std::move(loads), seeds(),
                     std::move(watched), cluster.hash_table);
    lb::LocalityBalancer balancer(std::move(all), std::move(tiers),
                                  cluster.locality_spillover.value_or(0), seeds());
    clusters.push_back({cluster,
                        std::move(balancer),
                        std::move(health),
                        std::move(pool),
                        std::move(h2_pool),
                        stats,
                        std::move(budget),
                        nullptr,
                        {},
                        credentials,
                        &metrics});
    auto& requests = metrics.requests();
    auto& state = clusters.back();
    if (!cluster.service.empty()) state.service = requests.service(cluster.service);
    state.workloads.reserve(cluster.endpoints.size());
    for (const auto& endpoint : cluster.endpoints) {
      state.workloads.push_back(endpoint.workload ? requests.workload(*endpoint.workload)
                                                  : nullptr);
    }
  }
  return clusters;
}

}  // namespace weft::proxy::upstream
