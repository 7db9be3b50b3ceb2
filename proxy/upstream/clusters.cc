#include "proxy/upstream/clusters.h"

#include "proxy/upstream/http2/pool.h"

namespace weft::proxy::upstream {

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

bool same_endpoints(const config::Cluster& a, const config::Cluster& b) {
  if (a.name != b.name || a.endpoints.size() != b.endpoints.size()) return false;
  // TLS contexts are rebuilt with every snapshot; their connections are not carried over.
  if (a.tls != nullptr || b.tls != nullptr) return false;
  if (a.max_idle_per_endpoint != b.max_idle_per_endpoint || a.idle_timeout != b.idle_timeout) {
    return false;
  }
  for (std::size_t i = 0; i < a.endpoints.size(); ++i) {
    if (a.endpoints[i].address != b.endpoints[i].address) return false;
  }
  return true;
}

Clusters make_clusters(const config::Snapshot& snapshot, metrics::Metrics& metrics,
                       const Clusters* previous) {
  Clusters clusters;
  clusters.reserve(snapshot.clusters.size());
  for (const auto& cluster : snapshot.clusters) {
    std::vector<std::uint32_t> weights;
    weights.reserve(cluster.endpoints.size());
    for (const auto& endpoint : cluster.endpoints) weights.push_back(endpoint.weight);
    std::shared_ptr<pool::Pool> shared;
    std::shared_ptr<http2::Pool> h2_shared;
    std::shared_ptr<layers::retry::Budget> budget;
    if (previous != nullptr) {
      for (const auto& old : *previous) {
        if (same_endpoints(old.config, cluster)) {
          shared = old.pool;
          h2_shared = old.h2_pool;
        }
        if (old.config.name == cluster.name &&
            old.config.retry_budget_percent == cluster.retry_budget_percent &&
            old.config.retry_budget_min_per_second == cluster.retry_budget_min_per_second) {
          budget = old.retry_budget;
        }
      }
    }
    if (!budget) {
      budget = std::make_shared<layers::retry::Budget>(cluster.retry_budget_percent,
                                                       cluster.retry_budget_min_per_second);
    }
    auto stats = metrics.cluster(cluster.name);
    if (!shared) {
      pool::Discards discards{.pool_full = stats.idle_closed_pool_full,
                              .idle_timeout = stats.idle_closed_timeout,
                              .peer_closed = stats.idle_closed_by_peer};
      shared = std::make_shared<pool::Pool>(cluster.endpoints.size(), cluster.max_idle_per_endpoint,
                                            cluster.idle_timeout, discards);
      h2_shared = std::make_shared<http2::Pool>(cluster.endpoints.size(), cluster.idle_timeout);
    }
    clusters.push_back({cluster, lb::RoundRobin(std::move(weights)), std::move(shared),
                        std::move(h2_shared), stats, std::move(budget)});
  }
  return clusters;
}

}  // namespace weft::proxy::upstream
