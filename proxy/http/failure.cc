#include "proxy/http/failure.h"

#include <array>

namespace weft::proxy::http {
namespace {

// Indexed by Failure.
constexpr std::array<FailureText, 13> kTexts{{
    {"", 200, ""},
    // 500, as Gateway API requires for a request to an invalid backendRef.
    {"backend_not_found", 500, "backend not found\n"},
    {"no_healthy_upstream", 503, "no healthy upstream\n"},
    {"upstream_connect_failure", 503, "upstream connect failure\n"},
    {"upstream_connect_timeout", 503, "upstream connect timeout\n"},
    {"upstream_tls_failure", 503, "upstream TLS handshake failed\n"},
    {"request_timeout", 504, "request timeout\n"},
    {"per_try_timeout", 504, "upstream per-try timeout\n"},
    {"stream_idle_timeout", 504, "stream idle timeout\n"},
    {"upstream_reset", 502, "upstream reset before response\n"},
    {"upstream_protocol_error", 502, "upstream protocol error\n"},
    {"retry_budget_exhausted", 503, "retry budget exhausted\n"},
    {"upstream_overflow", 503, "upstream overflow: the cluster's circuit breaker is open\n"},
}};

constexpr std::array<Failure, 12> kAll{
    Failure::kBackendNotFound, Failure::kNoHealthyUpstream,    Failure::kConnectFailure,
    Failure::kConnectTimeout,  Failure::kTlsFailure,           Failure::kRequestTimeout,
    Failure::kPerTryTimeout,   Failure::kIdleTimeout,          Failure::kReset,
    Failure::kProtocolError,   Failure::kRetryBudgetExhausted, Failure::kUpstreamOverflow};

}  // namespace

const FailureText& describe(Failure failure) { return kTexts[static_cast<std::size_t>(failure)]; }

std::span<const Failure> all_failures() { return kAll; }

}  // namespace weft::proxy::http
