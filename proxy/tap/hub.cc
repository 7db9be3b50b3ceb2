#include "proxy/tap/hub.h"

#include <algorithm>

namespace weft::proxy::tap {

void Hub::publish(std::string line) {
  const std::lock_guard lock(mutex_);
  ring_.push_back(std::move(line));
  if (ring_.size() > kCapacity) ring_.pop_front();
  ++next_;
}

auto Hub::take(std::optional<std::uint64_t> since, std::size_t max,
               std::chrono::steady_clock::time_point now) -> Taken {
  watched_until_.store((now + kWatchWindow).time_since_epoch().count(), std::memory_order_relaxed);
  const std::lock_guard lock(mutex_);
  Taken out;
  const std::uint64_t oldest = next_ - ring_.size();  // the number of ring_.front()
  // A first poll starts from now: what came before, nobody watched.
  std::uint64_t from = since ? *since + 1 : next_;
  if (from < oldest) {
    out.missed = oldest - from;
    from = oldest;
  }
  from = std::min(from, next_);
  const auto count = std::min<std::uint64_t>(next_ - from, max);
  for (std::uint64_t i = 0; i < count; ++i) out.lines.push_back(ring_[from - oldest + i]);
  out.next = from + count - 1;
  return out;
}

std::uint64_t Hub::published() const {
  const std::lock_guard lock(mutex_);
  return next_ - 1;
}

}  // namespace weft::proxy::tap
