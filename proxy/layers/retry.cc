#include "proxy/layers/retry.h"

#include <algorithm>
#include <charconv>

namespace weft::proxy::layers::retry {
namespace {

using On = router::RetryPolicy::On;

bool has(const router::RetryPolicy& policy, On condition) { return (policy.on & condition) != 0; }

std::optional<std::string> failure_reason(const router::RetryPolicy& policy, const Outcome& outcome,
                                          bool idempotent) {
  using http::Failure;
  const bool any_5xx = has(policy, On::k5xx);
  switch (outcome.failure) {
    // Nothing reached the upstream: safe whatever the method.
    case Failure::kConnectFailure:
    case Failure::kConnectTimeout:
    case Failure::kTlsFailure:
      if (has(policy, On::kConnectFailure) || any_5xx)
        return std::string(http::reason(outcome.failure));
      return std::nullopt;
    case Failure::kReset:
    case Failure::kProtocolError:
      if (outcome.refused) {
        if (has(policy, On::kRefusedStream) || any_5xx) return std::string("refused_stream");
        return std::nullopt;
      }
      if (idempotent && (has(policy, On::kReset) || any_5xx)) {
        return std::string(http::reason(outcome.failure));
      }
      return std::nullopt;
    case Failure::kPerTryTimeout:
      if (idempotent && (any_5xx || has(policy, On::kGatewayError))) {
        return std::string(http::reason(outcome.failure));
      }
      return std::nullopt;
    default:  // the request's own deadline, a missing backend: final
      return std::nullopt;
  }
}

std::optional<std::string> grpc_reason(const router::RetryPolicy& policy, unsigned code) {
  struct GrpcCondition {
    unsigned code;
    On condition;
    std::string_view reason;
  };
  static constexpr GrpcCondition kConditions[] = {
      {1, On::kGrpcCancelled, "grpc_cancelled"},
      {4, On::kGrpcDeadlineExceeded, "grpc_deadline_exceeded"},
      {8, On::kGrpcResourceExhausted, "grpc_resource_exhausted"},
      {14, On::kGrpcUnavailable, "grpc_unavailable"},
  };
  for (const auto& c : kConditions) {
    if (c.code == code && has(policy, c.condition)) return std::string(c.reason);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> retry_reason(const router::RetryPolicy& policy, const Outcome& outcome,
                                        bool idempotent) {
  if (outcome.failure != http::Failure::kNone || outcome.refused) {
    return failure_reason(policy, outcome, idempotent);
  }
  // An answer the route names as retryable is retried whatever the method:
  // the upstream chose it (as Envoy and gRPC's own retry policy do).
  if (outcome.grpc_status) return grpc_reason(policy, *outcome.grpc_status);
  const unsigned status = outcome.status;
  const bool matches = (has(policy, On::k5xx) && status >= 500 && status <= 599) ||
                       (has(policy, On::kGatewayError) && status >= 502 && status <= 504) ||
                       (has(policy, On::kRetriableStatusCodes) &&
                        std::find(policy.status_codes.begin(), policy.status_codes.end(), status) !=
                            policy.status_codes.end());
  if (!matches) return std::nullopt;
  return "status_" + std::to_string(status);
}

bool is_idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

milliseconds backoff(const router::RetryPolicy& policy, unsigned retry,
                     std::optional<milliseconds> retry_after, std::uint64_t random) {
  const auto cap = std::max(policy.max_interval, policy.base_interval);
  if (retry_after) return std::min(*retry_after, cap);
  const unsigned doublings = std::min(retry > 0 ? retry - 1 : 0u, 20u);
  const auto ceiling = std::min(cap, policy.base_interval * (std::int64_t{1} << doublings));
  if (ceiling.count() <= 0) return milliseconds(0);
  return milliseconds(
      static_cast<std::int64_t>(random % static_cast<std::uint64_t>(ceiling.count() + 1)));
}

Outcome answer(unsigned status, std::optional<std::string_view> retry_after,
               std::optional<std::string_view> grpc_status) {
  Outcome outcome;
  outcome.status = status;
  if (retry_after) outcome.retry_after = parse_retry_after(*retry_after);
  if (grpc_status) {
    unsigned code = 0;
    const auto* end = grpc_status->data() + grpc_status->size();
    auto [stop, ec] = std::from_chars(grpc_status->data(), end, code);
    const bool readable = ec == std::errc() && stop == end && !grpc_status->empty() && code <= 16;
    outcome.grpc_status = readable ? code : 2;  // UNKNOWN
  }
  return outcome;
}

std::optional<milliseconds> parse_retry_after(std::string_view value) {
  std::uint32_t seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc() || end != value.data() + value.size() || value.empty()) return std::nullopt;
  return milliseconds(std::int64_t{seconds} * 1000);
}

Budget::Second& Budget::slot(Clock::time_point now) {
  const auto second =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  auto& s = seconds_[static_cast<std::size_t>(second % kWindowSeconds)];
  if (s.second != second) s = {second, 0, 0};
  return s;
}

void Budget::on_request(Clock::time_point now) { ++slot(now).requests; }

bool Budget::can_retry(Clock::time_point now) {
  const auto current =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  double requests = 0, retries = 0;
  for (const auto& s : seconds_) {
    if (s.second > current - kWindowSeconds) {
      requests += s.requests;
      retries += s.retries;
    }
  }
  return retries < requests * ratio_ + min_per_second_ * kWindowSeconds;
}

bool Budget::try_retry(Clock::time_point now) {
  if (!can_retry(now)) return false;
  ++slot(now).retries;
  return true;
}

bool Tries::hold(const Outcome& outcome, bool body_replayable, Clock::time_point now) {
  if (last()) return false;
  auto reason = retry_reason(policy_, outcome, idempotent_);
  if (!reason) return false;
  if (!body_replayable) {
    body_too_large_ = true;
    return false;
  }
  if (!budget_.can_retry(now)) {
    budget_exhausted_ = true;
    return false;
  }
  if (limit_.gate != nullptr) {
    retry_ticket_.release();  // the retry this attempt was, if any, is over
    retry_ticket_ = circuit_breaker::enter(*limit_.gate, limit_.max);
    if (!retry_ticket_) {
      retry_overflow_ = true;
      return false;
    }
  }
  reason_ = std::move(*reason);
  held_ = outcome;
  return true;
}

milliseconds Tries::next(Clock::time_point now, std::uint64_t random) {
  budget_.try_retry(now);
  const auto wait = backoff(policy_, attempt_, held_.retry_after, random);
  ++attempt_;
  return wait;
}

Step Tries::after(const AttemptEnd& end, bool body_replayable, Clock::time_point now,
                  FastRandom& random) {
  // A held answer took the next retry's place already; otherwise the retry
  // this attempt was, if any, is over.
  if (!end.held) retry_ticket_.release();
  if (end.answered) return {Step::Action::kDone, http::Failure::kNone, budget_exhausted_, {}};
  if (!end.held && !hold(end.outcome, body_replayable, now)) {
    return {Step::Action::kReply, end.outcome.failure, budget_exhausted_, {}};
  }
  return {Step::Action::kRetry, http::Failure::kNone, false, next(now, random())};
}

}  // namespace weft::proxy::layers::retry
