#include "proxy/listener/tcp_proxy.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "proxy/listener/tunnel.h"

namespace weft::proxy::listener {

namespace asio = boost::asio;
using asio::ip::tcp;

asio::awaitable<void> serve_tcp(tcp::socket socket, worker::WorkerState& state,
                                std::size_t listener_index) {
  auto view = state.view;
  const auto& listener = view->snapshot->listeners[listener_index];
  auto& cluster = (*view->clusters)[*listener.tcp_cluster];
  if (cluster.config.endpoints.empty()) co_return;
  auto endpoint = cluster.balancer.next();

  boost::beast::tcp_stream upstream(co_await asio::this_coro::executor);
  upstream.expires_after(cluster.config.connect_timeout);
  auto [ec] = co_await upstream.async_connect(cluster.config.endpoints[endpoint].address,
                                              asio::as_tuple(asio::use_awaitable));
  if (ec) {
    (ec == boost::beast::error::timeout ? cluster.stats.connect_timeouts
                                        : cluster.stats.connect_failures)
        ->Increment();
    spdlog::debug("tcp listener {}: connect to cluster {} failed: {}", listener.name,
                  cluster.config.name, ec.message());
    co_return;
  }
  upstream.expires_never();
  cluster.stats.connections_opened->Increment();
  boost::beast::flat_buffer no_pending_down, no_pending_up;
  auto bytes = co_await tunnel(socket, no_pending_down, upstream.socket(), no_pending_up,
                               listener.idle_timeout);
  const auto& stats = view->listener_stats[listener_index];
  stats.bytes_received->Increment(static_cast<double>(bytes.downstream_to_upstream));
  stats.bytes_sent->Increment(static_cast<double>(bytes.upstream_to_downstream));
}

}  // namespace weft::proxy::listener
