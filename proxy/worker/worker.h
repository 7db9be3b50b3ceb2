// A worker: one thread running one io_context. It owns its acceptors (one
// SO_REUSEPORT socket per listener, so the kernel spreads connections), its
// connections, and its upstream pools. Other threads talk to it only by
// posting to its io_context.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "common/result.h"
#include "proxy/worker/connection_budget.h"
#include "proxy/worker/worker_state.h"

namespace weft::proxy::worker {

class Worker {
 public:
  // `budget` caps open downstream connections over all workers.
  // `access_log` is the settings for a snapshot without its own (none:
  // no access log then); its lines go to `sink`.
  // `tap`: where finished requests go while meshctl tap watches (null: --tap
  // is off).
  Worker(std::size_t id, metrics::Metrics& metrics, access_log::Sink& sink,
         std::optional<layers::access_log::Settings> access_log, tap::Hub* tap,
         ConnectionBudget& budget);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Binds one acceptor per listener at `addresses` (same order as the
  // snapshot's listeners) and returns the bound addresses, which differ when
  // a port was 0. Call before start().
  Result<std::vector<config::TcpEndpoint>> bind(const std::vector<config::TcpEndpoint>& addresses);

  // Inbound listeners terminate peers' mutual TLS with these. Call before start().
  void set_credentials(const identity::CurrentCredentials* credentials) {
    state_.credentials = credentials;
  }

  // Starts the thread serving `snapshot`.
  void start(std::shared_ptr<const config::Snapshot> snapshot);
  // Serves `snapshot` from now on: new requests and connections use it,
  // requests in flight finish on the one they started with. Thread-safe.
  void apply(std::shared_ptr<const config::Snapshot> snapshot);
  // Stops accepting, closes idle connections; busy ones close after their
  // current response. Thread-safe.
  void drain();
  // Stops the thread (remaining connections are dropped). Thread-safe.
  void stop();

  std::size_t open_connections() const { return open_connections_.load(); }
  // This worker's view of each cluster's endpoints, read on its thread.
  // Thread-safe; the worker must be running.
  boost::asio::awaitable<std::vector<upstream::ClusterReport>> endpoints();
  // The spans this worker recorded since the last call, and how many it
  // dropped. Thread-safe; the worker must be running.
  boost::asio::awaitable<tracing::SpanBuffer::Taken> take_spans();

 private:
  boost::asio::awaitable<void> accept(boost::asio::ip::tcp::acceptor& acceptor,
                                      std::size_t listener_index);
  // Whether a connection just accepted on the listener may stay open: its
  // place in the listener's max_connections and in the proxy's budget.
  // Counts a refusal.
  bool admit(std::size_t listener_index);
  std::shared_ptr<const View> make_view(std::shared_ptr<const config::Snapshot> snapshot,
                                        const View* previous);
  // Expires connection waits past their deadline, every kSweepInterval:
  // timeouts fire up to that much late, and no operation arms a timer.
  boost::asio::awaitable<void> sweep();
  static constexpr std::chrono::milliseconds kSweepInterval{50};
  // Closes idle upstream connections that expired or that their upstream
  // closed, every kPoolSweepTicks sweeps (1 s): checking for a close costs a
  // syscall per idle connection, and an upstream's close can wait that long.
  void sweep_pools(std::chrono::steady_clock::time_point now);
  static constexpr std::size_t kPoolSweepTicks = 20;

  // Order matters for destruction: io_ goes before state_, because destroying
  // io_ destroys the connection coroutines, which unregister from state_.
  std::size_t id_;
  WorkerState state_;
  ConnectionBudget& budget_;
  std::optional<layers::access_log::Settings> access_log_;  // for snapshots without their own
  std::atomic<std::size_t> open_connections_{0};
  // Only this worker's thread touches its sockets and timers, so the reactor
  // needs no locking; posts from other threads stay safe.
  boost::asio::io_context io_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  std::vector<boost::asio::ip::tcp::acceptor> acceptors_;
  std::thread thread_;
};

}  // namespace weft::proxy::worker
