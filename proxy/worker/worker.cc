#include "proxy/worker/worker.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "proxy/listener/dispatch.h"
#include "proxy/net/receive.h"
#include "proxy/worker/coarse_clock.h"

namespace weft::proxy::worker {

namespace asio = boost::asio;
using asio::ip::tcp;

Worker::Worker(std::size_t id, metrics::Metrics& metrics, access_log::Sink& sink,
               std::optional<layers::access_log::Settings> access_log, tap::Hub* tap,
               ConnectionBudget& budget)
    : id_(id), state_(metrics, sink), budget_(budget), access_log_(std::move(access_log)) {
  state_.tap = tap;
  if (tap != nullptr) state_.tap_published = &metrics.tap_requests("published");
}

Worker::~Worker() {
  stop();
  acceptors_.clear();  // while io_ still exists
}

Result<std::vector<config::TcpEndpoint>> Worker::bind(
    const std::vector<config::TcpEndpoint>& addresses) {
  std::vector<config::TcpEndpoint> bound;
  for (const auto& address : addresses) {
    tcp::acceptor acceptor(io_);
    boost::system::error_code ec;
    acceptor.open(address.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) {
      int one = 1;
      if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        ec.assign(errno, boost::system::system_category());
      }
    }
    if (!ec) acceptor.bind(address, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return fail(ErrorCode::kIo, "cannot listen on {}:{}: {}", address.address().to_string(),
                  address.port(), ec.message());
    }
    bound.push_back(acceptor.local_endpoint());
    acceptors_.push_back(std::move(acceptor));
  }
  return bound;
}

std::shared_ptr<const View> Worker::make_view(std::shared_ptr<const config::Snapshot> snapshot,
                                              const View* previous) {
  auto view = std::make_shared<View>();
  view->clusters = std::make_shared<upstream::Clusters>(upstream::make_clusters(
      *snapshot, state_.metrics, previous != nullptr ? previous->clusters.get() : nullptr,
      state_.credentials));
  view->splits = std::make_shared<router::Splits>();
  for (const auto& weights : snapshot->split_weights) view->splits->emplace_back(weights);
  for (const auto& listener : snapshot->listeners) {
    view->listener_stats.push_back(state_.metrics.listener(listener.name));
  }
  if (snapshot->workload) view->workload = state_.metrics.requests().workload(*snapshot->workload);
  if (snapshot->access_log) {
    view->access_log = &*snapshot->access_log;
  } else if (access_log_) {
    view->access_log = &*access_log_;
  }
  view->snapshot = std::move(snapshot);
  return view;
}

void Worker::start(std::shared_ptr<const config::Snapshot> snapshot) {
  state_.view = make_view(std::move(snapshot), nullptr);
  for (std::size_t i = 0; i < acceptors_.size(); ++i) {
    asio::co_spawn(io_, accept(acceptors_[i], i), asio::detached);
  }
  asio::co_spawn(io_, sweep(), asio::detached);
  thread_ = std::thread([this] {
    spdlog::debug("worker {} started", id_);
    const net::ThreadReactor reactor(io_);  // reads find it without a registry lookup
    io_.run();
  });
}

asio::awaitable<void> Worker::accept(tcp::acceptor& acceptor, std::size_t listener_index) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // EMFILE and friends: back off instead of spinning on a full fd table.
      spdlog::warn("worker {}: accept failed: {}", id_, ec.message());
      asio::steady_timer pause(io_, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    const auto& stats = state_.view->listener_stats[listener_index];
    stats.connections->Increment();
    if (!admit(listener_index)) {
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    stats.active_connections->Increment();
    ++open_connections_;
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(io_, listener::serve_connection(std::move(socket), state_, listener_index),
                   [this, stats](const std::exception_ptr& error) {
                     stats.active_connections->Decrement();
                     --open_connections_;
                     budget_.close();
                     if (error) {
                       try {
                         std::rethrow_exception(error);
                       } catch (const std::exception& e) {
                         spdlog::error("worker {}: connection ended by exception: {}", id_,
                                       e.what());
                       }
                     }
                   });
  }
}

bool Worker::admit(std::size_t listener_index) {
  const auto& stats = state_.view->listener_stats[listener_index];
  const auto cap = state_.view->snapshot->listeners[listener_index].max_connections;
  // The gauge counts the listener's connections over every worker: two
  // workers accepting at once may pass the cap by one each, no more.
  if (cap > 0 && stats.active_connections->Value() >= cap) {
    stats.refused[0]->Increment();
    return false;
  }
  if (!budget_.open()) {
    stats.refused[1]->Increment();
    return false;
  }
  return true;
}

void Worker::apply(std::shared_ptr<const config::Snapshot> snapshot) {
  asio::post(io_, [this, snapshot = std::move(snapshot)]() mutable {
    state_.view = make_view(std::move(snapshot), state_.view.get());
  });
}

asio::awaitable<std::vector<upstream::ClusterReport>> Worker::endpoints() {
  using Report = std::vector<upstream::ClusterReport>;
  // Read on this worker's thread, which alone touches its cluster state;
  // the answer comes back to the caller's.
  co_return co_await asio::co_spawn(
      io_,
      [this]() -> asio::awaitable<Report> {
        if (!state_.view) co_return Report{};
        co_return upstream::report(*state_.view->clusters, std::chrono::steady_clock::now());
      },
      asio::use_awaitable);
}

asio::awaitable<tracing::SpanBuffer::Taken> Worker::take_spans() {
  // Taken on this worker's thread, which alone records into the buffer.
  co_return co_await asio::co_spawn(
      io_,
      [this]() -> asio::awaitable<tracing::SpanBuffer::Taken> { co_return state_.spans.take(); },
      asio::use_awaitable);
}

asio::awaitable<void> Worker::sweep() {
  asio::steady_timer tick(io_);
  for (std::size_t ticks = 1;; ++ticks) {
    tick.expires_after(kSweepInterval);
    auto [ec] = co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    auto now = std::chrono::steady_clock::now();
    // Expiring closes a socket; the connection ends later, on its own
    // coroutine, so the set does not change under this loop.
    for (auto* connection : state_.connections) connection->expire_if_due(now);
    if (ticks % kPoolSweepTicks == 0) sweep_pools(coarse_now());
    state_.access_lines.flush();  // a line waits one sweep at most
  }
}

void Worker::sweep_pools(std::chrono::steady_clock::time_point now) {
  if (!state_.view) return;
  for (auto& cluster : *state_.view->clusters) cluster.pool->sweep(now);
}

void Worker::drain() {
  asio::post(io_, [this] {
    state_.draining = true;
    for (auto& acceptor : acceptors_) {
      boost::system::error_code ignored;
      acceptor.close(ignored);
    }
    // Copy: closing may end a connection, which erases itself from the set.
    std::vector<TrackedConnection*> connections(state_.connections.begin(),
                                                state_.connections.end());
    for (auto* connection : connections) connection->close_if_idle();
  });
}

void Worker::stop() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
  state_.access_lines.flush();  // the thread is gone: nothing else touches them
}

}  // namespace weft::proxy::worker
