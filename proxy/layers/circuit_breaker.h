// Circuit breaking (TrafficPolicy connectionPool.maxRequests, maxRetries,
// maxConnections, maxPendingRequests):
// a cluster's requests and retries in flight are counted over all of the
// proxy's workers, and one past its limit is refused at once (503,
// x-weft-error: upstream_overflow, mesh_upstream_overflows_total) rather
// than queued, so an overloaded upstream sheds load instead of building a
// backlog. A retry past maxRetries is not made: the answer before it
// stands. Connections past maxConnections are not opened: the request
// waits for one (upstream/connect.h), as one of at most maxPendingRequests
// waiting, and one past that is refused as upstream_overflow.
//
// The counts are atomics shared by every worker: the one cross-worker
// state on the request path, one uncontended increment and decrement per
// request. The decision itself is admits(), pure.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

namespace weft::proxy::layers::circuit_breaker {

// Whether one more may start with `in_flight` already running; 0 is no limit.
inline bool admits(std::uint32_t in_flight, std::uint32_t max) {
  return max == 0 || in_flight < max;
}

// One limited count, shared by every worker's view of a cluster for the
// proxy's life (a configuration push keeps it, so in-flight requests of the
// old configuration still count).
class Gate {
 public:
  bool try_enter(std::uint32_t max) {
    auto current = active_.load(std::memory_order_relaxed);
    do {
      if (!admits(current, max)) return false;
    } while (!active_.compare_exchange_weak(current, current + 1, std::memory_order_relaxed));
    return true;
  }
  void leave() { active_.fetch_sub(1, std::memory_order_relaxed); }
  std::uint32_t active() const { return active_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint32_t> active_{0};
};

// A place held in a gate until destroyed; empty when it was refused.
class Ticket {
 public:
  Ticket() = default;
  explicit Ticket(Gate* gate) : gate_(gate) {}
  Ticket(Ticket&& other) noexcept : gate_(std::exchange(other.gate_, nullptr)) {}
  Ticket& operator=(Ticket&& other) noexcept {
    if (this != &other) {
      release();
      gate_ = std::exchange(other.gate_, nullptr);
    }
    return *this;
  }
  Ticket(const Ticket&) = delete;
  Ticket& operator=(const Ticket&) = delete;
  ~Ticket() { release(); }

  explicit operator bool() const { return gate_ != nullptr; }
  void release() {
    if (gate_ != nullptr) gate_->leave();
    gate_ = nullptr;
  }

 private:
  Gate* gate_ = nullptr;
};

// A ticket from `gate` under `max`, or an empty one.
inline Ticket enter(Gate& gate, std::uint32_t max) {
  return gate.try_enter(max) ? Ticket(&gate) : Ticket();
}

// A cluster's gates, by cluster name for the proxy's life.
struct Gates {
  Gate requests;
  Gate retries;
  // Upstream connections open or opening (maxConnections), each held by
  // its connection for its life.
  Gate connections;
  // Requests waiting for a connection: for a free place under
  // maxConnections, or for their new connection to open
  // (maxPendingRequests).
  Gate pending;
  // Of those, the ones waiting for a place under maxConnections: while any
  // does, a worker closes a connection it would have kept idle, so a place
  // frees up for the waiter wherever it is.
  Gate starved;
};

}  // namespace weft::proxy::layers::circuit_breaker
