// steady_clock's time read from CLOCK_MONOTONIC_COARSE: the same clock at
// the kernel tick's resolution (4 ms on this kernel) for about a tenth of
// the cost (2.6 ns against 20 ns through the vDSO). For deadlines and idle
// times, which the worker's 50 ms sweep checks anyway; not for durations
// that are reported.
#pragma once

#include <time.h>

#include <chrono>

namespace weft::proxy::worker {

inline std::chrono::steady_clock::time_point coarse_now() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return std::chrono::steady_clock::time_point(std::chrono::seconds(now.tv_sec) +
                                               std::chrono::nanoseconds(now.tv_nsec));
}

}  // namespace weft::proxy::worker
