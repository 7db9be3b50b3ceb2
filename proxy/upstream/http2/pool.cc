#include "proxy/upstream/http2/pool.h"

#include <algorithm>
#include <boost/asio/this_coro.hpp>

namespace weft::proxy::upstream::http2 {

namespace asio = boost::asio;

namespace {

// Whether `connection` can take one more stream (one still connecting
// counts).
bool has_room(const std::shared_ptr<Connection>& connection) { return connection->capacity() > 0; }

// The first of `connections` with room for a stream, closed ones dropped
// on the way.
std::shared_ptr<Connection> with_room(std::vector<std::shared_ptr<Connection>>& connections) {
  std::erase_if(connections, [](const auto& c) { return c->closed(); });
  auto found = std::ranges::find_if(connections, has_room);
  return found != connections.end() ? *found : nullptr;
}

}  // namespace

asio::awaitable<std::variant<Lease, ConnectFailure>> Pool::acquire(
    ClusterState& cluster, std::size_t endpoint, const layers::timeout::Limit& wait_limit) {
  // Held: a push may replace this pool while the request waits.
  const auto slot = connections_[endpoint];
  auto& connections = *slot;
  for (;;) {
    // A copy: the vector may change while we wait.
    if (auto chosen = with_room(connections)) {
      Lease lease(chosen);
      // Waiting for a connection still opening is pending too.
      layers::circuit_breaker::Ticket pending;
      if (chosen->connecting()) {
        if (auto refused = enter_pending(cluster, pending)) co_return *refused;
      }
      co_await chosen->wait_ready();
      if (chosen->closed()) co_return ConnectFailure{http::Failure::kConnectFailure};
      cluster.stats.connections_reused->Increment();
      co_return lease;
    }
    auto reserved = co_await reserve(cluster, wait_limit,
                                     [&] { return std::ranges::any_of(connections, has_room); });
    if (auto* failed = std::get_if<ConnectFailure>(&reserved)) co_return *failed;
    if (std::holds_alternative<PoolReady>(reserved)) continue;
    auto connection =
        std::make_shared<Connection>(co_await asio::this_coro::executor, idle_timeout_);
    connections.push_back(connection);
    Lease lease(connection);
    auto opened = co_await connect(cluster, endpoint, std::move(std::get<Reservation>(reserved)),
                                   Carries::kHttp2);
    if (auto* failure = std::get_if<ConnectFailure>(&opened)) {
      connection->fail_to_connect();
      co_return *failure;
    }
    connection->start(std::move(std::get<pool::Connection>(opened)));
    co_return lease;
  }
}

}  // namespace weft::proxy::upstream::http2
