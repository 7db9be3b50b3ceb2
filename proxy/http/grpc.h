// gRPC over HTTP/2 as the proxy sees it (the "gRPC over HTTP2" protocol
// document): recognising a call, its deadline, and the trailers-only
// response the proxy sends when it fails a call itself.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace weft::proxy::http::grpc {

// "application/grpc", "application/grpc+proto", ...
bool is_grpc(std::string_view content_type);

// grpc-timeout: 1 to 8 digits and a unit (H M S m u n). Nullopt when
// malformed; sub-millisecond values round up to 1 ms.
std::optional<std::chrono::milliseconds> parse_timeout(std::string_view value);

// The gRPC status code for a response the proxy generates (x-weft-error
// reason and HTTP status): UNAVAILABLE for connect failures and resets,
// DEADLINE_EXCEEDED for timeouts, UNIMPLEMENTED for no route, ...
unsigned status_for(unsigned http_status, std::string_view reason);

// The HTTP status an upstream's gRPC answer stands for when the balancer
// and outlier detection judge it, as Envoy maps them: a head carrying
// `grpc_status` (a trailers-only answer) counts as UNAVAILABLE 503,
// INTERNAL and UNKNOWN 500, DEADLINE_EXCEEDED 504, RESOURCE_EXHAUSTED 429,
// UNIMPLEMENTED 501, ... and OK 200; without one (the call goes on, its
// status comes in the trailers) or with an unreadable one, the head's own
// `http_status`.
unsigned judged_status(unsigned http_status, std::optional<std::string_view> grpc_status);

// The status code's canonical name, for the gRPC status metric label.
std::string_view status_name(unsigned code);

}  // namespace weft::proxy::http::grpc
