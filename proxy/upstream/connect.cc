#include "proxy/upstream/connect.h"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proxy/tls/tls.h"
#include "proxy/worker/coarse_clock.h"

namespace weft::proxy::upstream {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
// How often a request waiting for a place under maxConnections looks again:
// a place freed by another worker wakes no one here.
constexpr std::chrono::milliseconds kRecheck{10};

using layers::circuit_breaker::Ticket;

// A place under the cluster's maxConnections; when they are all taken and
// this worker keeps one of them idle, that one is closed to make room.
Ticket connection_place(ClusterState& cluster) {
  auto& gate = cluster.stats.gates->connections;
  const auto max = cluster.config.max_connections;
  auto place = layers::circuit_breaker::enter(gate, max);
  if (!place && cluster.pool->close_oldest()) place = layers::circuit_breaker::enter(gate, max);
  return place;
}

// What a wait for a place came to: a place, the pool `ready`, or neither
// by the limit.
struct Waited {
  Ticket place;
  bool ready = false;
};

// Waits for a place (woken by this worker's pool, else every kRecheck)
// until `limit`.
asio::awaitable<Waited> wait_for_place(ClusterState& cluster, const layers::timeout::Limit& limit,
                                       const std::function<bool()>& ready) {
  cluster.stats.connection_waits->Increment();
  auto starved = layers::circuit_breaker::enter(cluster.stats.gates->starved, 0);
  auto pool = cluster.pool;  // a push may replace the cluster's pool meanwhile
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    const auto now = layers::timeout::Clock::now();
    if (now >= limit.when) co_return Waited{};
    timer.expires_at(std::min(limit.when, now + kRecheck));
    {
      const pool::Pool::Waiting waiting(*pool, timer);
      co_await timer.async_wait(kNoThrow);
    }
    if (ready()) co_return Waited{{}, true};
    if (auto place = connection_place(cluster)) co_return Waited{std::move(place)};
  }
}

// Mutual TLS with a peer sidecar that must present `peer_identity`; null
// (counted by reason in mesh_tls_handshakes_total{direction="outbound"} and
// in the cluster's TLS failures) when the handshake fails or the peer is
// someone else.
asio::awaitable<std::unique_ptr<pool::TlsStream>> mesh_handshake(
    ClusterState& cluster, pool::Socket socket, const identity::Credentials& credentials,
    const std::string& peer_identity, Carries carries, asio::steady_timer& timer) {
  auto count = [&cluster](std::string_view result) {
    if (cluster.metrics != nullptr) cluster.metrics->tls_handshake("outbound", result).Increment();
  };
  auto tls = std::make_unique<pool::TlsStream>(std::move(socket), *credentials.client);
  static constexpr unsigned char kHttp1[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  static constexpr unsigned char kHttp2[] = {2, 'h', '2'};
  if (carries == Carries::kHttp2) {
    SSL_set_alpn_protos(tls->native_handle(), kHttp2, sizeof kHttp2);
  } else {
    SSL_set_alpn_protos(tls->native_handle(), kHttp1, sizeof kHttp1);
  }
  timer.expires_after(cluster.config.connect_timeout);
  auto shaken = co_await (tls->async_handshake(asio::ssl::stream_base::client, kNoThrow) ||
                          timer.async_wait(kNoThrow));
  if (shaken.index() == 1 || std::get<0>(std::get<0>(shaken))) {
    cluster.stats.tls_failures->Increment();
    count(shaken.index() == 1                                        ? "timeout"
          : SSL_get_verify_result(tls->native_handle()) != X509_V_OK ? "untrusted_certificate"
                                                                     : "failed");
    co_return nullptr;
  }
  if (tls::peer_uri_names(tls->native_handle()) != std::vector<std::string>{peer_identity}) {
    // A valid mesh certificate, but not the workload the control plane
    // says is at this address: an impostor, or an address reused.
    cluster.stats.tls_failures->Increment();
    count("wrong_identity");
    co_return nullptr;
  }
  count("ok");
  co_return tls;
}

}  // namespace

std::optional<ConnectFailure> enter_pending(ClusterState& cluster, Ticket& pending) {
  pending =
      layers::circuit_breaker::enter(cluster.stats.gates->pending, cluster.config.max_pending);
  if (pending) return std::nullopt;
  cluster.stats.pending_overflows->Increment();
  return ConnectFailure{http::Failure::kUpstreamOverflow, true};
}

asio::awaitable<std::variant<Reservation, ConnectFailure, PoolReady>> reserve(
    ClusterState& cluster, const layers::timeout::Limit& wait_limit,
    const std::function<bool()>& ready) {
  Reservation reservation;
  if (auto refused = enter_pending(cluster, reservation.pending)) co_return *refused;
  reservation.place = connection_place(cluster);
  if (!reservation.place) {
    auto waited = co_await wait_for_place(cluster, wait_limit, ready);
    if (waited.ready) co_return PoolReady{};
    if (!waited.place) co_return ConnectFailure{wait_limit.failure, true};
    reservation.place = std::move(waited.place);
  }
  co_return reservation;
}

asio::awaitable<std::variant<pool::Connection, ConnectFailure>> connect(ClusterState& cluster,
                                                                        std::size_t endpoint,
                                                                        Reservation reservation,
                                                                        Carries carries) {
  const auto& config = cluster.config;
  const auto& peer_identity = config.endpoints[endpoint].identity;
  std::shared_ptr<const identity::Credentials> credentials;
  if (cluster.credentials != nullptr && !peer_identity.empty()) {
    credentials = cluster.credentials->load();
  }
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
  if (credentials) {
    auto tls = co_await mesh_handshake(cluster, std::move(*socket), *credentials, peer_identity,
                                       carries, timer);
    if (!tls) co_return ConnectFailure{http::Failure::kTlsFailure};
    co_return pool::Connection(std::move(tls), std::move(reservation.place));
  }
  if (!config.tls) co_return pool::Connection(std::move(socket), std::move(reservation.place));

  auto tls = std::make_unique<pool::TlsStream>(std::move(*socket), *config.tls);
  if (!config.sni.empty()) SSL_set_tlsext_host_name(tls->native_handle(), config.sni.c_str());
  timer.expires_after(config.connect_timeout);
  auto shaken = co_await (tls->async_handshake(asio::ssl::stream_base::client, kNoThrow) ||
                          timer.async_wait(kNoThrow));
  if (shaken.index() == 1 || std::get<0>(std::get<0>(shaken))) {
    cluster.stats.tls_failures->Increment();
    co_return ConnectFailure{http::Failure::kTlsFailure};
  }
  co_return pool::Connection(std::move(tls), std::move(reservation.place));
}

std::optional<std::variant<Opened, ConnectFailure>> take_idle(ClusterState& cluster,
                                                              std::size_t endpoint) {
  auto idle = cluster.pool->take(endpoint, worker::coarse_now());
  if (!idle) return std::nullopt;
  cluster.stats.connections_reused->Increment();
  return Opened{std::move(*idle), true};
}

asio::awaitable<std::variant<Opened, ConnectFailure>> connect_new(
    ClusterState& cluster, std::size_t endpoint, const layers::timeout::Limit& wait_limit) {
  for (;;) {
    std::optional<std::variant<Opened, ConnectFailure>> idle;
    auto ready = [&] {
      idle = take_idle(cluster, endpoint);
      return idle.has_value();
    };
    auto reserved = co_await reserve(cluster, wait_limit, ready);
    if (auto* failed = std::get_if<ConnectFailure>(&reserved)) co_return *failed;
    if (std::holds_alternative<PoolReady>(reserved)) {
      if (idle) co_return std::move(*idle);
      continue;
    }
    auto opened = co_await connect(cluster, endpoint, std::move(std::get<Reservation>(reserved)),
                                   Carries::kHttp1);
    if (auto* failed = std::get_if<ConnectFailure>(&opened)) co_return *failed;
    co_return Opened{std::move(std::get<pool::Connection>(opened)), false};
  }
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
