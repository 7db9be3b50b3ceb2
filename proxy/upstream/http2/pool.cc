#include "proxy/upstream/http2/pool.h"

#include <boost/asio/this_coro.hpp>

namespace weft::proxy::upstream::http2 {

namespace asio = boost::asio;

asio::awaitable<std::variant<Lease, ConnectFailure>> Pool::acquire(ClusterState& cluster,
                                                                   std::size_t endpoint) {
  // Held: a push may replace this pool while the request waits.
  const auto slot = connections_[endpoint];
  auto& connections = *slot;
  std::erase_if(connections, [](const auto& c) { return c->closed(); });
  std::shared_ptr<Connection> chosen;  // a copy: the vector may grow while we wait
  for (const auto& candidate : connections) {
    if (candidate->capacity() > 0) {
      chosen = candidate;
      break;
    }
  }
  if (chosen) {
    Lease lease(chosen);
    co_await chosen->wait_ready();
    if (chosen->closed()) co_return ConnectFailure{http::Failure::kConnectFailure};
    cluster.stats.connections_reused->Increment();
    co_return lease;
  }
  auto connection = std::make_shared<Connection>(co_await asio::this_coro::executor, idle_timeout_);
  connections.push_back(connection);
  Lease lease(connection);
  auto opened = co_await connect(cluster, endpoint);
  if (auto* failure = std::get_if<ConnectFailure>(&opened)) {
    connection->fail_to_connect();
    co_return *failure;
  }
  connection->start(std::move(std::get<pool::Connection>(opened)));
  co_return lease;
}

}  // namespace weft::proxy::upstream::http2
