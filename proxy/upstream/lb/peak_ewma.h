// Peak-EWMA, the latency estimate behind the PeakEWMA balancer (Finagle's,
// then Linkerd's): an exponentially weighted moving average of round-trip
// times that jumps at once to a sample above it (a peak) and otherwise
// moves toward the samples, and toward zero while no sample comes, with a
// time constant of `decay`. An endpoint's cost is that estimate times its
// requests in flight plus one, over its weight: a slow or busy endpoint is
// avoided, and one left alone long enough is tried again.
//
// A failed request (5xx, 429, a refused or reset connection, a timeout)
// counts as a sample of at least twice the estimate (and at least the
// default RTT): an endpoint that answers errors quickly must not look like
// the fastest one. Repeated failures double its cost each time; successes
// and time bring it back.
#pragma once

#include <chrono>

#include "proxy/upstream/lb/endpoint_load.h"

namespace weft::proxy::upstream::lb {

struct PeakEwmaSettings {
  Clock::duration decay = std::chrono::seconds(10);
  // The estimate of an endpoint with no sample yet.
  Clock::duration default_rtt = std::chrono::milliseconds(30);
};

// The estimate of `load` at `now`, in nanoseconds: decayed toward zero
// since its last sample; the default RTT without one.
double rtt_estimate(const EndpointLoad& load, Clock::time_point now,
                    const PeakEwmaSettings& settings);

// Adds one request's round trip (`rtt`, to its response head or failure).
void observe(EndpointLoad& load, Clock::duration rtt, bool failed, Clock::time_point now,
             const PeakEwmaSettings& settings);

// The endpoint's cost for a request now: lower is better.
double cost(const EndpointLoad& load, std::uint32_t weight, Clock::time_point now,
            const PeakEwmaSettings& settings);

}  // namespace weft::proxy::upstream::lb
