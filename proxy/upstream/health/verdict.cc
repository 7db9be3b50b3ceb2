#include "proxy/upstream/health/verdict.h"

#include <charconv>

namespace weft::proxy::upstream::health {

bool advance(Streak& streak, bool passed, const Check& check) {
  if (passed) {
    streak.failures = 0;
    ++streak.passes;
    if (streak.failing && streak.passes >= check.healthy_threshold) {
      streak.failing = false;
      return true;
    }
    return false;
  }
  streak.passes = 0;
  ++streak.failures;
  if (!streak.failing && streak.failures >= check.unhealthy_threshold) {
    streak.failing = true;
    return true;
  }
  return false;
}

std::chrono::milliseconds next_probe(const Check& check, double jitter) {
  const auto spread = static_cast<double>(check.interval.count()) / 10 * jitter;
  return check.interval + std::chrono::milliseconds(static_cast<std::int64_t>(spread));
}

std::optional<unsigned> status_of(std::string_view status_line) {
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 || status_line[8] != ' ') {
    return std::nullopt;
  }
  unsigned status = 0;
  const auto* digits = status_line.data() + 9;
  auto [end, ec] = std::from_chars(digits, digits + 3, status);
  if (ec != std::errc() || end != digits + 3 || status < 100 || status > 599) return std::nullopt;
  if (status_line.size() > 12 && status_line[12] != ' ' && status_line[12] != '\r') {
    return std::nullopt;
  }
  return status;
}

}  // namespace weft::proxy::upstream::health
