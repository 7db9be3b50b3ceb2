// Why the proxy answered a request itself, or cut a response short: one
// value per cause, from which the x-weft-error header, the access log's
// `error` field and the mesh_local_replies_total{reason} label all come, so
// the three never disagree.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace weft::proxy::http {

enum class Failure : std::uint8_t {
  kNone,
  kBackendNotFound,    // a split's share whose backend did not resolve
  kNoHealthyUpstream,  // the cluster has no endpoint
  kConnectFailure,     // refused or unreachable
  kConnectTimeout,     // the cluster's connect_timeout passed
  kTlsFailure,         // the TLS handshake to the upstream failed
  kRequestTimeout,     // the route's request timeout (or grpc-timeout) passed
  kPerTryTimeout,      // one attempt's timeout passed
  kIdleTimeout,        // the stream made no progress for its idle timeout
  kReset,              // the upstream closed or reset before a full response
  kProtocolError,      // the upstream's response could not be parsed
  // A retry the policy asked for was refused by the cluster's retry budget;
  // the answer keeps the status of the failure it follows.
  kRetryBudgetExhausted,
  // The cluster's circuit breaker refused the request (maxRequests in flight).
  kUpstreamOverflow,
};

struct FailureText {
  std::string_view reason;  // x-weft-error value, log field, metric label
  unsigned status;          // the status of the local reply
  std::string_view body;    // its text
};

const FailureText& describe(Failure failure);
inline std::string_view reason(Failure failure) { return describe(failure).reason; }

// Every failure but kNone, for metrics that exist before the first one.
std::span<const Failure> all_failures();

}  // namespace weft::proxy::http
