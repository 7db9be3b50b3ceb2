// Request metrics with workload labels: mesh_requests_total and
// mesh_request_duration_milliseconds, recorded once per request by the
// sidecar on each side of a hop (reporter "source" on the caller's outbound
// listener, "destination" on the callee's inbound one), with the label
// names Istio's dashboards read (docs/tasks/metrics.md).
//
// Cost per request: a hash lookup in the worker's own table and a few
// relaxed atomic stores, which only that worker writes; no mutex, no label
// formatting. Workloads and Services are interned for the proxy's life, so
// a label set is a handful of pointers and integers. A scrape merges the
// workers' tables into Prometheus families.
//
// Cardinality is bounded: no paths or ids in labels, and at most
// kMaxRequestSeries label sets (kMaxWorkloads workloads, kMaxServices
// Services); requests past that are counted in
// mesh_request_series_dropped_total instead.
#pragma once

#include <prometheus/metric_family.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "proxy/metrics/workload.h"

namespace weft::proxy::metrics {

enum class Reporter : std::uint8_t { kSource, kDestination };
// kTcp: an opaque TCP connection, counted in the mesh_tcp_* families.
enum class RequestProtocol : std::uint8_t { kHttp, kGrpc, kTcp };
// connection_security_policy: the source side does not know how the
// destination's sidecar accepted the connection (unknown).
enum class Security : std::uint8_t { kUnknown, kNone, kTls, kMutualTls };

// One request's labels, or one TCP connection's (protocol kTcp, no code).
// Workloads and Services are interned, so equal labels are equal values.
struct RequestLabels {
  Reporter reporter = Reporter::kSource;
  const Workload* source = nullptr;
  const Workload* destination = nullptr;
  const std::string* service = nullptr;
  RequestProtocol protocol = RequestProtocol::kHttp;
  std::uint16_t code = 0;
  std::int16_t grpc_status = -1;  // -1: not a gRPC call
  std::string_view flags;         // the x-weft-error reason (static storage); empty: none
  Security security = Security::kUnknown;

  bool operator==(const RequestLabels&) const = default;
  // The label values, in the order of kRequestLabelNames.
  std::vector<std::string> values() const;
};

inline constexpr std::array<std::string_view, 17> kRequestLabelNames = {
    "reporter",
    "source_workload",
    "source_namespace",
    "source_principal",
    "source_app",
    "source_version",
    "destination_workload",
    "destination_namespace",
    "destination_principal",
    "destination_service",
    "destination_app",
    "destination_version",
    "request_protocol",
    "response_code",
    "grpc_response_status",
    "response_flags",
    "connection_security_policy"};

// Istio's default buckets, in milliseconds.
inline constexpr std::array<double, 19> kDurationBucketsMs = {
    0.5,  1,    5,     10,    25,    50,     100,    250,     500,    1000,
    2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000};

// Istio's size buckets, in bytes: 1, 10, ... 10^9.
inline constexpr std::array<double, 10> kSizeBucketsBytes = {1,       10,      100, 1000, 10'000,
                                                             100'000, 1000000, 1e7, 1e8,  1e9};

// The TCP families leave out response_code and grpc_response_status.
inline constexpr std::array<std::size_t, 2> kHttpOnlyLabels = {13, 14};

inline constexpr std::size_t kMaxRequestSeries = 4096;
inline constexpr std::size_t kMaxWorkloads = 1024;
inline constexpr std::size_t kMaxServices = 1024;

class RequestMetrics;

// One worker's series. record() and peer() run on that worker's thread only.
class WorkerRequests {
 public:
  explicit WorkerRequests(RequestMetrics& shared) : shared_(shared) {}

  // A request's duration and its body sizes, from and to the client.
  void record(const RequestLabels& labels, double milliseconds, std::uint64_t request_bytes,
              std::uint64_t response_bytes);
  const RequestMetrics& shared() const { return shared_; }

  // One label set's counts, written only by its worker. A request's
  // series uses the count, the duration and the sizes; a TCP connection's
  // the other four.
  struct Series {
    std::vector<std::string> labels;
    std::atomic<std::uint64_t> count{0};
    std::array<std::atomic<std::uint64_t>, kDurationBucketsMs.size()> buckets{};
    std::atomic<double> sum{0};
    struct Sizes {
      std::array<std::atomic<std::uint64_t>, kSizeBucketsBytes.size()> buckets{};
      std::atomic<std::uint64_t> sum{0};
    };
    Sizes request_sizes, response_sizes;
    std::atomic<std::uint64_t> opened{0}, closed{0};
    std::atomic<std::uint64_t> received{0}, sent{0};  // from and to the downstream
  };
  // A TCP connection's series: opened counted now, closed and its bytes
  // by tcp_closed(). Null past the cap (counted as dropped).
  Series* tcp_opened(const RequestLabels& labels);
  static void tcp_closed(Series* series, std::uint64_t received, std::uint64_t sent);

  // The workload and Service an x-weft-peer value names, interned; none
  // when it is malformed (counted in mesh_peer_field_rejected_total).
  struct Caller {
    const Workload* source = nullptr;
    const std::string* service = nullptr;
  };
  std::optional<Caller> caller(std::string_view field);

 private:
  friend class RequestMetrics;
  struct Hash {
    std::size_t operator()(const RequestLabels& l) const;
  };
  Series* find(const RequestLabels& labels);

  RequestMetrics& shared_;
  // Null: a label set past the cap (its requests are counted as dropped).
  std::unordered_map<RequestLabels, std::unique_ptr<Series>, Hash> series_;
  // The last label set counted and its series: a worker's requests mostly
  // repeat the one before (same caller, Service, status), and comparing
  // costs a fifth of hashing and a table lookup.
  RequestLabels last_labels_;
  Series* last_series_ = nullptr;
  std::mutex insert_mutex_;  // held to insert into series_, and by a scrape
  // Looked up by the field's bytes, with no string made per request.
  struct FieldHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view field) const {
      return std::hash<std::string_view>{}(field);
    }
  };
  static constexpr std::size_t kMaxCachedCallers = 1024;
  std::unordered_map<std::string, std::optional<Caller>, FieldHash, std::equal_to<>> callers_;
};

class RequestMetrics {
 public:
  RequestMetrics();

  // Interned for the proxy's life; past kMaxWorkloads or kMaxServices,
  // the "unknown" one.
  const Workload* workload(const Workload& w);
  const std::string* service(std::string_view name);
  const Workload* unknown_workload() const { return &unknown_workload_; }
  const std::string* unknown_service() const { return &unknown_service_; }

  // A worker's table, for the proxy's life.
  WorkerRequests& add_worker();

  // istio_requests_total and istio_request_duration_milliseconds instead of
  // mesh_*, from the next scrape on (MeshConfig spec.metrics).
  void use_istio_names(bool istio) { istio_names_.store(istio, std::memory_order_relaxed); }

  // mesh_requests_total, mesh_request_duration_milliseconds, and the
  // cardinality counters, every worker's series merged.
  void collect(std::vector<prometheus::MetricFamily>& out) const;

 private:
  friend class WorkerRequests;
  // Admits a new label set unless kMaxRequestSeries are taken.
  bool admit(const RequestLabels& labels);

  const Workload unknown_workload_{"unknown", "unknown", "unknown", "unknown", "unknown"};
  const std::string unknown_service_ = "unknown";
  mutable std::mutex mutex_;  // never on the request path
  std::set<Workload> workloads_;
  std::set<std::string, std::less<>> services_;
  std::unordered_set<RequestLabels, WorkerRequests::Hash> admitted_;
  std::vector<std::unique_ptr<WorkerRequests>> workers_;
  std::atomic<bool> istio_names_{false};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> rejected_callers_{0};
  std::atomic<std::uint64_t> interning_overflows_{0};
};

}  // namespace weft::proxy::metrics
