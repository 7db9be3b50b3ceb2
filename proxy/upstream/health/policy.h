// Active health checking's settings for a cluster (TrafficPolicy
// healthCheck), as the proxy uses them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace weft::proxy::upstream::health {

struct Check {
  enum class Kind : std::uint8_t { kTcp, kHttp, kGrpc };
  Kind kind = Kind::kTcp;
  std::chrono::milliseconds interval{10'000};  // between probes, plus up to 10% jitter
  std::chrono::milliseconds timeout{1'000};    // one probe's connect, request and answer
  std::uint32_t healthy_threshold = 1;         // passes in a row that bring a failing endpoint back
  std::uint32_t unhealthy_threshold = 3;       // failures in a row that take it out
  std::string path = "/";                      // kHttp: GET this
  std::vector<unsigned> expected_statuses = {200};  // kHttp: any of these passes
  std::string grpc_service;  // kGrpc: grpc.health.v1 service ("": the server)

  bool operator==(const Check&) const = default;
};

}  // namespace weft::proxy::upstream::health
