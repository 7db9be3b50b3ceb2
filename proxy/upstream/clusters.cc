#include "proxy/upstream/clusters.h"

namespace weft::proxy::upstream {

Clusters make_clusters(const config::Snapshot& snapshot, metrics::Metrics& metrics) {
  Clusters clusters;
  clusters.reserve(snapshot.clusters.size());
  for (const auto& cluster : snapshot.clusters) {
    std::vector<std::uint32_t> weights;
    for (const auto& endpoint : cluster.endpoints) weights.push_back(endpoint.weight);
    clusters.push_back(
        {cluster, lb::RoundRobin(std::move(weights)),
         pool::Pool(cluster.endpoints.size(), cluster.max_idle_per_endpoint, cluster.idle_timeout),
         metrics.cluster(cluster.name)});
  }
  return clusters;
}

}  // namespace weft::proxy::upstream
