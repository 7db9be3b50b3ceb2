#include "proxy/upstream/lb/peak_ewma.h"

#include <algorithm>
#include <cmath>

namespace weft::proxy::upstream::lb {
namespace {

// The weight the old estimate keeps after `elapsed`: e^(-elapsed/decay).
// Under load an endpoint is sampled every few milliseconds of a 10 s decay,
// where three terms of the series are within 3e-7 of exp() at a tenth of
// its cost (two or three of these per request).
double kept(Clock::duration elapsed, const PeakEwmaSettings& settings) {
  if (elapsed <= Clock::duration::zero()) return 1.0;
  const double x =
      std::chrono::duration<double>(elapsed) / std::chrono::duration<double>(settings.decay);
  if (x < 0.05) return 1 - x * (1 - x * (0.5 - x / 6));
  return std::exp(-x);
}

double nanoseconds(Clock::duration d) {
  return std::chrono::duration<double, std::nano>(d).count();
}

}  // namespace

double rtt_estimate(const EndpointLoad& load, Clock::time_point now,
                    const PeakEwmaSettings& settings) {
  if (load.sampled == Clock::time_point{}) return nanoseconds(settings.default_rtt);
  return load.rtt_ns * kept(now - load.sampled, settings);
}

void observe(EndpointLoad& load, Clock::duration rtt, bool failed, Clock::time_point now,
             const PeakEwmaSettings& settings) {
  const bool first = load.sampled == Clock::time_point{};
  const double w = first ? 0.0 : kept(now - load.sampled, settings);
  double sample = std::max(0.0, nanoseconds(rtt));
  if (failed) {
    const double estimate = first ? nanoseconds(settings.default_rtt) : load.rtt_ns * w;
    sample = std::max({sample, 2 * estimate, nanoseconds(settings.default_rtt)});
  }
  if (first || sample > load.rtt_ns * w) {
    load.rtt_ns = sample;  // a peak: taken at once
  } else {
    load.rtt_ns = load.rtt_ns * w + sample * (1 - w);
  }
  load.sampled = std::max(now, load.sampled);
}

double cost(const EndpointLoad& load, std::uint32_t weight, Clock::time_point now,
            const PeakEwmaSettings& settings) {
  return rtt_estimate(load, now, settings) * (load.in_flight + 1) / std::max(weight, 1u);
}

}  // namespace weft::proxy::upstream::lb
