// How a cluster's balancer picks endpoints: the part of a cluster's
// configuration (TrafficPolicy loadBalancer) the balancer reads.
#pragma once

#include <chrono>
#include <cstdint>

namespace weft::proxy::upstream::lb {

enum class Algorithm : std::uint8_t {
  kRoundRobin,
  kRandom,
  kLeastRequest,
  kPeakEwma,
  kRingHash,  // consistent hashing (hash_table.h)
  kMaglev,
};

inline bool is_hashing(Algorithm algorithm) {
  return algorithm == Algorithm::kRingHash || algorithm == Algorithm::kMaglev;
}

struct Policy {
  Algorithm algorithm = Algorithm::kPeakEwma;
  std::chrono::steady_clock::duration slow_start{};  // zero: none
  // Below this percent of endpoints healthy, all are used (0: never).
  std::uint32_t panic_threshold = 50;

  bool operator==(const Policy&) const = default;
};

}  // namespace weft::proxy::upstream::lb
