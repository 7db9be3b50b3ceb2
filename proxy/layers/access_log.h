// The access log layer's decision and its lines: whether a finished
// request is logged (sampled by the MeshConfig percentage, a failed one
// always) and the line it is logged as, JSON or text. Pure: table-tested;
// the worker's LineBuffer (access_log/sink.h) takes the lines off the
// request path.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/random.h"
#include "proxy/layers/exchange.h"
#include "proxy/metrics/workload.h"

namespace weft::proxy::layers::access_log {

enum class Format : std::uint8_t { kJson, kText };

// MeshConfig spec.accessLog (or --access-log), as a snapshot holds it.
struct Settings {
  Format format = Format::kJson;
  std::string path = "/dev/stdout";
  double sampling_percent = 100;

  bool operator==(const Settings&) const = default;
};

// Logged: every request the proxy failed or answered 5xx, the others by
// `draw` (uniform over 64 bits) against the percentage.
bool logged(const Settings& settings, const Record& record, std::uint64_t draw);

// The draw for `logged`: from the request's x-request-id when it has one,
// so both sidecars of a hop (which see the same id) log the same successful
// requests, as Envoy samples by it; else `random`'s. A client that sets its
// own id chooses which of its successes are sampled: failures are logged
// whatever the id, and 100% logs every request.
std::uint64_t sampling_draw(std::string_view request_id, FastRandom& random);

// Everything one line says.
struct Entry {
  std::chrono::system_clock::time_point start;
  double duration_ms = 0;
  std::string_view listener;
  std::string_view downstream;  // the client's address
  std::string_view protocol;    // HTTP/1.1, HTTP/2
  std::string_view method;
  std::string_view path;
  std::string_view authority;
  std::string_view request_id;
  unsigned status = 0;
  std::string_view error;                // the response flag: x-weft-error's reason
  std::string_view cluster;              // the cluster routed to
  const std::string* service = nullptr;  // the Service called; null: unknown
  std::string_view upstream;             // the last attempt's endpoint
  unsigned attempts = 0;
  std::uint64_t bytes_received = 0;  // the request's body, from the client
  std::uint64_t bytes_sent = 0;      // the response's body, to the client
  // The calling and called workloads (x-weft-peer, the endpoint's Pod);
  // null: unknown.
  const metrics::Workload* source = nullptr;
  const metrics::Workload* destination = nullptr;
  std::optional<unsigned> grpc_status;
  std::optional<std::uint32_t> reset;  // HTTP/2: the RST_STREAM code that ended the stream
  tracing::TraceId trace;              // invalid: the request has none
  // Inbound: the caller's verified SPIFFE ID (none: plaintext), and the
  // AuthorizationPolicy that denied the request, if one did (JSON only:
  // the text format's fields are fixed).
  std::string_view peer_identity;
  std::string_view authz_policy;
};

// One line, newline included, appended to `out`.
void append_json(std::string& out, const Entry& entry);
// [START] "METHOD PATH PROTOCOL" STATUS FLAG BYTES_RECEIVED BYTES_SENT
// DURATION_MS ATTEMPTS "AUTHORITY" "SERVICE" "UPSTREAM" "SOURCE"
// "DESTINATION" "REQUEST_ID" "TRACE_ID" "LISTENER"; "-" for what is not
// known, quoted values escaped as JSON strings are.
void append_text(std::string& out, const Entry& entry);

inline void append(std::string& out, Format format, const Entry& entry) {
  if (format == Format::kJson) {
    append_json(out, entry);
  } else {
    append_text(out, entry);
  }
}

}  // namespace weft::proxy::layers::access_log
