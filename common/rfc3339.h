// Times as Kubernetes writes them (RFC 3339, UTC): Time
// ("2026-01-01T10:00:00Z", conditions, the status endpoint) and MicroTime
// ("2026-01-01T10:00:00.123456Z", Lease renew and acquire times).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace weft {

using SystemClock = std::chrono::system_clock;

std::string rfc3339(SystemClock::time_point t);
std::string rfc3339_micro(SystemClock::time_point t);
// Either form; the epoch when unreadable. Fractions of a second are dropped.
SystemClock::time_point parse_rfc3339(std::string_view text);

}  // namespace weft
