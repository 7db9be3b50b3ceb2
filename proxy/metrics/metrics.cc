#include "proxy/metrics/metrics.h"

#include <fmt/format.h>
#include <prometheus/text_serializer.h>

#include "proxy/http/failure.h"
#include "proxy/http/grpc.h"
#include "proxy/http/http1/request_check.h"
#include "proxy/upstream/lb/locality.h"

namespace weft::proxy::metrics {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

const prometheus::Histogram::BucketBoundaries kDurationBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

// Reasons for responses the proxy makes itself, so they exist (at 0) before
// the first one happens and alerts can be written against them: these and
// every http::Failure.
constexpr std::string_view kLocalReplyReasons[] = {"route_not_found", "direct_response",
                                                   "redirect"};

constexpr std::string_view kHttp2StreamErrors[] = {"invalid_header", "invalid_message",
                                                   "invalid_frame", "header_list_too_large",
                                                   "max_concurrent_streams"};
constexpr std::string_view kHttp2ConnectionErrors[] = {
    "protocol_error",      "rapid_reset",        "continuation_flood", "empty_frame_flood",
    "control_frame_flood", "control_queue_full", "idle_timeout"};

std::string labels_text(const prometheus::ClientMetric& metric) {
  std::string out;
  for (const auto& label : metric.label) {
    out += fmt::format("{}{}=\"{}\"", out.empty() ? "{" : ",", label.name, label.value);
  }
  return out.empty() ? out : out + "}";
}

}  // namespace

void ListenerStats::count_response(unsigned status) const {
  auto status_class = status / 100;
  if (status_class >= 1 && status_class <= 5) responses[status_class - 1]->Increment();
}

void ListenerStats::count_sniffed(std::string_view protocol) const {
  static constexpr std::string_view kProtocols[] = {"http1", "http2", "tls", "opaque"};
  for (int i = 0; i < 4; ++i) {
    if (protocol == kProtocols[i]) {
      sniffed[i]->Increment();
      return;
    }
  }
  sniffed[3]->Increment();  // undecided counts as opaque
}

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      responses_(BuildCounter()
                     .Name("mesh_listener_requests_total")
                     .Help("HTTP requests answered, by listener and status class")
                     .Register(*registry_)),
      duration_(BuildHistogram()
                    .Name("mesh_listener_request_duration_seconds")
                    .Help("Time from the first request byte to the last response byte")
                    .Register(*registry_)),
      connections_(BuildCounter()
                       .Name("mesh_downstream_connections_total")
                       .Help("Downstream connections accepted")
                       .Register(*registry_)),
      active_connections_(BuildGauge()
                              .Name("mesh_downstream_connections_active")
                              .Help("Downstream connections open now")
                              .Register(*registry_)),
      tcp_bytes_(BuildCounter()
                     .Name("mesh_tcp_bytes_total")
                     .Help("Bytes relayed by TCP proxying, by direction")
                     .Register(*registry_)),
      upstream_requests_(BuildCounter()
                             .Name("mesh_upstream_requests_total")
                             .Help("Requests sent to a cluster")
                             .Register(*registry_)),
      connect_failures_(BuildCounter()
                            .Name("mesh_upstream_connect_failures_total")
                            .Help("Upstream connection attempts that failed, by cluster and reason")
                            .Register(*registry_)),
      upstream_connections_(
          BuildCounter()
              .Name("mesh_upstream_connections_total")
              .Help("Upstream connections used, opened new or reused from the pool")
              .Register(*registry_)),
      upstream_idle_closed_(BuildCounter()
                                .Name("mesh_upstream_idle_closed_total")
                                .Help("Idle pooled upstream connections the proxy closed, by "
                                      "reason: pool_full, idle_timeout, peer_closed")
                                .Register(*registry_)),
      upstream_retries_(BuildCounter()
                            .Name("mesh_upstream_retries_total")
                            .Help("Requests sent again to a cluster, by the reason the attempt "
                                  "before failed (status_503, upstream_reset, per_try_timeout, "
                                  "refused_stream, grpc_unavailable, ...)")
                            .Register(*registry_)),
      retry_budget_exhausted_(BuildCounter()
                                  .Name("mesh_upstream_retry_budget_exhausted_total")
                                  .Help("Retries not made because the cluster's retry budget "
                                        "(per worker) was spent")
                                  .Register(*registry_)),
      retry_body_too_large_(BuildCounter()
                                .Name("mesh_upstream_retry_body_too_large_total")
                                .Help("Retries not made because the request body was over the "
                                      "replay limit (64 KiB) and had been sent")
                                .Register(*registry_)),
      overflows_(BuildCounter()
                     .Name("mesh_upstream_overflows_total")
                     .Help("Refused by a cluster's circuit breaker: requests past maxRequests "
                           "(limit=requests) or maxPendingRequests (limit=pending), answered 503 "
                           "upstream_overflow; retries past maxRetries (limit=retries), not "
                           "made; TCP connections past maxConnections (limit=connections), "
                           "closed")
                     .Register(*registry_)),
      requests_active_(BuildGauge()
                           .Name("mesh_upstream_requests_active")
                           .Help("Requests in flight to a cluster, over all workers")
                           .Register(*registry_)),
      retries_active_(BuildGauge()
                          .Name("mesh_upstream_retries_active")
                          .Help("Retries in flight to a cluster, over all workers")
                          .Register(*registry_)),
      connections_active_(BuildGauge()
                              .Name("mesh_upstream_connections_active")
                              .Help("Connections open or opening to a cluster, over all workers")
                              .Register(*registry_)),
      requests_pending_(BuildGauge()
                            .Name("mesh_upstream_requests_pending")
                            .Help("Requests waiting for a connection to a cluster, over all "
                                  "workers")
                            .Register(*registry_)),
      connection_waits_(BuildCounter()
                            .Name("mesh_upstream_connection_waits_total")
                            .Help("Requests that waited for a connection to close because "
                                  "the cluster's maxConnections were open")
                            .Register(*registry_)),
      ejections_(BuildCounter()
                     .Name("mesh_upstream_ejections_total")
                     .Help("Endpoints ejected by outlier detection, by reason "
                           "(consecutive_5xx, consecutive_gateway_errors, "
                           "consecutive_local_origin_failures, success_rate)")
                     .Register(*registry_)),
      endpoints_ejected_(BuildGauge()
                             .Name("mesh_upstream_endpoints_ejected")
                             .Help("Endpoints of a cluster ejected by outlier detection now")
                             .Register(*registry_)),
      health_checks_(BuildCounter()
                         .Name("mesh_upstream_health_checks_total")
                         .Help("Active health check probes of a cluster's endpoints, by result "
                               "(passed, failed)")
                         .Register(*registry_)),
      endpoints_failing_check_(BuildGauge()
                                   .Name("mesh_upstream_endpoints_failing_check")
                                   .Help("Endpoints of a cluster failing their active health "
                                         "check now")
                                   .Register(*registry_)),
      panics_(BuildCounter()
                  .Name("mesh_upstream_panic_total")
                  .Help("Requests sent to every endpoint of a cluster, ejected or not, "
                        "because fewer than its panic threshold were healthy")
                  .Register(*registry_)),
      failovers_(BuildCounter()
                     .Name("mesh_upstream_failovers_total")
                     .Help("Requests for a cluster without a healthy endpoint that went to "
                           "its backup Service `to` (TrafficPolicy failover)")
                     .Register(*registry_)),
      locality_requests_(BuildCounter()
                             .Name("mesh_upstream_locality_requests_total")
                             .Help("Requests to a cluster whose endpoints span localities, by "
                                   "the tier they went to: the proxy's zone, the rest of its "
                                   "region, or other")
                             .Register(*registry_)),
      parse_rejections_(BuildCounter()
                            .Name("mesh_http1_parse_rejections_total")
                            .Help("Downstream HTTP/1 requests refused as malformed, by reason")
                            .Register(*registry_)),
      local_replies_(BuildCounter()
                         .Name("mesh_local_replies_total")
                         .Help("Responses generated by the proxy itself, by reason")
                         .Register(*registry_)),
      passthrough_(BuildCounter()
                       .Name("mesh_passthrough_connections_total")
                       .Help("Captured connections relayed unchanged to their original destination")
                       .Register(*registry_)),
      capture_errors_(BuildCounter()
                          .Name("mesh_capture_errors_total")
                          .Help("Captured connections closed because the original destination was "
                                "missing or the proxy itself")
                          .Register(*registry_)),
      sniffed_(BuildCounter()
                   .Name("mesh_sniffed_connections_total")
                   .Help("Connections classified by protocol sniffing")
                   .Register(*registry_)),
      sniff_timeouts_(BuildCounter()
                          .Name("mesh_sniff_timeouts_total")
                          .Help("Sniffed connections that sent nothing decisive within "
                                "sniff_timeout and were relayed as TCP")
                          .Register(*registry_)),
      closed_before_data_(BuildCounter()
                              .Name("mesh_downstream_closed_before_data_total")
                              .Help("Downstream connections the peer closed or reset before "
                                    "sending a byte (health checkers, scanners)")
                              .Register(*registry_)),
      refused_(BuildCounter()
                   .Name("mesh_downstream_connections_refused_total")
                   .Help("Downstream connections closed as they were accepted, past a "
                         "connection cap: the listener's max_connections (limit=listener) or "
                         "the proxy's --max-connections (limit=proxy)")
                   .Register(*registry_)),
      tls_handshake_failures_(BuildCounter()
                                  .Name("mesh_downstream_tls_handshake_failures_total")
                                  .Help("Downstream TLS handshakes that failed")
                                  .Register(*registry_)),
      config_reloads_(BuildCounter()
                          .Name("mesh_config_reloads_total")
                          .Help("Configuration reloads, by result (applied, rejected)")
                          .Register(*registry_)),
      drains_(BuildCounter()
                  .Name("mesh_drains_total")
                  .Help("Drains started (SIGTERM, POST /drain, the Pod's application exited): "
                        "listeners closed, idle connections closed, in-flight requests finish")
                  .Register(*registry_)),
      app_metrics_scrapes_(BuildCounter()
                               .Name("mesh_app_metrics_scrapes_total")
                               .Help("Scrapes of the application's metrics for merging into "
                                     "/stats/prometheus (--app-metrics), by result (ok, failed)")
                               .Register(*registry_)),
      discovery_events_(BuildCounter()
                            .Name("mesh_discovery_events_total")
                            .Help("Control-plane stream events (connected, connect_failed, ack, "
                                  "nack)")
                            .Register(*registry_)),
      discovery_reconnects_(BuildCounter()
                                .Name("mesh_discovery_reconnects_total")
                                .Help("Configuration streams that ended and were reopened, by "
                                      "cause (goaway, ping_timeout, stream_closed, ...)")
                                .Register(*registry_)),
      requests_by_protocol_(BuildCounter()
                                .Name("mesh_requests_by_protocol_total")
                                .Help("HTTP requests answered, by listener and downstream protocol")
                                .Register(*registry_)),
      grpc_statuses_(BuildCounter()
                         .Name("mesh_grpc_responses_total")
                         .Help("gRPC calls answered, by listener and grpc-status")
                         .Register(*registry_)),
      http2_stream_errors_(BuildCounter()
                               .Name("mesh_http2_stream_errors_total")
                               .Help("HTTP/2 streams reset for a protocol violation or a limit")
                               .Register(*registry_)),
      http2_connection_errors_(
          BuildCounter()
              .Name("mesh_http2_connection_errors_total")
              .Help("HTTP/2 connections ended by the proxy (GOAWAY), by reason")
              .Register(*registry_)),
      trace_spans_(BuildCounter()
                       .Name("mesh_trace_spans_total")
                       .Help("Spans of sampled requests, by outcome (exported, "
                             "dropped_buffer_full, dropped_export_failed)")
                       .Register(*registry_)),
      trace_exports_(BuildCounter()
                         .Name("mesh_trace_exports_total")
                         .Help("Batches of spans sent to the tracing collector, by result (ok, "
                               "failed)")
                         .Register(*registry_)),
      access_log_lines_(BuildCounter()
                            .Name("mesh_access_log_lines_total")
                            .Help("Access log lines, by outcome (written, dropped_queue_full: "
                                  "the writer fell behind, dropped_write_failed)")
                            .Register(*registry_)),
      access_log_queued_(BuildGauge()
                             .Name("mesh_access_log_queued_bytes")
                             .Help("Access log bytes waiting for the writer (capped at 8 MiB)")
                             .Register(*registry_)),
      access_log_open_failures_(
          BuildCounter()
              .Name("mesh_access_log_open_failures_total")
              .Help("Access log files that could not be opened (their lines are dropped)")
              .Register(*registry_)),
      tap_requests_(BuildCounter()
                        .Name("mesh_tap_requests_total")
                        .Help("Requests shown to meshctl tap (published), and those a watcher "
                              "polled too slowly to see (missed: past the last 1,024)")
                        .Register(*registry_)),
      lingering_closes_(BuildCounter()
                            .Name("mesh_http1_lingering_closes_total")
                            .Help("HTTP/1 connections closed with request bytes unread, after "
                                  "reading and dropping what the client still sent (at most "
                                  "5 s), by how that ended")
                            .Register(*registry_)),
      tls_handshakes_(BuildCounter()
                          .Name("mesh_tls_handshakes_total")
                          .Help("Mutual TLS handshakes with peers' sidecars, by direction and "
                                "result (ok, or why it failed)")
                          .Register(*registry_)),
      inbound_plaintext_(BuildCounter()
                             .Name("mesh_inbound_plaintext_connections_total")
                             .Help("Plaintext connections to inbound listeners, by action "
                                   "(accepted: PERMISSIVE, refused: STRICT) and source address")
                             .Register(*registry_)),
      authz_denied_(BuildCounter()
                        .Name("mesh_authz_denied_total")
                        .Help("Requests (and opaque TCP connections) to this workload denied by "
                              "an AuthorizationPolicy, by policy (namespace/name)")
                        .Register(*registry_)) {
  tls_handshake("inbound", "ok");  // present from the start, for scrapes and alerts
  config_reload(true);
  config_reload(false);
  drain_started();
  app_metrics_scrape(true);
  app_metrics_scrape(false);
  for (auto outcome : kTraceSpanOutcomes) trace_spans(outcome);
  trace_export(true);
  trace_export(false);
  for (auto outcome : kAccessLogLineOutcomes) access_log_lines(outcome);
  access_log_queued_bytes();
  access_log_open_failures();
  tap_requests("published");
  tap_requests("missed");
  for (auto cause : kDiscoveryReconnectCauses) discovery_reconnect(cause);
  for (auto end : kLingeringCloseEnds) lingering_close(end);
  for (auto reason : http::http1::kRejectionReasons) {
    parse_rejection_counters_.emplace_back(
        reason, &parse_rejections_.Add({{"reason", std::string(reason)}}));
  }
  auto add_local_reply = [this](std::string_view reason) {
    local_reply_counters_.emplace_back(reason,
                                       &local_replies_.Add({{"reason", std::string(reason)}}));
  };
  for (auto reason : kLocalReplyReasons) add_local_reply(reason);
  for (auto failure : http::all_failures()) add_local_reply(http::reason(failure));
  for (auto reason : kHttp2StreamErrors) {
    http2_stream_error_counters_.emplace_back(
        reason, &http2_stream_errors_.Add({{"reason", std::string(reason)}}));
  }
  for (auto reason : kHttp2ConnectionErrors) {
    http2_connection_error_counters_.emplace_back(
        reason, &http2_connection_errors_.Add({{"reason", std::string(reason)}}));
  }
}

prometheus::Counter& Metrics::http2_stream_error(std::string_view reason) {
  return find(http2_stream_error_counters_, http2_stream_errors_, reason);
}

prometheus::Counter& Metrics::http2_connection_error(std::string_view reason) {
  return find(http2_connection_error_counters_, http2_connection_errors_, reason);
}

ListenerStats Metrics::listener(const std::string& name) {
  ListenerStats stats;
  static constexpr const char* kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  for (int i = 0; i < 5; ++i) {
    stats.responses[i] = &responses_.Add({{"listener", name}, {"status_class", kClasses[i]}});
  }
  stats.duration = &duration_.Add({{"listener", name}}, kDurationBuckets);
  stats.connections = &connections_.Add({{"listener", name}});
  stats.active_connections = &active_connections_.Add({{"listener", name}});
  stats.bytes_received = &tcp_bytes_.Add({{"listener", name}, {"direction", "received"}});
  stats.bytes_sent = &tcp_bytes_.Add({{"listener", name}, {"direction", "sent"}});
  stats.passthrough = &passthrough_.Add({{"listener", name}});
  stats.tls_handshake_failures = &tls_handshake_failures_.Add({{"listener", name}});
  stats.capture_errors[0] =
      &capture_errors_.Add({{"listener", name}, {"reason", "no_original_dst"}});
  stats.capture_errors[1] =
      &capture_errors_.Add({{"listener", name}, {"reason", "direct_connection"}});
  static constexpr const char* kProtocols[] = {"http1", "http2", "tls", "opaque"};
  for (int i = 0; i < 4; ++i) {
    stats.sniffed[i] = &sniffed_.Add({{"listener", name}, {"protocol", kProtocols[i]}});
  }
  stats.sniff_timeouts = &sniff_timeouts_.Add({{"listener", name}});
  stats.closed_before_data = &closed_before_data_.Add({{"listener", name}});
  stats.refused[0] = &refused_.Add({{"listener", name}, {"limit", "listener"}});
  stats.refused[1] = &refused_.Add({{"listener", name}, {"limit", "proxy"}});
  stats.requests_by_protocol[0] =
      &requests_by_protocol_.Add({{"listener", name}, {"protocol", "http1"}});
  stats.requests_by_protocol[1] =
      &requests_by_protocol_.Add({{"listener", name}, {"protocol", "http2"}});
  for (unsigned code = 0; code < stats.grpc_statuses.size(); ++code) {
    stats.grpc_statuses[code] = &grpc_statuses_.Add(
        {{"listener", name}, {"grpc_status", std::string(http::grpc::status_name(code))}});
  }
  return stats;
}

void Metrics::by_locality(ClusterStats& stats) {
  for (std::size_t t = 0; t < stats.locality.size(); ++t) {
    const auto tier = upstream::lb::tier_label(static_cast<upstream::lb::Tier>(t));
    stats.locality[t] =
        &locality_requests_.Add({{"cluster", stats.name}, {"tier", std::string(tier)}});
  }
}

ClusterStats Metrics::cluster(const std::string& name) {
  ClusterStats stats;
  stats.requests = &upstream_requests_.Add({{"cluster", name}});
  stats.connect_failures = &connect_failures_.Add({{"cluster", name}, {"reason", "refused"}});
  stats.connect_timeouts = &connect_failures_.Add({{"cluster", name}, {"reason", "timeout"}});
  stats.tls_failures = &connect_failures_.Add({{"cluster", name}, {"reason", "tls"}});
  stats.connections_opened = &upstream_connections_.Add({{"cluster", name}, {"kind", "new"}});
  stats.connections_reused = &upstream_connections_.Add({{"cluster", name}, {"kind", "reused"}});
  stats.idle_closed_pool_full =
      &upstream_idle_closed_.Add({{"cluster", name}, {"reason", "pool_full"}});
  stats.idle_closed_timeout =
      &upstream_idle_closed_.Add({{"cluster", name}, {"reason", "idle_timeout"}});
  stats.idle_closed_by_peer =
      &upstream_idle_closed_.Add({{"cluster", name}, {"reason", "peer_closed"}});
  stats.retry_budget_exhausted = &retry_budget_exhausted_.Add({{"cluster", name}});
  stats.retry_body_too_large = &retry_body_too_large_.Add({{"cluster", name}});
  stats.retries = &upstream_retries_;
  stats.request_overflows = &overflows_.Add({{"cluster", name}, {"limit", "requests"}});
  stats.retry_overflows = &overflows_.Add({{"cluster", name}, {"limit", "retries"}});
  stats.pending_overflows = &overflows_.Add({{"cluster", name}, {"limit", "pending"}});
  stats.connection_overflows = &overflows_.Add({{"cluster", name}, {"limit", "connections"}});
  stats.connection_waits = &connection_waits_.Add({{"cluster", name}});
  stats.panics = &panics_.Add({{"cluster", name}});
  stats.failovers = &failovers_;
  using upstream::outlier::Reason;
  for (auto reason : {Reason::kConsecutive5xx, Reason::kConsecutiveGatewayErrors,
                      Reason::kConsecutiveLocalOriginFailures, Reason::kSuccessRate}) {
    stats.ejections[static_cast<std::size_t>(reason)] =
        &ejections_.Add({{"cluster", name}, {"reason", upstream::outlier::reason_label(reason)}});
  }
  {
    const std::lock_guard lock(gates_mutex_);
    stats.gates = &shared(name).gates;
    stats.sweep = &shared(name).sweep;
  }
  stats.name = name;
  return stats;
}

prometheus::Counter& Metrics::find(ByReason& known, prometheus::Family<prometheus::Counter>& family,
                                   std::string_view reason) {
  for (const auto& [name, counter] : known) {
    if (name == reason) return *counter;
  }
  // A reason missing from the lists above: still counted, the slow way.
  return family.Add({{"reason", std::string(reason)}});
}

prometheus::Counter& Metrics::parse_rejection(std::string_view reason) {
  return find(parse_rejection_counters_, parse_rejections_, reason);
}

prometheus::Counter& Metrics::drain_started() { return drains_.Add({}); }

prometheus::Counter& Metrics::app_metrics_scrape(bool ok) {
  return app_metrics_scrapes_.Add({{"result", ok ? "ok" : "failed"}});
}

prometheus::Counter& Metrics::config_reload(bool applied) {
  return config_reloads_.Add({{"result", applied ? "applied" : "rejected"}});
}

prometheus::Counter& Metrics::trace_spans(std::string_view outcome) {
  return trace_spans_.Add({{"outcome", std::string(outcome)}});
}

prometheus::Counter& Metrics::trace_export(bool ok) {
  return trace_exports_.Add({{"result", ok ? "ok" : "failed"}});
}

prometheus::Counter& Metrics::access_log_lines(std::string_view outcome) {
  return access_log_lines_.Add({{"outcome", std::string(outcome)}});
}

prometheus::Counter& Metrics::inbound_plaintext(std::string_view action,
                                                const std::string& source) {
  std::lock_guard lock(plaintext_sources_mutex_);
  const bool known = plaintext_sources_.contains(source);
  if (!known && plaintext_sources_.size() < kMaxPlaintextSources) {
    plaintext_sources_.insert(source);
  }
  const bool labelled = known || plaintext_sources_.contains(source);
  return inbound_plaintext_.Add(
      {{"action", std::string(action)}, {"source", labelled ? source : std::string("other")}});
}

prometheus::Counter& Metrics::discovery(std::string_view event) {
  return discovery_events_.Add({{"event", std::string(event)}});
}

prometheus::Counter& Metrics::discovery_reconnect(std::string_view cause) {
  return discovery_reconnects_.Add({{"cause", std::string(cause)}});
}

prometheus::Counter& Metrics::lingering_close(std::string_view end) {
  return lingering_closes_.Add({{"end", std::string(end)}});
}

prometheus::Counter& Metrics::local_reply(std::string_view reason) {
  return find(local_reply_counters_, local_replies_, reason);
}

Metrics::ClusterGates& Metrics::shared(const std::string& name) {
  auto& entry = gates_[name];
  if (!entry) {
    entry = std::make_unique<ClusterGates>();
    entry->requests = &requests_active_.Add({{"cluster", name}});
    entry->retries = &retries_active_.Add({{"cluster", name}});
    entry->connections = &connections_active_.Add({{"cluster", name}});
    entry->pending = &requests_pending_.Add({{"cluster", name}});
    entry->ejected = &endpoints_ejected_.Add({{"cluster", name}});
    entry->failing_check = &endpoints_failing_check_.Add({{"cluster", name}});
  }
  return *entry;
}

Metrics::HealthCheckStats Metrics::health_checks(const std::string& cluster) {
  return {&health_checks_.Add({{"cluster", cluster}, {"result", "passed"}}),
          &health_checks_.Add({{"cluster", cluster}, {"result", "failed"}})};
}

std::shared_ptr<upstream::outlier::EndpointHealth> Metrics::endpoint_health(
    const std::string& cluster, const std::string& address) {
  const std::lock_guard lock(gates_mutex_);
  auto& known = shared(cluster).health;
  if (auto found = known.find(address); found != known.end()) return found->second;
  // Addresses no configuration lists any more (Pods come and go) are
  // forgotten once their ejection is over, so the map does not grow.
  const auto now = upstream::outlier::Clock::now();
  std::erase_if(known, [&](const auto& entry) {
    return entry.second.use_count() == 1 && !entry.second->ejected(now);
  });
  auto health = std::make_shared<upstream::outlier::EndpointHealth>();
  known.emplace(address, health);
  return health;
}

void Metrics::read_gates() const {
  const std::lock_guard lock(gates_mutex_);
  const auto now = upstream::outlier::Clock::now();
  for (const auto& [name, entry] : gates_) {
    entry->requests->Set(entry->gates.requests.active());
    entry->retries->Set(entry->gates.retries.active());
    entry->connections->Set(entry->gates.connections.active());
    entry->pending->Set(entry->gates.pending.active());
    double ejected = 0;
    double failing = 0;
    for (const auto& [address, health] : entry->health) {
      ejected += health->ejected(now) ? 1 : 0;
      failing += health->check_failing() ? 1 : 0;
    }
    entry->ejected->Set(ejected);
    entry->failing_check->Set(failing);
  }
}

std::vector<prometheus::MetricFamily> Metrics::collect() const {
  read_gates();
  auto families = registry_->Collect();
  requests_.collect(families);
  return families;
}

std::string Metrics::prometheus_text() const {
  return prometheus::TextSerializer().Serialize(collect());
}

std::string Metrics::stats_text() const {
  std::string out;
  for (const auto& family : collect()) {
    for (const auto& metric : family.metric) {
      double value = 0;
      switch (family.type) {
        case prometheus::MetricType::Counter:
          value = metric.counter.value;
          break;
        case prometheus::MetricType::Gauge:
          value = metric.gauge.value;
          break;
        case prometheus::MetricType::Histogram:
          value = static_cast<double>(metric.histogram.sample_count);
          break;
        default:
          continue;
      }
      out += fmt::format("{}{} {}\n", family.name, labels_text(metric), value);
    }
  }
  return out;
}

}  // namespace weft::proxy::metrics
