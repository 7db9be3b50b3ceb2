#include "common/rfc3339.h"

#include <fmt/chrono.h>

#include <ctime>

namespace weft {

std::string rfc3339(SystemClock::time_point t) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}",
                     std::chrono::time_point_cast<std::chrono::seconds>(t));
}

std::string rfc3339_micro(SystemClock::time_point t) {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch());
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:06d}Z",
                     std::chrono::time_point_cast<std::chrono::seconds>(t),
                     micros.count() % 1000000);
}

SystemClock::time_point parse_rfc3339(std::string_view text) {
  std::tm tm{};
  std::string head(text.substr(0, 19));
  if (strptime(head.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return {};
  return SystemClock::from_time_t(timegm(&tm));
}

}  // namespace weft
