#include "proxy/metrics/request_metrics.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <map>

namespace weft::proxy::metrics {
namespace {

std::string_view reporter_text(Reporter reporter) {
  return reporter == Reporter::kSource ? "source" : "destination";
}

std::string_view protocol_text(RequestProtocol protocol) {
  switch (protocol) {
    case RequestProtocol::kGrpc:
      return "grpc";
    case RequestProtocol::kTcp:
      return "tcp";
    case RequestProtocol::kHttp:
      break;
  }
  return "http";
}

std::string_view security_text(Security security) {
  switch (security) {
    case Security::kNone:
      return "none";
    case Security::kTls:
      return "tls";
    case Security::kMutualTls:
      return "mutual_tls";
    case Security::kUnknown:
      break;
  }
  return "unknown";
}

// Only the worker writes its series: a load and a store, not a locked add.
void add(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

void count_size(WorkerRequests::Series::Sizes& sizes, std::uint64_t bytes) {
  const auto bucket = std::lower_bound(kSizeBucketsBytes.begin(), kSizeBucketsBytes.end(),
                                       static_cast<double>(bytes)) -
                      kSizeBucketsBytes.begin();
  if (static_cast<std::size_t>(bucket) < sizes.buckets.size()) add(sizes.buckets[bucket]);
  add(sizes.sum, bytes);
}

template <class T>
void hash_combine(std::size_t& seed, const T& value) {
  seed ^= std::hash<T>{}(value) + 0x9e3779b97f4a7c15ull + (seed << 6) + (seed >> 2);
}

prometheus::MetricFamily family(std::string name, std::string help, prometheus::MetricType type) {
  prometheus::MetricFamily out;
  out.name = std::move(name);
  out.help = std::move(help);
  out.type = type;
  return out;
}

prometheus::ClientMetric single(double value, bool counter) {
  prometheus::ClientMetric metric;
  if (counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return metric;
}

}  // namespace

std::vector<std::string> RequestLabels::values() const {
  // The principal is a verified identity: none until mutual TLS says who.
  constexpr std::string_view kPrincipal = "unknown";
  std::vector<std::string> out = {std::string(reporter_text(reporter)),
                                  source->name,
                                  source->ns,
                                  std::string(kPrincipal),
                                  source->app,
                                  source->version,
                                  destination->name,
                                  destination->ns,
                                  std::string(kPrincipal),
                                  *service,
                                  destination->app,
                                  destination->version,
                                  std::string(protocol_text(protocol)),
                                  std::to_string(code),
                                  grpc_status < 0 ? "" : std::to_string(grpc_status),
                                  flags.empty() ? "-" : std::string(flags),
                                  std::string(security_text(security))};
  if (protocol == RequestProtocol::kTcp) {
    for (auto i = kHttpOnlyLabels.rbegin(); i != kHttpOnlyLabels.rend(); ++i) {
      out.erase(out.begin() + static_cast<std::ptrdiff_t>(*i));
    }
  }
  return out;
}

std::size_t WorkerRequests::Hash::operator()(const RequestLabels& l) const {
  std::size_t seed = static_cast<std::size_t>(l.reporter) | (static_cast<std::size_t>(l.code) << 8);
  hash_combine(seed, l.source);
  hash_combine(seed, l.destination);
  hash_combine(seed, l.service);
  hash_combine(seed, l.grpc_status);
  hash_combine(seed, l.flags);
  hash_combine(seed, static_cast<int>(l.protocol) * 8 + static_cast<int>(l.security));
  return seed;
}

auto WorkerRequests::find(const RequestLabels& labels) -> Series* {
  if (last_series_ != nullptr && labels == last_labels_) return last_series_;
  auto it = series_.find(labels);
  if (it == series_.end()) {
    std::unique_ptr<Series> series;
    if (shared_.admit(labels)) {
      series = std::make_unique<Series>();
      series->labels = labels.values();
    }
    const std::lock_guard lock(insert_mutex_);
    it = series_.emplace(labels, std::move(series)).first;
  }
  if (it->second) {
    last_labels_ = labels;
    last_series_ = it->second.get();
  }
  return it->second.get();
}

void WorkerRequests::record(const RequestLabels& labels, double milliseconds,
                            std::uint64_t request_bytes, std::uint64_t response_bytes) {
  auto* series = find(labels);
  if (series == nullptr) {
    shared_.dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  add(series->count);
  const auto bucket =
      std::lower_bound(kDurationBucketsMs.begin(), kDurationBucketsMs.end(), milliseconds) -
      kDurationBucketsMs.begin();
  if (static_cast<std::size_t>(bucket) < series->buckets.size()) add(series->buckets[bucket]);
  series->sum.store(series->sum.load(std::memory_order_relaxed) + milliseconds,
                    std::memory_order_relaxed);
  count_size(series->request_sizes, request_bytes);
  count_size(series->response_sizes, response_bytes);
}

auto WorkerRequests::tcp_opened(const RequestLabels& labels) -> Series* {
  auto* series = find(labels);
  if (series == nullptr) {
    shared_.dropped_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  add(series->opened);
  return series;
}

void WorkerRequests::tcp_closed(Series* series, std::uint64_t received, std::uint64_t sent) {
  if (series == nullptr) return;
  add(series->closed);
  add(series->received, received);
  add(series->sent, sent);
}

auto WorkerRequests::caller(std::string_view field) -> std::optional<Caller> {
  if (auto it = callers_.find(field); it != callers_.end()) {
    if (!it->second) shared_.rejected_callers_.fetch_add(1, std::memory_order_relaxed);
    return it->second;
  }
  std::optional<Caller> out;
  if (auto peer = decode_peer(field)) {
    out = Caller{shared_.workload(peer->source), shared_.service(peer->service)};
  }
  if (callers_.size() < kMaxCachedCallers) callers_.emplace(field, out);
  if (!out) shared_.rejected_callers_.fetch_add(1, std::memory_order_relaxed);
  return out;
}

RequestMetrics::RequestMetrics() = default;

const Workload* RequestMetrics::workload(const Workload& w) {
  const std::lock_guard lock(mutex_);
  if (auto it = workloads_.find(w); it != workloads_.end()) return &*it;
  if (workloads_.size() >= kMaxWorkloads) {
    interning_overflows_.fetch_add(1, std::memory_order_relaxed);
    return &unknown_workload_;
  }
  return &*workloads_.insert(w).first;
}

const std::string* RequestMetrics::service(std::string_view name) {
  const std::lock_guard lock(mutex_);
  if (auto it = services_.find(name); it != services_.end()) return &*it;
  if (services_.size() >= kMaxServices) {
    interning_overflows_.fetch_add(1, std::memory_order_relaxed);
    return &unknown_service_;
  }
  return &*services_.emplace(name).first;
}

WorkerRequests& RequestMetrics::add_worker() {
  const std::lock_guard lock(mutex_);
  workers_.push_back(std::make_unique<WorkerRequests>(*this));
  return *workers_.back();
}

bool RequestMetrics::admit(const RequestLabels& labels) {
  const std::lock_guard lock(mutex_);
  if (admitted_.contains(labels)) return true;
  if (admitted_.size() >= kMaxRequestSeries) return false;
  admitted_.insert(labels);
  return true;
}

namespace {

// Every worker's counts of one label set.
struct Merged {
  bool tcp = false;
  std::uint64_t count = 0;
  std::array<std::uint64_t, kDurationBucketsMs.size()> buckets{};
  double sum = 0;
  struct Sizes {
    std::array<std::uint64_t, kSizeBucketsBytes.size()> buckets{};
    std::uint64_t sum = 0;
  };
  Sizes request_sizes, response_sizes;
  std::uint64_t opened = 0, closed = 0, received = 0, sent = 0;

  void add(const WorkerRequests::Series& s) {
    const auto read = [](const auto& counter) { return counter.load(std::memory_order_relaxed); };
    count += read(s.count);
    for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += read(s.buckets[i]);
    sum += read(s.sum);
    const auto add_sizes = [&](Sizes& to, const WorkerRequests::Series::Sizes& from) {
      for (std::size_t i = 0; i < to.buckets.size(); ++i) to.buckets[i] += read(from.buckets[i]);
      to.sum += read(from.sum);
    };
    add_sizes(request_sizes, s.request_sizes);
    add_sizes(response_sizes, s.response_sizes);
    opened += read(s.opened);
    closed += read(s.closed);
    received += read(s.received);
    sent += read(s.sent);
  }
};

prometheus::ClientMetric labelled(const std::vector<std::string>& values, bool tcp) {
  prometheus::ClientMetric metric;
  std::size_t value = 0;
  for (std::size_t i = 0; i < kRequestLabelNames.size(); ++i) {
    if (tcp &&
        std::find(kHttpOnlyLabels.begin(), kHttpOnlyLabels.end(), i) != kHttpOnlyLabels.end()) {
      continue;
    }
    metric.label.push_back({std::string(kRequestLabelNames[i]), values[value++]});
  }
  return metric;
}

prometheus::ClientMetric::Histogram sizes_histogram(std::uint64_t count,
                                                    const Merged::Sizes& sizes) {
  prometheus::ClientMetric::Histogram out;
  out.sample_count = count;
  out.sample_sum = static_cast<double>(sizes.sum);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < sizes.buckets.size(); ++i) {
    cumulative += sizes.buckets[i];
    out.bucket.push_back({cumulative, kSizeBucketsBytes[i]});
  }
  out.bucket.push_back({count, std::numeric_limits<double>::infinity()});
  return out;
}

void add_request_families(const std::map<std::vector<std::string>, Merged>& merged,
                          const std::string& prefix, std::vector<prometheus::MetricFamily>& out) {
  auto requests = family(prefix + "_requests_total",
                         "Requests by source and destination workload, Service and outcome",
                         prometheus::MetricType::Counter);
  auto duration = family(prefix + "_request_duration_milliseconds",
                         "Request duration from the request's first byte to the response's end",
                         prometheus::MetricType::Histogram);
  auto request_bytes =
      family(prefix + "_request_bytes", "Request body sizes, in bytes (from the client)",
             prometheus::MetricType::Histogram);
  auto response_bytes =
      family(prefix + "_response_bytes", "Response body sizes, in bytes (to the client)",
             prometheus::MetricType::Histogram);
  for (const auto& [values, m] : merged) {
    if (m.tcp) continue;
    auto metric = labelled(values, false);
    metric.counter.value = static_cast<double>(m.count);
    requests.metric.push_back(metric);
    metric.histogram.sample_count = m.count;
    metric.histogram.sample_sum = m.sum;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < m.buckets.size(); ++i) {
      cumulative += m.buckets[i];
      metric.histogram.bucket.push_back({cumulative, kDurationBucketsMs[i]});
    }
    metric.histogram.bucket.push_back({m.count, std::numeric_limits<double>::infinity()});
    duration.metric.push_back(metric);
    metric.histogram = sizes_histogram(m.count, m.request_sizes);
    request_bytes.metric.push_back(metric);
    metric.histogram = sizes_histogram(m.count, m.response_sizes);
    response_bytes.metric.push_back(std::move(metric));
  }
  out.push_back(std::move(requests));
  out.push_back(std::move(duration));
  out.push_back(std::move(request_bytes));
  out.push_back(std::move(response_bytes));
}

void add_tcp_families(const std::map<std::vector<std::string>, Merged>& merged, bool istio,
                      std::vector<prometheus::MetricFamily>& out) {
  struct Counted {
    const char* mesh;
    const char* istio;
    const char* help;
    std::uint64_t Merged::*value;
  };
  static constexpr Counted kCounted[] = {
      {"mesh_tcp_opened_total", "istio_tcp_connections_opened_total",
       "TCP connections opened, by source and destination workload and Service", &Merged::opened},
      {"mesh_tcp_closed_total", "istio_tcp_connections_closed_total", "TCP connections closed",
       &Merged::closed},
      {"mesh_tcp_received_bytes_total", "istio_tcp_received_bytes_total",
       "Bytes a TCP connection's client sent", &Merged::received},
      {"mesh_tcp_sent_bytes_total", "istio_tcp_sent_bytes_total",
       "Bytes a TCP connection's client was sent", &Merged::sent},
  };
  for (const auto& counted : kCounted) {
    auto f =
        family(istio ? counted.istio : counted.mesh, counted.help, prometheus::MetricType::Counter);
    for (const auto& [values, m] : merged) {
      if (!m.tcp) continue;
      auto metric = labelled(values, true);
      metric.counter.value = static_cast<double>(m.*counted.value);
      f.metric.push_back(std::move(metric));
    }
    out.push_back(std::move(f));
  }
}

}  // namespace

void RequestMetrics::collect(std::vector<prometheus::MetricFamily>& out) const {
  std::map<std::vector<std::string>, Merged> merged;
  std::size_t series = 0;
  {
    const std::lock_guard lock(mutex_);
    series = admitted_.size();
    for (const auto& worker : workers_) {
      const std::lock_guard insert_lock(worker->insert_mutex_);
      for (const auto& [labels, s] : worker->series_) {
        if (!s) continue;
        auto& m = merged[s->labels];
        m.tcp = labels.protocol == RequestProtocol::kTcp;
        m.add(*s);
      }
    }
  }
  const bool istio = istio_names_.load(std::memory_order_relaxed);
  add_request_families(merged, istio ? "istio" : "mesh", out);
  add_tcp_families(merged, istio, out);
  auto gauge = family("mesh_request_series",
                      "Label sets of mesh_requests_total and the mesh_tcp_* families in use",
                      prometheus::MetricType::Gauge);
  gauge.metric.push_back(single(static_cast<double>(series), false));
  out.push_back(std::move(gauge));
  auto dropped = family("mesh_request_series_dropped_total",
                        "Requests and TCP connections not counted by workload: their label set "
                        "was past the cap of label sets",
                        prometheus::MetricType::Counter);
  dropped.metric.push_back(single(static_cast<double>(dropped_.load()), true));
  out.push_back(std::move(dropped));
  auto rejected = family("mesh_peer_field_rejected_total",
                         "Requests whose x-weft-peer field was malformed (labelled unknown)",
                         prometheus::MetricType::Counter);
  rejected.metric.push_back(single(static_cast<double>(rejected_callers_.load()), true));
  out.push_back(std::move(rejected));
  auto overflows = family("mesh_workloads_interned_overflows_total",
                          "Workloads or Services past the interning cap (labelled unknown)",
                          prometheus::MetricType::Counter);
  overflows.metric.push_back(single(static_cast<double>(interning_overflows_.load()), true));
  out.push_back(std::move(overflows));
}

}  // namespace weft::proxy::metrics
