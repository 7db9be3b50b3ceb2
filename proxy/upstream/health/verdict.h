// Active health checking's decisions, pure: when a run of probe results
// takes an endpoint out or brings it back, when the next probe goes, and
// what an HTTP probe's status line and a gRPC probe's answer say.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/upstream/health/policy.h"

namespace weft::proxy::upstream::health {

// One endpoint's run of results. An endpoint starts passing: it served
// before the first probe, and a probe comes at once.
struct Streak {
  std::uint32_t passes = 0;
  std::uint32_t failures = 0;
  bool failing = false;
};

// Counts one probe; true when the endpoint's state flipped.
bool advance(Streak& streak, bool passed, const Check& check);

// The wait before the next probe: the interval plus `jitter` (uniform in
// [0, 1)) of a tenth of it, so probes of many proxies do not align.
std::chrono::milliseconds next_probe(const Check& check, double jitter);

// The status of an HTTP/1.x status line ("HTTP/1.1 200 OK"); none when it
// is not one.
std::optional<unsigned> status_of(std::string_view status_line);

// The grpc.health.v1.Health/Check call's path, and its request message
// (HealthCheckRequest{service}) framed as gRPC sends it.
inline constexpr std::string_view kGrpcCheckPath = "/grpc.health.v1.Health/Check";
std::string grpc_check_request(std::string_view service);

// Whether a Check call's answer passes: grpc-status 0 (none: the call did
// not finish) and exactly one HealthCheckResponse in `body` (the response's
// DATA) whose status is SERVING. NOT_SERVING, UNKNOWN, a malformed or
// compressed message, or an error status (NOT_FOUND for a service the
// server does not know) fail.
bool grpc_check_passed(std::optional<std::string_view> grpc_status, std::string_view body);

}  // namespace weft::proxy::upstream::health
