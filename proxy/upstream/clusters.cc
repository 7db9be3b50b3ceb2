#include "proxy/upstream/clusters.h"

#include <map>

#include "proxy/upstream/http2/pool.h"

namespace weft::proxy::upstream {

Target target_for(const router::Forward& forward, router::Splits& splits, Clusters& clusters) {
  const auto chosen = forward.choose(splits);
  if (chosen == router::kUnresolvedBackend) return {nullptr, http::Failure::kBackendNotFound};
  auto& cluster = clusters[chosen];
  if (cluster.config.endpoints.empty()) return {&cluster, http::Failure::kNoHealthyUpstream};
  return {&cluster, http::Failure::kNone};
}

std::string ClusterState::endpoint_text(std::size_t endpoint) const {
  const auto& address = config.endpoints[endpoint].address;
  return address.address().to_string() + ":" + std::to_string(address.port());
}

void ClusterState::count(const layers::retry::Step& step, const layers::retry::Tries& tries) const {
  if (step.action == layers::retry::Step::Action::kRetry) {
    stats.retry(tries.reason()).Increment();
    return;
  }
  if (tries.budget_exhausted()) stats.retry_budget_exhausted->Increment();
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
    pool.carry_over(i, *old.pool, found->second);
    h2_pool.carry_over(i, *old.h2_pool, found->second);
  }
}

}  // namespace

Clusters make_clusters(const config::Snapshot& snapshot, metrics::Metrics& metrics,
                       const Clusters* previous) {
  static const Clusters kNone;
  const Clusters& before = previous != nullptr ? *previous : kNone;
  Clusters clusters;
  clusters.reserve(snapshot.clusters.size());
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
    for (const auto& old : before) {
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
    clusters.push_back({cluster, lb::RoundRobin(std::move(weights)), std::move(pool),
                        std::move(h2_pool), stats, std::move(budget)});
  }
  return clusters;
}

}  // namespace weft::proxy::upstream
