// The facts of one request as the layers saw it, whatever HTTP version the
// client spoke: what the access log and the request metrics report. Each
// downstream codec keeps one per request (the HTTP/1.1 connection per
// exchange, the HTTP/2 connection per stream) and the layers fill it in.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/tracing/context.h"

namespace weft::proxy::metrics {
struct Workload;
}

namespace weft::proxy::layers {

struct Record {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  unsigned status = 0;
  std::string_view error;  // x-weft-error reason (http::reason), if any
  std::string_view cluster;
  // The backup Service that served because `cluster`'s own endpoints were
  // all unhealthy (TrafficPolicy failover); the x-weft-failover header.
  std::string_view failover;
  // Consistent hashing: the request's hash (none: no key), and the
  // Set-Cookie of the hash cookie the proxy made for it.
  std::optional<std::uint64_t> hash;
  std::string set_cookie;
  std::string upstream;   // "address:port" of the last attempt's endpoint
  unsigned attempts = 0;  // tries upstream (retries + 1)
  // Body bytes from the client and to it (the access log's bytes, the
  // size histograms).
  std::uint64_t request_bytes = 0;
  std::uint64_t response_bytes = 0;
  bool grpc = false;  // a gRPC call (content-type application/grpc...)
  // For the workload-labelled request metrics (layers/observe.h), interned
  // (metrics/request_metrics.h); null: unknown. The Service called (the
  // cluster's, or as x-weft-peer said on an inbound listener), the
  // workload of the last attempt's endpoint, and the calling workload as
  // x-weft-peer said.
  const std::string* service = nullptr;
  const metrics::Workload* destination = nullptr;
  const metrics::Workload* source = nullptr;
  // This hop's part in the request's trace (layers/trace.h), and when each
  // retry began (the span's events).
  tracing::Hop trace;
  std::vector<std::chrono::steady_clock::time_point> retries;
  // The AuthorizationPolicy that denied the request ("namespace/name"),
  // kept by the snapshot the request runs under; empty: none did.
  std::string_view authz_policy;
};

}  // namespace weft::proxy::layers
