#include "proxy/upstream/outlier/detector.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace weft::proxy::upstream::outlier {

std::optional<Result> classify(unsigned status, http::Failure failure) {
  if (status != 0) {
    if (status < 500) return Result::kSuccess;
    return status >= 502 && status <= 504 ? Result::kGatewayError : Result::kServerError;
  }
  switch (failure) {
    case http::Failure::kConnectFailure:
    case http::Failure::kConnectTimeout:
    case http::Failure::kTlsFailure:
    case http::Failure::kRequestTimeout:
    case http::Failure::kPerTryTimeout:
    case http::Failure::kIdleTimeout:
    case http::Failure::kReset:
    case http::Failure::kProtocolError:
      return Result::kLocalOriginFailure;
    default:
      return std::nullopt;
  }
}

const char* reason_label(Reason reason) {
  switch (reason) {
    case Reason::kConsecutive5xx:
      return "consecutive_5xx";
    case Reason::kConsecutiveGatewayErrors:
      return "consecutive_gateway_errors";
    case Reason::kConsecutiveLocalOriginFailures:
      return "consecutive_local_origin_failures";
    case Reason::kSuccessRate:
      return "success_rate";
    case Reason::kNone:
      break;
  }
  return "none";
}

namespace {

bool reached(std::uint32_t count, std::uint32_t threshold) {
  return threshold != 0 && count >= threshold;
}

}  // namespace

Reason advance(Streaks& streaks, Result result, const Policy& policy) {
  switch (result) {
    case Result::kSuccess:
      streaks = {};
      return Reason::kNone;
    case Result::kLocalOriginFailure:
      ++streaks.local_origin;
      break;
    case Result::kGatewayError:
      ++streaks.gateway_errors;
      ++streaks.server_errors;
      streaks.local_origin = 0;
      break;
    case Result::kServerError:
      ++streaks.server_errors;
      streaks.gateway_errors = 0;
      streaks.local_origin = 0;
      break;
  }
  if (reached(streaks.server_errors, policy.consecutive_5xx)) return Reason::kConsecutive5xx;
  if (reached(streaks.gateway_errors, policy.consecutive_gateway_errors)) {
    return Reason::kConsecutiveGatewayErrors;
  }
  if (reached(streaks.local_origin, policy.consecutive_local_origin_failures)) {
    return Reason::kConsecutiveLocalOriginFailures;
  }
  return Reason::kNone;
}

bool may_eject(std::size_t ejected, std::size_t total, std::uint32_t max_percent) {
  return ejected == 0 || (ejected + 1) * 100 <= std::size_t{max_percent} * total;
}

Clock::duration ejection_time(const Policy& policy, std::uint32_t nth) {
  const auto time = policy.base_ejection_time * std::max<std::uint32_t>(nth, 1);
  return std::min(time, std::max(policy.max_ejection_time, policy.base_ejection_time));
}

std::uint32_t remembered_ejections(std::uint32_t ejections, Clock::duration back_for,
                                   const Policy& policy) {
  if (back_for <= Clock::duration::zero() || policy.interval.count() <= 0) return ejections;
  const auto forgotten = static_cast<std::uint64_t>(back_for / policy.interval);
  return forgotten >= ejections ? 0 : ejections - static_cast<std::uint32_t>(forgotten);
}

std::vector<std::size_t> success_rate_outliers(std::span<const RateSample> samples,
                                               const Policy::SuccessRate& policy) {
  std::vector<std::pair<double, std::size_t>> judged;  // success rate, endpoint
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const auto& sample = samples[i];
    if (sample.requests == 0 || sample.requests < policy.request_volume) continue;
    judged.emplace_back(
        static_cast<double>(sample.successes) / static_cast<double>(sample.requests), i);
  }
  std::vector<std::size_t> outliers;
  if (judged.empty() || judged.size() < policy.minimum_hosts) return outliers;
  double mean = 0;
  for (const auto& [rate, endpoint] : judged) mean += rate;
  mean /= static_cast<double>(judged.size());
  double variance = 0;
  for (const auto& [rate, endpoint] : judged) variance += (rate - mean) * (rate - mean);
  variance /= static_cast<double>(judged.size());
  const double floor = mean - policy.stdev_factor * std::sqrt(variance);
  std::sort(judged.begin(), judged.end());
  for (const auto& [rate, endpoint] : judged) {
    if (rate >= floor) break;
    outliers.push_back(endpoint);
  }
  return outliers;
}

Reason EndpointHealth::record(Result result, const Policy& policy) {
  // The streaks are each one atomic, advanced the way advance() does; a
  // success from another worker in between only starts a streak over.
  constexpr auto kRelaxed = std::memory_order_relaxed;
  if (policy.success_rate.enabled) {
    requests_.fetch_add(1, kRelaxed);
    if (result == Result::kSuccess) successes_.fetch_add(1, kRelaxed);
  }
  Streaks streaks{server_errors_.load(kRelaxed), gateway_errors_.load(kRelaxed),
                  local_origin_.load(kRelaxed)};
  const auto reason = advance(streaks, result, policy);
  server_errors_.store(streaks.server_errors, kRelaxed);
  gateway_errors_.store(streaks.gateway_errors, kRelaxed);
  local_origin_.store(streaks.local_origin, kRelaxed);
  return reason;
}

void EndpointHealth::eject(const Policy& policy, Clock::time_point now) {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  const auto returned = ejected_until();
  const auto nth = remembered_ejections(ejections_.load(kRelaxed), now - returned, policy) + 1;
  ejections_.store(nth, kRelaxed);
  ejected_until_.store((now + ejection_time(policy, nth)).time_since_epoch().count(), kRelaxed);
  // A new streak starts when it returns.
  server_errors_.store(0, kRelaxed);
  gateway_errors_.store(0, kRelaxed);
  local_origin_.store(0, kRelaxed);
}

}  // namespace weft::proxy::upstream::outlier
