// What the connections of one worker share. Lives on that worker's thread
// and is touched only from it, so nothing here needs a lock.
#pragma once

#include <chrono>
#include <memory>
#include <unordered_set>
#include <vector>

#include "common/random.h"
#include "proxy/access_log/sink.h"
#include "proxy/config/snapshot.h"
#include "proxy/identity/credentials.h"
#include "proxy/metrics/metrics.h"
#include "proxy/tap/hub.h"
#include "proxy/tracing/buffer.h"
#include "proxy/upstream/clusters.h"
#include "proxy/worker/buffer_pool.h"

namespace weft::proxy::worker {

// A downstream connection the worker keeps track of, for drain and timeouts.
class TrackedConnection {
 public:
  virtual ~TrackedConnection() = default;
  // Closes the connection now if no request is in flight; otherwise it
  // closes after the current response.
  virtual void close_if_idle() = 0;
  // Ends the wait in progress if its deadline has passed (the worker's sweep).
  virtual void expire_if_due(std::chrono::steady_clock::time_point now) = 0;
};

// The configuration a request runs against: a snapshot and this worker's
// cluster state built from it. Requests keep the view they started with.
struct View {
  std::shared_ptr<const config::Snapshot> snapshot;
  std::shared_ptr<upstream::Clusters> clusters;
  std::shared_ptr<router::Splits> splits;              // indexed like snapshot->split_weights
  std::vector<metrics::ListenerStats> listener_stats;  // indexed like snapshot->listeners
  const metrics::Workload* workload = nullptr;         // interned; null: the snapshot has none
  // The snapshot's access log, else --access-log's; null: none.
  const layers::access_log::Settings* access_log = nullptr;
};

struct WorkerState {
  WorkerState(metrics::Metrics& m, access_log::Sink& sink) : metrics(m), access_lines(&sink) {}

  metrics::Metrics& metrics;
  // This worker's workload-labelled request series.
  metrics::WorkerRequests& requests{metrics.requests().add_worker()};
  std::shared_ptr<const View> view;
  bool draining = false;
  // Access log lines, until the sweep hands them to the writer.
  access_log::LineBuffer access_lines;
  tap::Hub* tap = nullptr;  // null: --tap is off
  // mesh_tap_requests_total{outcome="published"}, looked up once.
  prometheus::Counter* tap_published = nullptr;
  std::unordered_set<TrackedConnection*> connections;
  BufferPool relay_buffers;
  FastRandom rng;             // request ids, retry backoff jitter, trace and span ids
  tracing::SpanBuffer spans;  // sampled requests' spans, until exported
  // The workload identity's credentials (mesh-proxy --ca-address): inbound
  // listeners terminate peers' mutual TLS with them. Null: no identity.
  const identity::CurrentCredentials* credentials = nullptr;
};

}  // namespace weft::proxy::worker
