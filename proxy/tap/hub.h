// Live requests for `meshctl tap`: while someone watches, every finished
// request's access-log JSON line is kept in a ring of the last kCapacity,
// numbered, and a watcher long-polls the admin endpoint /tap for those
// after the last it saw. Off unless the proxy runs with --tap, and costs
// one relaxed load per request when nobody has asked for kWatchWindow.
// Bounded: a watcher slower than kCapacity lines is told how many it
// missed (mesh_tap_requests_total{outcome="missed"}).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace weft::proxy::tap {

class Hub {
 public:
  static constexpr std::size_t kCapacity = 1024;
  static constexpr std::chrono::seconds kWatchWindow{5};

  // Any thread: whether requests are published (a watcher asked lately).
  bool active(std::chrono::steady_clock::time_point now) const {
    return now.time_since_epoch().count() < watched_until_.load(std::memory_order_relaxed);
  }
  // Any thread: one request's line (JSON, no newline).
  void publish(std::string line);

  struct Taken {
    std::vector<std::string> lines;
    std::uint64_t next = 0;    // the `since` of the next poll
    std::uint64_t missed = 0;  // lines after `since` already overwritten
  };
  // Main thread: the lines after number `since` (none: from now on), at
  // most `max`, and keeps publishing on for kWatchWindow.
  Taken take(std::optional<std::uint64_t> since, std::size_t max,
             std::chrono::steady_clock::time_point now);
  std::uint64_t published() const;

 private:
  std::atomic<std::int64_t> watched_until_{0};
  mutable std::mutex mutex_;
  std::deque<std::string> ring_;
  std::uint64_t next_ = 1;  // the number the next line gets
};

}  // namespace weft::proxy::tap
