// The observe layer's decision: the workload labels a finished request is
// counted under (metrics/request_metrics.h), from what the other layers
// recorded. The source sidecar knows its own workload, the Service it
// routed to and the endpoint's Pod; the destination sidecar knows its own
// workload and, from x-weft-peer, the caller and the Service it called.
// Both therefore label one request the same way. Pure: table-tested.
#pragma once

#include <optional>

#include "proxy/config/snapshot.h"
#include "proxy/layers/exchange.h"
#include "proxy/metrics/request_metrics.h"

namespace weft::proxy::layers::observe {

// What the codec knows at the end of a request besides its Record.
struct Finished {
  config::Direction direction = config::Direction::kUnspecified;
  const metrics::Workload* self = nullptr;  // this proxy's workload; null: none
  std::optional<unsigned> grpc_status;      // a gRPC call's outcome, when it has one
  bool downstream_tls = false;              // the client's connection was TLS
};

// None: the request is not counted with workload labels (no workload, or a
// listener that is neither outbound nor inbound). `unknown_*` label what
// is not known.
std::optional<metrics::RequestLabels> labels(const Record& record, const Finished& finished,
                                             const metrics::Workload* unknown_workload,
                                             const std::string* unknown_service);

// An inbound request's caller and the Service it called, as x-weft-peer
// says (`field`; none: not sent). A malformed field leaves them unknown.
void read_caller(Record& record, std::optional<std::string_view> field,
                 metrics::WorkerRequests& requests);

// A TCP connection's labels: labels() of a `record` with its Service and
// endpoint's Pod (for a cluster) and a failure to connect as its error,
// as protocol tcp.
std::optional<metrics::RequestLabels> tcp_labels(const Record& record, const Finished& finished,
                                                 const metrics::Workload* unknown_workload,
                                                 const std::string* unknown_service);

// Counts a TCP connection opened under tcp_labels(), if it has them; the
// series to count its close in (null: none).
metrics::WorkerRequests::Series* count_tcp_opened(metrics::WorkerRequests& requests,
                                                  const Record& record, const Finished& finished);

// Counts a finished request under labels(), if it has them.
void count(metrics::WorkerRequests& requests, const Record& record, const Finished& finished,
           double milliseconds);

}  // namespace weft::proxy::layers::observe
