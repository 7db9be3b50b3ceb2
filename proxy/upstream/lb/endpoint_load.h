// What one worker knows of the load on one endpoint: its requests in flight
// and a peak-EWMA estimate of its round-trip time. Kept per endpoint
// address across configuration pushes (make_clusters), so a push does not
// forget a slow or failing endpoint.
#pragma once

#include <chrono>
#include <cstdint>

namespace weft::proxy::upstream::lb {

using Clock = std::chrono::steady_clock;

struct EndpointLoad {
  std::uint32_t in_flight = 0;  // this worker's requests on the endpoint
  double rtt_ns = 0;            // the estimate at `sampled`; 0 with no sample yet
  Clock::time_point sampled{};
  // When this worker first listed the endpoint (slow start); the epoch for
  // the endpoints of the first snapshot, which start at full weight.
  Clock::time_point joined{};
};

}  // namespace weft::proxy::upstream::lb
