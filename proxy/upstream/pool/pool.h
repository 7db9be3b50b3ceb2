// Idle keep-alive connections to one cluster's endpoints, owned by one
// worker (no locks). A connection is handed out at most once; connections
// that saw a framing error or an unfinished exchange are never put back.
#pragma once

#include <prometheus/counter.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "proxy/layers/circuit_breaker.h"

namespace weft::proxy::upstream::pool {

using Clock = std::chrono::steady_clock;
using Socket = boost::asio::ip::tcp::socket;
using TlsStream = boost::beast::ssl_stream<Socket>;

// An upstream connection, plain TCP or TLS over TCP. It holds `place`, its
// place under the cluster's maxConnections, for its life (none: a
// connection of the proxy's own, such as a health probe's).
class Connection {
 public:
  explicit Connection(std::unique_ptr<Socket> plain, layers::circuit_breaker::Ticket place = {})
      : stream_(std::move(plain)), place_(std::move(place)) {}
  explicit Connection(std::unique_ptr<TlsStream> tls, layers::circuit_breaker::Ticket place = {})
      : stream_(std::move(tls)), place_(std::move(place)) {}

  // Null when the connection is the other kind.
  Socket* plain() const;
  TlsStream* tls() const;
  // The TCP socket under either kind.
  Socket& socket() const;

 private:
  std::variant<std::unique_ptr<Socket>, std::unique_ptr<TlsStream>> stream_;
  layers::circuit_breaker::Ticket place_;
};

// Counters of idle connections the pool closed, by why (all may be null).
struct Discards {
  prometheus::Counter* pool_full = nullptr;     // the oldest, to make room for a newer one
  prometheus::Counter* idle_timeout = nullptr;  // idle longer than the idle timeout
  prometheus::Counter* peer_closed = nullptr;   // closed by the upstream, or sent bytes unasked
};

class Pool {
 public:
  Pool(std::size_t endpoints, std::size_t max_idle_per_endpoint,
       std::chrono::milliseconds idle_timeout, Discards discards = {});

  // A pooled connection to `endpoint` that is still open and was idle for
  // less than the idle timeout; older or closed ones are dropped on the way.
  std::optional<Connection> take(std::size_t endpoint, Clock::time_point now);
  // Keeps `connection` for reuse; when the endpoint already has the maximum,
  // its oldest idle connection is closed to make room. Wakes a request
  // waiting for a connection (Waiting).
  void put(std::size_t endpoint, Connection connection, Clock::time_point now);
  // Closes the idle connection unused the longest, of any endpoint, to free
  // its place under the cluster's maxConnections; false when none is idle.
  bool close_oldest();
  // Closes the connections that are past the idle timeout or that the
  // upstream has closed, so none waits in CLOSE_WAIT (holding a descriptor
  // here and a slot at the upstream) until the next request to its endpoint.
  void sweep(Clock::time_point now);

  std::size_t idle(std::size_t endpoint) const { return idle_[endpoint]->size(); }

  // A request of this worker waiting for a connection, woken by the next
  // put() through its timer's cancellation (once: a waiter that waits on
  // makes another).
  class Waiting {
   public:
    Waiting(Pool& pool, boost::asio::steady_timer& timer);
    Waiting(const Waiting&) = delete;
    Waiting& operator=(const Waiting&) = delete;
    ~Waiting();

   private:
    Pool& pool_;
    boost::asio::steady_timer& timer_;
  };
  std::size_t waiting() const { return waiters_.size(); }

  // Makes this pool's `endpoint` share the idle connections of `previous`'s
  // endpoint `from`: the same address in the snapshot before, with the same
  // pool settings. A configuration push so keeps it warm, and connections
  // the old snapshot's requests still hold come back where the new one finds
  // them.
  void carry_over(std::size_t endpoint, const Pool& previous, std::size_t from) {
    idle_[endpoint] = previous.idle_[from];
  }

 private:
  struct Idle {
    Connection connection;
    Clock::time_point since;
  };
  enum class Verdict { kUsable, kIdleTimeout, kPeerClosed };
  Verdict check(const Idle& entry, Clock::time_point now) const;
  // Counts an unusable entry under its reason.
  void count(Verdict verdict) const;

  // Per endpoint; shared with the pools of other snapshots (carry_over).
  std::vector<std::shared_ptr<std::deque<Idle>>> idle_;
  std::size_t max_idle_;
  std::chrono::milliseconds idle_timeout_;
  Discards discards_;
  std::deque<boost::asio::steady_timer*> waiters_;  // oldest first
};

// True when the peer has closed `socket` or sent bytes nobody asked for;
// either way the connection cannot carry another request.
bool peer_closed_or_chatty(boost::asio::ip::tcp::socket& socket);

}  // namespace weft::proxy::upstream::pool
