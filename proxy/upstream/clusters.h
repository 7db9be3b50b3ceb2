// One worker's live state for the clusters of one snapshot: the load
// balancer position and the idle connection pool of each cluster.
#pragma once

#include <vector>

#include "proxy/config/snapshot.h"
#include "proxy/metrics/metrics.h"
#include "proxy/upstream/lb/round_robin.h"
#include "proxy/upstream/pool/pool.h"

namespace weft::proxy::upstream {

struct ClusterState {
  const config::Cluster& config;
  lb::RoundRobin balancer;
  pool::Pool pool;
  metrics::ClusterStats stats;
};

// Indexed like Snapshot::clusters.
using Clusters = std::vector<ClusterState>;

Clusters make_clusters(const config::Snapshot& snapshot, metrics::Metrics& metrics);

}  // namespace weft::proxy::upstream
