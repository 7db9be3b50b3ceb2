#include "proxy/layers/observe.h"

#include <limits>

namespace weft::proxy::layers::observe {

std::optional<metrics::RequestLabels> labels(const Record& record, const Finished& finished,
                                             const metrics::Workload* unknown_workload,
                                             const std::string* unknown_service) {
  if (finished.self == nullptr || finished.direction == config::Direction::kUnspecified) {
    return std::nullopt;
  }
  const bool outbound = finished.direction == config::Direction::kOutbound;
  metrics::RequestLabels out;
  out.reporter = outbound ? metrics::Reporter::kSource : metrics::Reporter::kDestination;
  const auto* peer = outbound ? record.destination : record.source;
  out.source = outbound ? finished.self : (peer != nullptr ? peer : unknown_workload);
  out.destination = outbound ? (peer != nullptr ? peer : unknown_workload) : finished.self;
  out.service = record.service != nullptr ? record.service : unknown_service;
  out.protocol = record.grpc ? metrics::RequestProtocol::kGrpc : metrics::RequestProtocol::kHttp;
  // A request the client abandoned before any answer has status 0.
  out.code = static_cast<std::uint16_t>(record.status <= 999 ? record.status : 0);
  if (record.grpc && finished.grpc_status) {
    constexpr unsigned kUnknownGrpc = 2;  // codes past 16 are not gRPC's
    out.grpc_status = static_cast<std::int16_t>(*finished.grpc_status <= 16 ? *finished.grpc_status
                                                                            : kUnknownGrpc);
  }
  out.flags = record.error;
  // The source side cannot see how the destination's sidecar took the
  // connection; the destination side can. TLS on an inbound listener is
  // always a peer's mutual TLS (the listener requires a client certificate,
  // listener/dispatch.cc serve_mesh_tls), as Istio labels it.
  out.security = outbound                  ? metrics::Security::kUnknown
                 : finished.downstream_tls ? metrics::Security::kMutualTls
                                           : metrics::Security::kNone;
  return out;
}

std::optional<metrics::RequestLabels> tcp_labels(const Record& record, const Finished& finished,
                                                 const metrics::Workload* unknown_workload,
                                                 const std::string* unknown_service) {
  auto out = labels(record, finished, unknown_workload, unknown_service);
  if (out) {
    out->protocol = metrics::RequestProtocol::kTcp;
    out->code = 0;
    out->grpc_status = -1;
  }
  return out;
}

metrics::WorkerRequests::Series* count_tcp_opened(metrics::WorkerRequests& requests,
                                                  const Record& record, const Finished& finished) {
  const auto& shared = requests.shared();
  auto out = tcp_labels(record, finished, shared.unknown_workload(), shared.unknown_service());
  return out ? requests.tcp_opened(*out) : nullptr;
}

void read_caller(Record& record, std::optional<std::string_view> field,
                 metrics::WorkerRequests& requests) {
  if (!field) return;
  if (auto caller = requests.caller(*field)) {
    record.source = caller->source;
    record.service = caller->service;
  }
}

void count(metrics::WorkerRequests& requests, const Record& record, const Finished& finished,
           double milliseconds) {
  const auto& shared = requests.shared();
  if (auto out = labels(record, finished, shared.unknown_workload(), shared.unknown_service())) {
    requests.record(*out, milliseconds, record.request_bytes, record.response_bytes);
  }
}

}  // namespace weft::proxy::layers::observe
