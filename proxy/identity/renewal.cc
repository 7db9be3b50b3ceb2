#include "proxy/identity/renewal.h"

#include <algorithm>

namespace weft::proxy::identity {

std::chrono::system_clock::time_point renewal_time(std::chrono::system_clock::time_point received,
                                                   std::chrono::system_clock::time_point not_after,
                                                   double jitter) {
  const auto life = not_after - received;
  if (life <= life.zero()) return received;
  const double share = 0.5 + 0.1 * std::clamp(jitter, 0.0, 1.0);
  return received + std::chrono::duration_cast<std::chrono::system_clock::duration>(life * share);
}

std::chrono::milliseconds retry_delay(unsigned failures, double jitter) {
  constexpr std::chrono::milliseconds kFirst{1'000}, kMost{60'000};
  auto delay = kFirst;
  for (unsigned i = 1; i < failures && delay < kMost; ++i) delay *= 2;
  delay = std::min(delay, kMost);
  const double share = 0.5 + 0.5 * std::clamp(jitter, 0.0, 1.0);
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(static_cast<double>(delay.count()) * share));
}

}  // namespace weft::proxy::identity
