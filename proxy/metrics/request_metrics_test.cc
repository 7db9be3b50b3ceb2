#include "proxy/metrics/request_metrics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace weft::proxy::metrics {
namespace {

const prometheus::MetricFamily& family(const std::vector<prometheus::MetricFamily>& families,
                                       std::string_view name) {
  auto it =
      std::find_if(families.begin(), families.end(), [&](const auto& f) { return f.name == name; });
  EXPECT_NE(it, families.end()) << name;
  return *it;
}

std::string label(const prometheus::ClientMetric& metric, std::string_view name) {
  for (const auto& l : metric.label) {
    if (l.name == name) return l.value;
  }
  return "<absent>";
}

class RequestMetricsTest : public ::testing::Test {
 protected:
  RequestLabels labels(unsigned code) {
    RequestLabels out;
    out.reporter = Reporter::kSource;
    out.source = shared.workload({"productpage", "default", "productpage", "v1", "bookinfo"});
    out.destination = shared.workload({"reviews", "default", "reviews", "v2", "reviews"});
    out.service = shared.service("reviews.default.svc.cluster.local");
    out.code = static_cast<std::uint16_t>(code);
    return out;
  }
  RequestMetrics shared;
};

TEST_F(RequestMetricsTest, MergesEveryWorkersSeriesByLabels) {
  auto& first = shared.add_worker();
  auto& second = shared.add_worker();
  first.record(labels(200), 3, 0, 1);
  first.record(labels(200), 700, 150, 20'000);
  second.record(labels(200), 0.2, 10, 2'000'000'000);
  second.record(labels(503), 12, 0, 0);
  std::vector<prometheus::MetricFamily> families;
  shared.collect(families);

  const auto& requests = family(families, "mesh_requests_total");
  ASSERT_EQ(requests.metric.size(), 2u);
  for (const auto& m : requests.metric) {
    EXPECT_EQ(m.label.size(), kRequestLabelNames.size());
    EXPECT_EQ(label(m, "reporter"), "source");
    EXPECT_EQ(label(m, "source_workload"), "productpage");
    EXPECT_EQ(label(m, "destination_version"), "v2");
    EXPECT_EQ(label(m, "destination_service"), "reviews.default.svc.cluster.local");
    EXPECT_EQ(label(m, "source_principal"), "unknown");
    EXPECT_EQ(label(m, "response_flags"), "-");
    EXPECT_EQ(label(m, "grpc_response_status"), "");
    EXPECT_EQ(m.counter.value, label(m, "response_code") == "200" ? 3 : 1);
  }
  const auto& duration = family(families, "mesh_request_duration_milliseconds");
  const auto& ok =
      label(duration.metric[0], "response_code") == "200" ? duration.metric[0] : duration.metric[1];
  EXPECT_EQ(ok.histogram.sample_count, 3u);
  EXPECT_DOUBLE_EQ(ok.histogram.sample_sum, 703.2);
  // Cumulative, Istio's boundaries in milliseconds, +Inf last.
  ASSERT_EQ(ok.histogram.bucket.size(), kDurationBucketsMs.size() + 1);
  EXPECT_EQ(ok.histogram.bucket[0].upper_bound, 0.5);
  EXPECT_EQ(ok.histogram.bucket[0].cumulative_count, 1u);  // 0.2
  EXPECT_EQ(ok.histogram.bucket[2].cumulative_count, 2u);  // 3 <= 5
  EXPECT_EQ(ok.histogram.bucket[7].cumulative_count, 2u);  // <= 250
  EXPECT_EQ(ok.histogram.bucket[9].cumulative_count, 3u);  // 700 <= 1000
  EXPECT_EQ(ok.histogram.bucket.back().cumulative_count, 3u);
  EXPECT_EQ(family(families, "mesh_request_series").metric[0].gauge.value, 2);

  // Body sizes: Istio's boundaries in bytes (1, 10, ... 10^9), +Inf last.
  const auto& requests_sized = family(families, "mesh_request_bytes");
  const auto& responses_sized = family(families, "mesh_response_bytes");
  const auto ok_of = [](const prometheus::MetricFamily& f) -> const prometheus::ClientMetric& {
    return label(f.metric[0], "response_code") == "200" ? f.metric[0] : f.metric[1];
  };
  const auto& sent = ok_of(requests_sized).histogram;
  ASSERT_EQ(sent.bucket.size(), kSizeBucketsBytes.size() + 1);
  EXPECT_EQ(sent.sample_count, 3u);
  EXPECT_EQ(sent.sample_sum, 160);
  EXPECT_EQ(sent.bucket[0].cumulative_count, 1u);  // 0 <= 1
  EXPECT_EQ(sent.bucket[1].cumulative_count, 2u);  // 10 <= 10
  EXPECT_EQ(sent.bucket[2].cumulative_count, 2u);
  EXPECT_EQ(sent.bucket[3].cumulative_count, 3u);  // 150 <= 1000
  const auto& received = ok_of(responses_sized).histogram;
  EXPECT_EQ(received.sample_sum, 2'000'020'001);
  EXPECT_EQ(received.bucket[0].cumulative_count, 1u);  // 1 <= 1
  EXPECT_EQ(received.bucket[5].cumulative_count, 2u);  // 20,000 <= 100,000
  EXPECT_EQ(received.bucket[9].cumulative_count, 2u);  // 2*10^9 only in +Inf
  EXPECT_EQ(received.bucket[10].cumulative_count, 3u);
}

TEST_F(RequestMetricsTest, IstioNamesRenameOnlyTheRequestFamilies) {
  auto& worker = shared.add_worker();
  worker.record(labels(200), 3, 0, 0);
  shared.use_istio_names(true);
  std::vector<prometheus::MetricFamily> families;
  shared.collect(families);
  std::vector<std::string> names(families.size());
  std::transform(families.begin(), families.end(), names.begin(),
                 [](const auto& f) { return f.name; });
  EXPECT_EQ(
      names,
      (std::vector<std::string>{
          "istio_requests_total", "istio_request_duration_milliseconds", "istio_request_bytes",
          "istio_response_bytes", "istio_tcp_connections_opened_total",
          "istio_tcp_connections_closed_total", "istio_tcp_received_bytes_total",
          "istio_tcp_sent_bytes_total", "mesh_request_series", "mesh_request_series_dropped_total",
          "mesh_peer_field_rejected_total", "mesh_workloads_interned_overflows_total"}));
  EXPECT_EQ(family(families, "istio_requests_total").metric[0].counter.value, 1);
}

TEST_F(RequestMetricsTest, TcpConnectionsHaveTheirOwnFamiliesWithoutResponseLabels) {
  auto& first = shared.add_worker();
  auto& second = shared.add_worker();
  auto tcp = labels(0);
  tcp.protocol = RequestProtocol::kTcp;
  WorkerRequests::tcp_closed(first.tcp_opened(tcp), 100, 2000);
  auto* open = second.tcp_opened(tcp);  // still open: opened, not closed
  first.record(labels(200), 1, 0, 0);
  std::vector<prometheus::MetricFamily> families;
  shared.collect(families);

  const auto& opened = family(families, "mesh_tcp_opened_total");
  ASSERT_EQ(opened.metric.size(), 1u);
  EXPECT_EQ(opened.metric[0].counter.value, 2);
  EXPECT_EQ(opened.metric[0].label.size(), kRequestLabelNames.size() - 2);
  EXPECT_EQ(label(opened.metric[0], "request_protocol"), "tcp");
  EXPECT_EQ(label(opened.metric[0], "response_code"), "<absent>");
  EXPECT_EQ(label(opened.metric[0], "destination_workload"), "reviews");
  EXPECT_EQ(family(families, "mesh_tcp_closed_total").metric[0].counter.value, 1);
  EXPECT_EQ(family(families, "mesh_tcp_received_bytes_total").metric[0].counter.value, 100);
  EXPECT_EQ(family(families, "mesh_tcp_sent_bytes_total").metric[0].counter.value, 2000);
  // Requests and connections stay apart.
  EXPECT_EQ(family(families, "mesh_requests_total").metric.size(), 1u);
  WorkerRequests::tcp_closed(open, 0, 0);

  shared.use_istio_names(true);
  families.clear();
  shared.collect(families);
  EXPECT_EQ(family(families, "istio_tcp_connections_closed_total").metric[0].counter.value, 2);
  EXPECT_EQ(family(families, "istio_tcp_sent_bytes_total").metric[0].counter.value, 2000);
}

TEST_F(RequestMetricsTest, CountsWhatIsPastTheCapOfLabelSetsAsDropped) {
  auto& worker = shared.add_worker();
  for (unsigned i = 0; i < kMaxRequestSeries + 10; ++i) {
    auto l = labels(200);
    l.grpc_status = static_cast<std::int16_t>(i % 17);
    l.code = static_cast<std::uint16_t>(i / 17);
    worker.record(l, 1, 0, 0);
  }
  worker.record(labels(0), 1, 0, 0);  // new, past the cap
  std::vector<prometheus::MetricFamily> families;
  shared.collect(families);
  EXPECT_EQ(family(families, "mesh_requests_total").metric.size(), kMaxRequestSeries);
  EXPECT_EQ(family(families, "mesh_request_series").metric[0].gauge.value, kMaxRequestSeries);
  EXPECT_EQ(family(families, "mesh_request_series_dropped_total").metric[0].counter.value, 11);
}

TEST_F(RequestMetricsTest, InternsCallersAndCountsMalformedFields) {
  auto& worker = shared.add_worker();
  auto caller = worker.caller("w=productpage;ns=default;svc=reviews.default.svc.cluster.local");
  ASSERT_TRUE(caller);
  EXPECT_EQ(caller->source->name, "productpage");
  EXPECT_EQ(caller->source->app, "unknown");
  EXPECT_EQ(caller->service, shared.service("reviews.default.svc.cluster.local"));
  // The same workload, however it arrives, is the same object.
  auto again = worker.caller("svc=reviews.default.svc.cluster.local;ns=default;w=productpage");
  EXPECT_EQ(again->source, caller->source);
  EXPECT_FALSE(worker.caller("w=a b;ns=x;svc=y"));
  EXPECT_FALSE(worker.caller("w=a b;ns=x;svc=y"));  // cached, counted again
  std::vector<prometheus::MetricFamily> families;
  shared.collect(families);
  EXPECT_EQ(family(families, "mesh_peer_field_rejected_total").metric[0].counter.value, 2);
}

TEST_F(RequestMetricsTest, WorkloadsPastTheCapAreUnknown) {
  for (std::size_t i = 0; i < kMaxWorkloads; ++i) {
    EXPECT_NE(shared.workload({"w" + std::to_string(i), "ns", "a", "v", "sa"}),
              shared.unknown_workload());
  }
  EXPECT_EQ(shared.workload({"one-more", "ns", "a", "v", "sa"}), shared.unknown_workload());
  EXPECT_NE(shared.workload({"w0", "ns", "a", "v", "sa"}), shared.unknown_workload());
  std::vector<prometheus::MetricFamily> families;
  shared.collect(families);
  EXPECT_EQ(family(families, "mesh_workloads_interned_overflows_total").metric[0].counter.value, 1);
}

}  // namespace
}  // namespace weft::proxy::metrics
