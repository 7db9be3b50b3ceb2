// The proxy's Prometheus metrics (prefix mesh_). Label sets are resolved to
// handles once, when a listener or cluster is set up, so the request path
// only increments atomics: no label formatting or map lookups per request.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/layers/circuit_breaker.h"
#include "proxy/metrics/request_metrics.h"
#include "proxy/upstream/outlier/detector.h"

namespace weft::proxy::metrics {

// Why a configuration stream ended (the proxy then reconnects).
inline constexpr std::array<std::string_view, 9> kDiscoveryReconnectCauses = {
    "resolve_failed", "connect_failed", "goaway",         "stream_closed",  "ping_timeout",
    "read_error",     "write_error",    "protocol_error", "unauthenticated"};

// How a lingering close ended: the client closed, the time limit cut it
// short, or the socket failed (a reset, a drain closing it).
inline constexpr std::array<std::string_view, 3> kLingeringCloseEnds = {"client_closed",
                                                                        "time_limit", "error"};

// What became of a sampled request's span: sent to the collector, dropped
// because its worker's buffer was full (the exporter falls behind), or
// dropped with a batch the collector did not take.
inline constexpr std::array<std::string_view, 3> kTraceSpanOutcomes = {
    "exported", "dropped_buffer_full", "dropped_export_failed"};
inline constexpr std::array<std::string_view, 3> kAccessLogLineOutcomes = {
    "written", "dropped_queue_full", "dropped_write_failed"};

// Per listener.
struct ListenerStats {
  std::array<prometheus::Counter*, 5> responses{};  // by status class 1xx..5xx
  prometheus::Histogram* duration = nullptr;        // seconds, request start to response end
  prometheus::Counter* connections = nullptr;       // accepted
  prometheus::Gauge* active_connections = nullptr;
  prometheus::Counter* bytes_received = nullptr;  // TCP proxy: downstream -> upstream
  prometheus::Counter* bytes_sent = nullptr;      // TCP proxy: upstream -> downstream
  prometheus::Counter* passthrough = nullptr;     // capture: relayed to the original destination
  prometheus::Counter* tls_handshake_failures = nullptr;  // downstream TLS
  // Capture listener failures: [0] no original destination, [1] dialled directly.
  std::array<prometheus::Counter*, 2> capture_errors{};
  // Sniffing results: http1, http2, tls, opaque.
  std::array<prometheus::Counter*, 4> sniffed{};
  // Sniffing that ran out of sniff_timeout (also counted as opaque above).
  prometheus::Counter* sniff_timeouts = nullptr;
  // Connections the peer ended (FIN or reset) before sending a byte: TCP
  // health checkers, port scanners, clients that gave up.
  prometheus::Counter* closed_before_data = nullptr;
  // Connections closed as they were accepted: [0] past the listener's
  // max_connections, [1] past the proxy's --max-connections.
  std::array<prometheus::Counter*, 2> refused{};
  // Requests answered, by protocol: [0] HTTP/1.x, [1] HTTP/2.
  std::array<prometheus::Counter*, 2> requests_by_protocol{};
  // gRPC calls answered, by grpc-status code (0..16; others count as UNKNOWN).
  std::array<prometheus::Counter*, 17> grpc_statuses{};

  void count_response(unsigned status) const;
  void count_sniffed(std::string_view protocol) const;
};

// Per cluster.
struct ClusterStats {
  prometheus::Counter* requests = nullptr;
  prometheus::Counter* connect_failures = nullptr;
  prometheus::Counter* connect_timeouts = nullptr;
  prometheus::Counter* tls_failures = nullptr;  // upstream TLS handshakes that failed
  prometheus::Counter* connections_opened = nullptr;
  prometheus::Counter* connections_reused = nullptr;
  // Idle pooled connections closed: the pool was full, past the idle
  // timeout, closed by the upstream.
  prometheus::Counter* idle_closed_pool_full = nullptr;
  prometheus::Counter* idle_closed_timeout = nullptr;
  prometheus::Counter* idle_closed_by_peer = nullptr;
  // Retries refused because the cluster's retry budget was spent.
  prometheus::Counter* retry_budget_exhausted = nullptr;
  // Retries not made because the request body was over the replay limit.
  prometheus::Counter* retry_body_too_large = nullptr;
  // Retries, by the reason the attempt before failed ("status_503",
  // "upstream_reset", ...): looked up when a retry happens, which is rare.
  prometheus::Family<prometheus::Counter>* retries = nullptr;
  // Requests, retries and connections in flight and requests pending over
  // all workers (the circuit breaker's counts, shown as
  // mesh_upstream_requests_active, ..._retries_active,
  // ..._connections_active, ..._requests_pending), and what their limits
  // refused.
  layers::circuit_breaker::Gates* gates = nullptr;
  prometheus::Counter* request_overflows = nullptr;
  prometheus::Counter* retry_overflows = nullptr;
  prometheus::Counter* pending_overflows = nullptr;     // past maxPendingRequests
  prometheus::Counter* connection_overflows = nullptr;  // TCP connections past maxConnections
  // Requests that waited for a place under maxConnections.
  prometheus::Counter* connection_waits = nullptr;
  // Endpoints ejected by outlier detection, by reason (outlier::Reason).
  std::array<prometheus::Counter*, 5> ejections{};
  upstream::outlier::Sweep* sweep = nullptr;  // when success rates are next judged
  // Requests sent while too few endpoints were healthy, to all of them.
  prometheus::Counter* panics = nullptr;
  // Requests that went to a backup Service, by backup: looked up when one
  // does, which is rare.
  prometheus::Family<prometheus::Counter>* failovers = nullptr;
  // Requests by the locality tier they went to (lb::Tier); set only for a
  // cluster whose endpoints span tiers (Metrics::by_locality).
  std::array<prometheus::Counter*, 3> locality{};
  std::string name;

  prometheus::Counter& retry(const std::string& reason) const {
    return retries->Add({{"cluster", name}, {"reason", reason}});
  }
  prometheus::Counter& failover(const std::string& to) const {
    return failovers->Add({{"cluster", name}, {"to", to}});
  }
};

class Metrics {
 public:
  Metrics();

  ListenerStats listener(const std::string& name);
  ClusterStats cluster(const std::string& name);
  // Active health checks' results for a cluster (health/checker.h).
  struct HealthCheckStats {
    prometheus::Counter* passed = nullptr;
    prometheus::Counter* failed = nullptr;
  };
  HealthCheckStats health_checks(const std::string& cluster);
  // Fills `stats.locality` (mesh_upstream_locality_requests_total by tier).
  void by_locality(ClusterStats& stats);
  // The proxy-wide health (outlier detection) of one endpoint of a cluster,
  // the same object for every worker and every configuration that lists
  // the address; mesh_upstream_endpoints_ejected counts the ejected ones.
  std::shared_ptr<upstream::outlier::EndpointHealth> endpoint_health(const std::string& cluster,
                                                                     const std::string& address);
  // Downstream requests refused by the HTTP/1 parser, by reason.
  prometheus::Counter& parse_rejection(std::string_view reason);
  // Responses the proxy generated itself (x-weft-error), by reason.
  prometheus::Counter& local_reply(std::string_view reason);
  // Both resolve the known reasons' counters once, at construction: looking
  // one up is a short scan, not a prometheus-cpp Family::Add (a mutex and a
  // label map) on the request path.
  // Configuration reloads, applied or rejected.
  prometheus::Counter& config_reload(bool applied);
  // Drains started: at most one in a proxy's life, scraped while it drains.
  prometheus::Counter& drain_started();
  // Scrapes of the application's metrics for merging, by result (ok, failed).
  prometheus::Counter& app_metrics_scrape(bool ok);
  // Sampled requests' spans by outcome (kTraceSpanOutcomes), and exports
  // to the collector by result (ok, failed).
  prometheus::Counter& trace_spans(std::string_view outcome);
  prometheus::Counter& trace_export(bool ok);
  // Access log lines by outcome (kAccessLogLineOutcomes), the bytes
  // waiting for the writer, and files that could not be opened.
  prometheus::Counter& access_log_lines(std::string_view outcome);
  prometheus::Gauge& access_log_queued_bytes() { return access_log_queued_.Add({}); }
  prometheus::Counter& access_log_open_failures() { return access_log_open_failures_.Add({}); }
  // Requests published to meshctl tap (published), and those a watcher was
  // too slow to see (missed).
  prometheus::Counter& tap_requests(std::string_view outcome) {
    return tap_requests_.Add({{"outcome", std::string(outcome)}});
  }
  // Control-plane stream events: connected, connect_failed, ack, nack.
  prometheus::Counter& discovery(std::string_view event);
  // Configuration streams that ended, by cause (kDiscoveryReconnectCauses).
  prometheus::Counter& discovery_reconnect(std::string_view cause);
  // Mutual TLS handshakes with peers' sidecars, by direction (inbound,
  // outbound) and result (ok, or why not: no_client_certificate,
  // untrusted_certificate, expired_certificate, wrong_identity, bad_identity,
  // no_identity, timeout, failed).
  prometheus::Counter& tls_handshake(std::string_view direction, std::string_view result) {
    return tls_handshakes_.Add(
        {{"direction", std::string(direction)}, {"result", std::string(result)}});
  }
  // Plaintext connections to inbound listeners, by action (accepted under
  // PERMISSIVE, refused under STRICT) and source address: who still sends
  // plaintext. The first kMaxPlaintextSources sources get a series each,
  // later ones share source="other".
  static constexpr std::size_t kMaxPlaintextSources = 100;
  prometheus::Counter& inbound_plaintext(std::string_view action, const std::string& source);
  // Requests and opaque connections an AuthorizationPolicy denied, by the
  // policy ("namespace/name"): as many series as the control plane sends
  // policies.
  prometheus::Counter& authz_denied(std::string_view policy) {
    return authz_denied_.Add({{"policy", std::string(policy)}});
  }
  // HTTP/2 streams the proxy reset for a protocol violation or a limit,
  // and connections it ended (GOAWAY), by reason.
  prometheus::Counter& http2_stream_error(std::string_view reason);
  prometheus::Counter& http2_connection_error(std::string_view reason);
  // HTTP/1 connections closed with request bytes unread, after draining what
  // the client still sent, by how the draining ended (kLingeringCloseEnds).
  prometheus::Counter& lingering_close(std::string_view end);

  // Workload-labelled request metrics (request_metrics.h).
  RequestMetrics& requests() { return requests_; }

  // For metrics kept beside these (proxy/identity/).
  prometheus::Registry& registry() { return *registry_; }

  // Prometheus text exposition format. Both read the gates' counts into
  // their gauges first.
  std::string prometheus_text() const;
  // One "name{labels} value" line per series, for /stats.
  std::string stats_text() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& responses_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Counter>& connections_;
  prometheus::Family<prometheus::Gauge>& active_connections_;
  prometheus::Family<prometheus::Counter>& tcp_bytes_;
  prometheus::Family<prometheus::Counter>& upstream_requests_;
  prometheus::Family<prometheus::Counter>& connect_failures_;
  prometheus::Family<prometheus::Counter>& upstream_connections_;
  prometheus::Family<prometheus::Counter>& upstream_idle_closed_;
  prometheus::Family<prometheus::Counter>& upstream_retries_;
  prometheus::Family<prometheus::Counter>& retry_budget_exhausted_;
  prometheus::Family<prometheus::Counter>& retry_body_too_large_;
  prometheus::Family<prometheus::Counter>& overflows_;
  prometheus::Family<prometheus::Gauge>& requests_active_;
  prometheus::Family<prometheus::Gauge>& retries_active_;
  prometheus::Family<prometheus::Gauge>& connections_active_;
  prometheus::Family<prometheus::Gauge>& requests_pending_;
  prometheus::Family<prometheus::Counter>& connection_waits_;
  prometheus::Family<prometheus::Counter>& ejections_;
  prometheus::Family<prometheus::Gauge>& endpoints_ejected_;
  prometheus::Family<prometheus::Counter>& health_checks_;
  prometheus::Family<prometheus::Gauge>& endpoints_failing_check_;
  prometheus::Family<prometheus::Counter>& panics_;
  prometheus::Family<prometheus::Counter>& failovers_;
  prometheus::Family<prometheus::Counter>& locality_requests_;
  prometheus::Family<prometheus::Counter>& parse_rejections_;
  prometheus::Family<prometheus::Counter>& local_replies_;
  prometheus::Family<prometheus::Counter>& passthrough_;
  prometheus::Family<prometheus::Counter>& capture_errors_;
  prometheus::Family<prometheus::Counter>& sniffed_;
  prometheus::Family<prometheus::Counter>& sniff_timeouts_;
  prometheus::Family<prometheus::Counter>& closed_before_data_;
  prometheus::Family<prometheus::Counter>& refused_;
  prometheus::Family<prometheus::Counter>& tls_handshake_failures_;
  prometheus::Family<prometheus::Counter>& config_reloads_;
  prometheus::Family<prometheus::Counter>& drains_;
  prometheus::Family<prometheus::Counter>& app_metrics_scrapes_;
  prometheus::Family<prometheus::Counter>& discovery_events_;
  prometheus::Family<prometheus::Counter>& discovery_reconnects_;
  prometheus::Family<prometheus::Counter>& requests_by_protocol_;
  prometheus::Family<prometheus::Counter>& grpc_statuses_;
  prometheus::Family<prometheus::Counter>& http2_stream_errors_;
  prometheus::Family<prometheus::Counter>& http2_connection_errors_;
  prometheus::Family<prometheus::Counter>& trace_spans_;
  prometheus::Family<prometheus::Counter>& trace_exports_;
  prometheus::Family<prometheus::Counter>& access_log_lines_;
  prometheus::Family<prometheus::Gauge>& access_log_queued_;
  prometheus::Family<prometheus::Counter>& access_log_open_failures_;
  prometheus::Family<prometheus::Counter>& tap_requests_;
  prometheus::Family<prometheus::Counter>& lingering_closes_;
  prometheus::Family<prometheus::Counter>& tls_handshakes_;
  prometheus::Family<prometheus::Counter>& inbound_plaintext_;
  prometheus::Family<prometheus::Counter>& authz_denied_;
  std::mutex plaintext_sources_mutex_;  // connections from every worker; not per request
  std::set<std::string> plaintext_sources_;

  using ByReason = std::vector<std::pair<std::string_view, prometheus::Counter*>>;
  static prometheus::Counter& find(ByReason& known, prometheus::Family<prometheus::Counter>& family,
                                   std::string_view reason);
  ByReason parse_rejection_counters_;
  ByReason local_reply_counters_;
  ByReason http2_stream_error_counters_;
  ByReason http2_connection_error_counters_;

  void read_gates() const;
  std::vector<prometheus::MetricFamily> collect() const;
  RequestMetrics requests_;
  // What the workers share of a cluster, by name, for the proxy's life.
  struct ClusterGates {
    layers::circuit_breaker::Gates gates;
    prometheus::Gauge* requests = nullptr;
    prometheus::Gauge* retries = nullptr;
    prometheus::Gauge* connections = nullptr;
    prometheus::Gauge* pending = nullptr;
    prometheus::Gauge* ejected = nullptr;
    prometheus::Gauge* failing_check = nullptr;
    std::map<std::string, std::shared_ptr<upstream::outlier::EndpointHealth>> health;
    upstream::outlier::Sweep sweep;
  };
  ClusterGates& shared(const std::string& name);  // with gates_mutex_ held
  // Workers build their views of a push concurrently; a scrape reads it.
  // Never on the request path, which holds ClusterStats::gates.
  mutable std::mutex gates_mutex_;
  std::map<std::string, std::unique_ptr<ClusterGates>> gates_;
};

}  // namespace weft::proxy::metrics
