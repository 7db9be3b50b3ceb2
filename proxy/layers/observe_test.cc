#include "proxy/layers/observe.h"

#include <gtest/gtest.h>

namespace weft::proxy::layers::observe {
namespace {

using config::Direction;
using metrics::Reporter;
using metrics::Security;

TEST(Observe, BothSidesOfAHopLabelARequestAlike) {
  const metrics::Workload productpage{"productpage", "default", "productpage", "v1", "bookinfo"};
  const metrics::Workload reviews{"reviews", "default", "reviews", "v2", "reviews"};
  const metrics::Workload unknown{"unknown", "unknown", "unknown", "unknown", "unknown"};
  const std::string service = "reviews.default.svc.cluster.local";
  const std::string unknown_service = "unknown";

  struct Case {
    const char* name;
    Record record;
    Finished finished;
    std::optional<metrics::RequestLabels> want;
  };
  auto record = [&](const metrics::Workload* source, const metrics::Workload* destination,
                    unsigned status, std::string_view error = {}, bool grpc = false) {
    Record r;
    r.status = status;
    r.error = error;
    r.grpc = grpc;
    r.service = &service;
    r.source = source;
    r.destination = destination;
    return r;
  };
  const Case cases[] = {
      {"the source sidecar: itself, the endpoint's Pod, the Service it routed to",
       record(nullptr, &reviews, 200),
       {Direction::kOutbound, &productpage, std::nullopt, false},
       metrics::RequestLabels{Reporter::kSource,
                              &productpage,
                              &reviews,
                              &service,
                              metrics::RequestProtocol::kHttp,
                              200,
                              -1,
                              {},
                              Security::kUnknown}},
      {"the destination sidecar: x-weft-peer's caller and Service, itself",
       record(&productpage, nullptr, 200),
       {Direction::kInbound, &reviews, std::nullopt, false},
       metrics::RequestLabels{Reporter::kDestination,
                              &productpage,
                              &reviews,
                              &service,
                              metrics::RequestProtocol::kHttp,
                              200,
                              -1,
                              {},
                              Security::kNone}},
      {"a caller without a sidecar is unknown; mutual TLS to the listener shows",
       record(nullptr, nullptr, 403),
       {Direction::kInbound, &reviews, std::nullopt, true},
       metrics::RequestLabels{Reporter::kDestination,
                              &unknown,
                              &reviews,
                              &service,
                              metrics::RequestProtocol::kHttp,
                              403,
                              -1,
                              {},
                              Security::kMutualTls}},
      {"no endpoint answered: the failure is the flag, the Pod unknown",
       record(nullptr, nullptr, 503, "upstream_connect_failure"),
       {Direction::kOutbound, &productpage, std::nullopt, false},
       metrics::RequestLabels{Reporter::kSource, &productpage, &unknown, &service,
                              metrics::RequestProtocol::kHttp, 503, -1, "upstream_connect_failure",
                              Security::kUnknown}},
      {"a gRPC call carries its status; codes past 16 are UNKNOWN",
       record(nullptr, &reviews, 200, {}, true),
       {Direction::kOutbound, &productpage, 77u, false},
       metrics::RequestLabels{Reporter::kSource,
                              &productpage,
                              &reviews,
                              &service,
                              metrics::RequestProtocol::kGrpc,
                              200,
                              2,
                              {},
                              Security::kUnknown}},
      {"a gRPC call that ended without a status",
       record(nullptr, &reviews, 200, {}, true),
       {Direction::kOutbound, &productpage, std::nullopt, false},
       metrics::RequestLabels{Reporter::kSource,
                              &productpage,
                              &reviews,
                              &service,
                              metrics::RequestProtocol::kGrpc,
                              200,
                              -1,
                              {},
                              Security::kUnknown}},
      {"a proxy without a workload counts none",
       record(nullptr, &reviews, 200),
       {Direction::kOutbound, nullptr, std::nullopt, false},
       std::nullopt},
      {"nor does a listener of neither side (a gateway)",
       record(nullptr, &reviews, 200),
       {Direction::kUnspecified, &productpage, std::nullopt, false},
       std::nullopt},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(labels(c.record, c.finished, &unknown, &unknown_service), c.want) << c.name;
  }
  Record routed_nowhere;
  routed_nowhere.status = 404;
  auto l = labels(routed_nowhere, {Direction::kOutbound, &productpage, std::nullopt, false},
                  &unknown, &unknown_service);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->service, &unknown_service);
}

TEST(Observe, ATcpConnectionIsLabelledAsARequestWithoutAnAnswer) {
  const metrics::Workload client{"client", "default", "client", "unknown", "client"};
  const metrics::Workload db{"postgres", "data", "postgres", "16", "postgres"};
  const metrics::Workload unknown{"unknown", "unknown", "unknown", "unknown", "unknown"};
  const std::string service = "postgres.data.svc.cluster.local";
  const std::string unknown_service = "unknown";
  Record record;
  record.service = &service;
  record.destination = &db;
  record.error = "upstream_connect_failure";
  record.status = 503;  // ignored: a byte stream has no status
  record.grpc = true;   // likewise
  auto l =
      tcp_labels(record, {Direction::kOutbound, &client, 0u, false}, &unknown, &unknown_service);
  ASSERT_TRUE(l);
  EXPECT_EQ(*l, (metrics::RequestLabels{Reporter::kSource, &client, &db, &service,
                                        metrics::RequestProtocol::kTcp, 0, -1,
                                        "upstream_connect_failure", Security::kUnknown}));
  // Inbound: the caller of a byte stream is not known (no x-weft-peer).
  auto in = tcp_labels(Record{}, {Direction::kInbound, &db, std::nullopt, false}, &unknown,
                       &unknown_service);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->source, &unknown);
  EXPECT_EQ(in->service, &unknown_service);
  EXPECT_EQ(in->destination, &db);
  EXPECT_FALSE(tcp_labels(record, {Direction::kUnspecified, &client, std::nullopt, false}, &unknown,
                          &unknown_service));
}

}  // namespace
}  // namespace weft::proxy::layers::observe
