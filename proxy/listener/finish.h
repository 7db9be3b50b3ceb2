// What every codec does when a request ends, whatever HTTP version the
// client spoke: the listener's counters, the workload-labelled request
// metrics, the span (if this hop traces it) and the access log line (if
// one is configured and the request is drawn). The codecs describe the
// request once (Ending); nothing here is written per codec.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "proxy/layers/exchange.h"
#include "proxy/worker/worker_state.h"

namespace weft::proxy::listener {

// What the codec knows of a finished request besides its Record.
struct Ending {
  bool http2 = false;           // the client spoke HTTP/2 (else HTTP/1.x)
  bool tcp = false;             // an opaque TCP connection, not a request
  std::string_view downstream;  // the client's address
  std::string_view method;
  std::string_view target;  // path and query, as sent
  std::string_view authority;
  std::string_view request_id;
  std::optional<unsigned> grpc_status;
  std::optional<std::uint32_t> reset;  // HTTP/2: the RST_STREAM code that ended the stream
  bool downstream_tls = false;
  std::string_view peer_identity;  // inbound: the caller's verified SPIFFE ID
};

// Whether anything reads the Ending's request fields (method, target,
// authority, request id): a span, an access log line or meshctl tap. Finding the Host
// and x-request-id fields is a walk over the request's fields, which a
// request that reports neither does not pay for.
inline bool reports_request_fields(const worker::WorkerState& state, const worker::View& view,
                                   const layers::Record& record) {
  return view.access_log != nullptr || record.trace.recorded() ||
         (state.tap != nullptr && state.tap->active(std::chrono::steady_clock::now()));
}

void finish_request(worker::WorkerState& state, const worker::View& view, std::size_t listener,
                    const layers::Record& record, const Ending& ending);

// The access log line (if one is configured and the request is drawn) and
// the request for meshctl tap (if it watches) alone: for a request refused
// before it was parsed, which the codec counts itself.
void log_request(worker::WorkerState& state, const worker::View& view, std::size_t listener,
                 const layers::Record& record, const Ending& ending,
                 std::chrono::steady_clock::time_point now);

}  // namespace weft::proxy::listener
