// One worker's live state for the clusters of one snapshot: the load
// balancer, the connection pools and the retry budget of each cluster.
// Pooled connections and what the balancer knows of each endpoint's load
// outlive their snapshot per endpoint address (make_clusters), so a
// configuration change neither drops warm upstream connections nor forgets
// a slow endpoint.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/config/snapshot.h"
#include "proxy/http/failure.h"
#include "proxy/identity/credentials.h"
#include "proxy/layers/circuit_breaker.h"
#include "proxy/layers/retry.h"
#include "proxy/metrics/metrics.h"
#include "proxy/router/route.h"
#include "proxy/upstream/endpoint_report.h"
#include "proxy/upstream/lb/locality_balancer.h"
#include "proxy/upstream/pool/pool.h"

namespace weft::proxy::upstream {

namespace http2 {
class Pool;
}

struct ClusterState {
  const config::Cluster& config;
  lb::LocalityBalancer balancer;
  // Each endpoint's proxy-wide health when outlier detection or an active
  // health check is on; empty otherwise.
  std::vector<std::shared_ptr<outlier::EndpointHealth>> health;
  std::shared_ptr<pool::Pool> pool;      // shared with the previous view when unchanged
  std::shared_ptr<http2::Pool> h2_pool;  // multiplexed connections, likewise
  metrics::ClusterStats stats;
  // Shared with the previous view while the cluster keeps its name, so a
  // push does not refill a spent budget.
  std::shared_ptr<layers::retry::Budget> retry_budget;
  // Interned for the request metrics (metrics/request_metrics.h): the
  // cluster's Service, and each endpoint's workload (null: unknown).
  const std::string* service = nullptr;
  std::vector<const metrics::Workload*> workloads;
  // This proxy's workload identity, for endpoints with an identity of
  // their own (mutual TLS); null: none, every endpoint is called in plaintext.
  const identity::CurrentCredentials* credentials = nullptr;
  metrics::Metrics* metrics = nullptr;  // mesh_tls_handshakes_total

  // A request about to go upstream: admitted by the circuit breaker, then
  // counted in the cluster's requests and in the retry budget's share of
  // them. In flight while the ticket lives; an empty ticket is a refusal
  // (counted; the caller answers upstream_overflow).
  [[nodiscard]] layers::circuit_breaker::Ticket on_request(
      std::chrono::steady_clock::time_point now) {
    auto ticket = layers::circuit_breaker::enter(stats.gates->requests, config.max_requests);
    if (!ticket) {
      stats.request_overflows->Increment();
      return ticket;
    }
    stats.requests->Increment();
    retry_budget->on_request(now);
    return ticket;
  }
  // The endpoint for an attempt (by `hash` with consistent hashing),
  // counted by its locality tier when the cluster has tiers.
  std::size_t pick(lb::Clock::time_point now, std::optional<std::uint64_t> hash = std::nullopt) {
    const auto choice = balancer.pick(now, hash);
    if (choice.tier) stats.locality[static_cast<std::size_t>(*choice.tier)]->Increment();
    return choice.endpoint;
  }
  // The tries of a request to this cluster under `policy`.
  layers::retry::Tries tries(const router::RetryPolicy& policy, bool idempotent) {
    return {policy, *retry_budget, idempotent, {&stats.gates->retries, config.max_retries}};
  }
  // What an attempt on `endpoint` came to, for the balancer's estimate
  // (through `lease`) and outlier detection: a head's `status`, or
  // `failure` without one. `at`: when it came.
  void answered(std::size_t endpoint, lb::Lease& lease, unsigned status, http::Failure failure,
                lb::Clock::time_point at);
  // Outlier detection's count of one attempt's `result` (none: not the
  // endpoint's doing).
  void record(std::size_t endpoint, std::optional<outlier::Result> result,
              lb::Clock::time_point at);
  // Ejects `endpoint` for `reason` unless it is out already or the
  // cluster's max ejection percent is reached.
  void eject(std::size_t endpoint, outlier::Reason reason, lb::Clock::time_point at);
  // Success-rate ejection over the interval just ended (this worker claimed
  // the cluster's sweep): every worker's answers count.
  void sweep_success_rates(lb::Clock::time_point at);
  // What a TCP connection to `endpoint` came to (tcp_proxy): made
  // (kNone), or `failure`; for the balancer and outlier detection alike.
  void connected(std::size_t endpoint, lb::Lease& lease, http::Failure failure,
                 lb::Clock::time_point at);
  // Keeps an HTTP/1.1 connection to `endpoint` between requests: in this
  // worker's pool, unless requests elsewhere wait for a place under
  // maxConnections that no waiter here would take; then it is closed,
  // freeing its place.
  void keep(std::size_t endpoint, pool::Connection connection);
  // "address:port" of an endpoint, for the access log.
  const std::string& endpoint_text(std::size_t endpoint) const;
  // Counts what the retry layer decided after an attempt: a retry by its
  // reason, else what kept a retryable outcome from being retried (the
  // budget, or a request body too large to send again).
  void count(const layers::retry::Step& step, const layers::retry::Tries& tries) const;
};

// Indexed like Snapshot::clusters.
using Clusters = std::vector<ClusterState>;

// This worker's view of each cluster's endpoints at `now`; the server
// merges every worker's (endpoint_report.h).
std::vector<ClusterReport> report(const Clusters& clusters, lb::Clock::time_point now);

// Where a forwarding route sends one request: the cluster its split picks,
// admitted by that cluster's circuit breaker (in flight while `admitted`
// lives), or why the request cannot go anywhere (`failure`:
// kBackendNotFound for a backend the control plane could not resolve,
// kNoHealthyUpstream for a cluster without endpoints, kUpstreamOverflow past
// its maxRequests; `cluster` is still set then, for the log).
struct Target {
  ClusterState* cluster = nullptr;
  http::Failure failure = http::Failure::kNone;
  layers::circuit_breaker::Ticket admitted;
  // Set when the chosen cluster had no healthy endpoint and `cluster` is
  // its backup (TrafficPolicy failover): the backup's name, which the
  // response carries as x-weft-failover.
  std::string_view failover;
  // With consistent hashing: the request's hash (none without the key),
  // and the Set-Cookie of a hash cookie the proxy made for it.
  std::optional<std::uint64_t> hash;
  std::string set_cookie;
};

// What consistent hashing may read of a request.
struct HashInput {
  const router::RequestView& request;
  std::string_view client_ip;  // the downstream peer's address
  FastRandom& random;          // for a hash cookie the request lacks
};

// The one route step of every downstream codec: the target of `forward`,
// its request counted at `now`. A codec answers a target's failure with
// its local reply and otherwise serves the request while holding the target.
//
// A cluster without a healthy endpoint hands its requests to the first of
// its backups that has one (counted); failing that, below its panic
// threshold it balances over all its endpoints (counted), else the request
// fails with kNoHealthyUpstream. A RingHash or Maglev cluster's request
// is hashed by the cluster's key (layers/hash_key.h).
Target target_for(const router::Forward& forward, router::Splits& splits, Clusters& clusters,
                  std::chrono::steady_clock::time_point now, const HashInput& input);

enum class HttpVersion { kHttp1, kHttp2 };

// The HTTP version a request from a client speaking `downstream` goes to
// `cluster` in: the cluster's protocol, or the client's own for
// same-as-downstream. An Upgrade request (WebSocket) stays on HTTP/1.1,
// which is where Upgrade exists (RFC 9113 §8.6). The one place the choice
// is made, for every downstream codec.
HttpVersion upstream_version(const config::Cluster& cluster, HttpVersion downstream, bool upgrade);

// `previous` (may be null): the state of the snapshot being replaced. A
// cluster keeps its retry budget, and each of its endpoints whose address
// it still lists keeps its load (requests in flight, latency estimate) and
// its pooled connections (keyed by cluster name and endpoint address), so a
// push that changes one endpoint keeps the rest warm. An endpoint new to a
// cluster that existed before joins now (slow start).
// `credentials`: this proxy's workload identity (null: none).
Clusters make_clusters(const config::Snapshot& snapshot, metrics::Metrics& metrics,
                       const Clusters* previous,
                       const identity::CurrentCredentials* credentials = nullptr);

// Whether connections pooled for `a`'s endpoints can serve the same
// addresses in `b`: the same cluster, plain TCP (TLS contexts are rebuilt
// with every snapshot), and the same pool settings and source address.
bool pools_carry_over(const config::Cluster& a, const config::Cluster& b);

}  // namespace weft::proxy::upstream
