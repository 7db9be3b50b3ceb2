// The timeouts of one request, with one meaning on every HTTP version pair
// (Gateway API GEP-1742):
//   request  from the downstream request head received to the response
//            complete; grpc-timeout shortens it, never lengthens it
//   per_try  one attempt, from its start upstream to its response complete
//   idle     the longest a stream may make no progress (read or write)
// None applies unless configured, except idle, which falls back to the
// listener's: long calls and streams are then bounded by idleness, not cut.
//
// The decision is pure: given the route's timeouts and the clock, which
// deadline an attempt runs under and what its passing is called. The
// connection code enforces it with its own timer mechanism.
#pragma once

#include <chrono>
#include <optional>

#include "proxy/http/failure.h"
#include "proxy/http/grpc.h"
#include "proxy/router/route.h"

namespace weft::proxy::layers::timeout {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A deadline and the failure its passing means.
struct Limit {
  static constexpr Clock::time_point kNever = Clock::time_point::max();

  Clock::time_point when = kNever;
  http::Failure failure = http::Failure::kNone;

  bool never() const { return when == kNever; }
  // This limit, or `idle` from `now` when that comes first.
  Limit or_idle(Clock::time_point now, milliseconds idle) const {
    if (when != kNever && when - now <= idle) return *this;
    return {now + idle, http::Failure::kIdleTimeout};
  }
};

// A gRPC call's own deadline, from its grpc-timeout field (either codec's
// fields: http::FieldList, http::http1::Fields); none for a request that is
// not a gRPC call, or has none, or an unreadable one.
template <class Fields>
std::optional<milliseconds> grpc_timeout(const Fields& fields, bool grpc) {
  if (!grpc) return std::nullopt;
  const auto value = fields.get("grpc-timeout");
  if (!value) return std::nullopt;
  return http::grpc::parse_timeout(*value);
}

class Deadlines {
 public:
  // `received`: when the request head arrived. `grpc_timeout`: the call's
  // grpc-timeout header, parsed (grpc_timeout() above).
  Deadlines(const router::Timeouts& route, std::optional<milliseconds> grpc_timeout,
            milliseconds listener_idle, Clock::time_point received);

  const Limit& request() const { return request_; }
  // An attempt starting at `now`: its per-try deadline, or the request's
  // when that comes first (a tie is the request's).
  Limit attempt(Clock::time_point now) const;
  milliseconds idle() const { return idle_; }

 private:
  Limit request_;
  std::optional<milliseconds> per_try_;
  milliseconds idle_;
};

}  // namespace weft::proxy::layers::timeout
