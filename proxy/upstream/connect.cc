#include "proxy/upstream/connect.h"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proxy/worker/coarse_clock.h"

namespace weft::proxy::upstream {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
}

asio::awaitable<std::variant<pool::Connection, ConnectFailure>> connect(ClusterState& cluster,
                                                                        std::size_t endpoint) {
  const auto& config = cluster.config;
  const auto& address = config.endpoints[endpoint].address;
  auto executor = co_await asio::this_coro::executor;
  auto socket = std::make_unique<pool::Socket>(executor);
  boost::system::error_code ec;
  socket->open(address.protocol(), ec);
  if (!ec && config.source_address) socket->bind({*config.source_address, 0}, ec);
  if (ec) {
    cluster.stats.connect_failures->Increment();
    co_return ConnectFailure{http::Failure::kConnectFailure};
  }
  asio::steady_timer timer(executor, config.connect_timeout);
  auto connected =
      co_await (socket->async_connect(address, kNoThrow) || timer.async_wait(kNoThrow));
  if (connected.index() == 1) {
    cluster.stats.connect_timeouts->Increment();
    co_return ConnectFailure{http::Failure::kConnectTimeout};
  }
  if (std::get<0>(std::get<0>(connected))) {
    cluster.stats.connect_failures->Increment();
    co_return ConnectFailure{http::Failure::kConnectFailure};
  }
  socket->set_option(asio::ip::tcp::no_delay(true), ec);
  cluster.stats.connections_opened->Increment();
  if (!config.tls) co_return pool::Connection(std::move(socket));

  auto tls = std::make_unique<pool::TlsStream>(std::move(*socket), *config.tls);
  if (!config.sni.empty()) SSL_set_tlsext_host_name(tls->native_handle(), config.sni.c_str());
  timer.expires_after(config.connect_timeout);
  auto shaken = co_await (tls->async_handshake(asio::ssl::stream_base::client, kNoThrow) ||
                          timer.async_wait(kNoThrow));
  if (shaken.index() == 1 || std::get<0>(std::get<0>(shaken))) {
    cluster.stats.tls_failures->Increment();
    co_return ConnectFailure{http::Failure::kTlsFailure};
  }
  co_return pool::Connection(std::move(tls));
}

std::optional<std::variant<Opened, ConnectFailure>> take_idle(ClusterState& cluster,
                                                              std::size_t endpoint) {
  auto idle = cluster.pool->take(endpoint, worker::coarse_now());
  if (!idle) return std::nullopt;
  cluster.stats.connections_reused->Increment();
  return Opened{std::move(*idle), true};
}

asio::awaitable<std::variant<Opened, ConnectFailure>> connect_new(ClusterState& cluster,
                                                                  std::size_t endpoint) {
  auto opened = co_await connect(cluster, endpoint);
  if (auto* failed = std::get_if<ConnectFailure>(&opened)) co_return *failed;
  co_return Opened{std::move(std::get<pool::Connection>(opened)), false};
}

std::string_view negotiated_alpn(const pool::Connection& connection) {
  auto* tls = connection.tls();
  if (tls == nullptr) return {};
  const unsigned char* data = nullptr;
  unsigned length = 0;
  SSL_get0_alpn_selected(tls->native_handle(), &data, &length);
  return {reinterpret_cast<const char*>(data), length};
}

}  // namespace weft::proxy::upstream
