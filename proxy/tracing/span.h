// One hop's span as the proxy records it: what the exporters encode
// (tracing/encode.h). Recorded only for sampled requests, so it owns its
// strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proxy/tracing/context.h"

namespace weft::proxy::tracing {

// The outbound sidecar's span is the client side of a hop, the inbound
// sidecar's the server side; a standalone proxy or gateway serves.
enum class SpanKind : std::uint8_t { kServer, kClient };

struct Span {
  TraceId trace;
  SpanId id = 0;
  SpanId parent = 0;  // 0: a root span
  SpanKind kind = SpanKind::kServer;
  std::int64_t start_unix_nanos = 0;
  std::int64_t duration_nanos = 0;
  // OpenTelemetry's HTTP semantic conventions.
  std::string method;                   // http.request.method
  std::string path;                     // url.path (without the query)
  std::string authority;                // server.address (and server.port when it has one)
  unsigned status = 0;                  // http.response.status_code; 0: none was sent
  std::optional<unsigned> grpc_status;  // rpc.grpc.status_code
  // The mesh's own.
  std::string peer_service;    // the Service called (peer.service)
  std::string upstream;        // the last attempt's endpoint, "address:port"
  std::string response_flags;  // why the proxy failed it (x-weft-error); empty: it did not
  unsigned attempts = 0;
  std::vector<std::int64_t> retry_unix_nanos;  // when each retry began: span events
  std::string source_workload;                 // "name.namespace" of the caller, when known
  std::string destination_workload;            // of the endpoint's Pod, when known
};

// Who reports the spans: the resource of OTLP, Zipkin's localEndpoint.
struct Reporter {
  std::string service_name;  // "app.namespace" of the workload, else "mesh-proxy"
  std::string workload;      // "name.namespace"; empty: none
};

}  // namespace weft::proxy::tracing
