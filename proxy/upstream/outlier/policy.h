// Outlier detection's settings for a cluster (TrafficPolicy
// outlierDetection), as the proxy uses them.
#pragma once

#include <chrono>
#include <cstdint>

namespace weft::proxy::upstream::outlier {

struct Policy {
  // Consecutive failures of one kind that eject an endpoint; 0: not used.
  std::uint32_t consecutive_5xx = 0;                    // any 5xx answer (502, 503, 504 included)
  std::uint32_t consecutive_gateway_errors = 0;         // 502, 503, 504
  std::uint32_t consecutive_local_origin_failures = 0;  // connect failure, reset, timeout
  std::chrono::milliseconds base_ejection_time{30'000};
  std::chrono::milliseconds max_ejection_time{300'000};
  std::uint32_t max_ejection_percent = 10;  // of the cluster's endpoints; one always may
  // Each interval served without an ejection shortens the next one by a
  // base ejection time (the count of past ejections falls by one).
  std::chrono::milliseconds interval{10'000};
  // Each interval, the endpoints whose success rate is below the mean by
  // more than `stdev_factor` standard deviations are ejected, when at least
  // `minimum_hosts` endpoints had `request_volume` requests in it.
  struct SuccessRate {
    bool enabled = false;
    std::uint32_t minimum_hosts = 5;
    std::uint32_t request_volume = 100;
    double stdev_factor = 1.9;
    bool operator==(const SuccessRate&) const = default;
  } success_rate;

  bool enabled() const {
    return consecutive_5xx != 0 || consecutive_gateway_errors != 0 ||
           consecutive_local_origin_failures != 0 || success_rate.enabled;
  }
  bool operator==(const Policy&) const = default;
};

}  // namespace weft::proxy::upstream::outlier
