// A downstream request head made into the one that goes upstream, after
// routing. The forward path and the http1_request fuzz harness both call
// these, so what is fuzzed is the order the proxy really applies.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/random.h"
#include "proxy/http/http1/fields.h"
#include "proxy/router/route.h"

namespace weft::proxy::http::http1 {

// Who sent the request, for the forwarding fields.
// Who a peer sidecar's verified certificate says calls, toward the
// application (Envoy's name and By=...;URI=... form).
inline constexpr std::string_view kForwardedClientCert = "x-forwarded-client-cert";

struct Downstream {
  std::string_view peer_ip;
  bool tls = false;
  // x-forwarded-client-cert's value (a peer sidecar's verified identity);
  // empty: the field is only removed.
  std::string_view client_cert;
};

// For any upstream protocol: hop-by-hop fields out (an upgrade keeps its
// Connection and Upgrade), x-forwarded-for appended, x-forwarded-proto set,
// an x-request-id from `rng` when the client sent none,
// x-forwarded-client-cert as `downstream` has it, x-weft-peer as the
// cluster has it (`peer_field`; empty: removed), then the route's edits.
void prepare_upstream_request(RequestHead& head, bool upgrade, const Downstream& downstream,
                              const router::HeaderEdits& edits, std::string_view peer_field,
                              FastRandom& rng);

// How many fields the proxy adds to `head` before the route's edits: the
// forwarding fields, x-weft-peer and Host it lacks, and when `traced` the
// trace context (layers/trace.h; at most 11 in all).
std::size_t fields_added_upstream(const RequestHead& head, bool traced);
inline constexpr std::size_t kMaxFieldsAddedUpstream = 11;

// How the parser found the request body delimited.
struct RequestFraming {
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
};

// For an HTTP/1.1 upstream: prepare_upstream_request, then the framing and
// Host every such request needs (finish_upstream_head), last, so that no
// edit can leave them inconsistent.
void to_http1_upstream_request(RequestHead& head, bool upgrade, const Downstream& downstream,
                               const router::HeaderEdits& edits, std::string_view peer_field,
                               FastRandom& rng, const RequestFraming& framing,
                               std::string_view default_authority);

}  // namespace weft::proxy::http::http1
