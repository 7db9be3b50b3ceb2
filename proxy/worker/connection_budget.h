// The proxy-wide cap on open downstream connections, shared by every
// worker. Past it, a new connection is closed as it is accepted: a flood of
// connections then costs the proxy a counter, not its file descriptors,
// which its upstream connections and the control-plane stream need too.
#pragma once

#include <atomic>
#include <cstdint>

namespace weft::proxy::worker {

class ConnectionBudget {
 public:
  explicit ConnectionBudget(std::uint64_t cap) : cap_(cap) {}

  // Takes a place for a new connection; false (and nothing taken) when the
  // budget is spent.
  bool open() {
    if (open_.fetch_add(1, std::memory_order_relaxed) < cap_) return true;
    open_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  // Gives back the place of a connection that ended.
  void close() { open_.fetch_sub(1, std::memory_order_relaxed); }
  std::uint64_t open_now() const { return open_.load(std::memory_order_relaxed); }
  std::uint64_t cap() const { return cap_; }

 private:
  std::atomic<std::uint64_t> open_{0};
  std::uint64_t cap_;
};

// The default cap for a process allowed `descriptors` open files: half of
// what is left after a reserve (listeners, the admin endpoints, the
// control-plane stream, log files), since most downstream connections hold
// an upstream one.
constexpr std::uint64_t default_max_connections(std::uint64_t descriptors) {
  constexpr std::uint64_t kReserve = 64;
  return descriptors > kReserve + 2 ? (descriptors - kReserve) / 2 : 1;
}

}  // namespace weft::proxy::worker
