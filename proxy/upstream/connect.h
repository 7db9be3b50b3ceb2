// Opens a connection to one endpoint of a cluster: TCP (from the cluster's
// source address when set), then TLS when the cluster originates it, within
// the cluster's connect timeout. Counts the outcome in the cluster's stats.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string_view>
#include <variant>

#include "proxy/http/failure.h"
#include "proxy/upstream/clusters.h"
#include "proxy/upstream/pool/pool.h"

namespace weft::proxy::upstream {

// Why a connection could not be opened: kConnectFailure, kConnectTimeout or
// kTlsFailure.
struct ConnectFailure {
  http::Failure failure;
};

boost::asio::awaitable<std::variant<pool::Connection, ConnectFailure>> connect(
    ClusterState& cluster, std::size_t endpoint);

// An HTTP/1.1 connection to `endpoint`: an idle one from the cluster's pool
// (`reused`), else a new one from connect().
struct Opened {
  pool::Connection connection;
  bool reused = false;
};
// Taken in two halves, so that the pool's answer needs no coroutine: an
// idle pooled connection to `endpoint`, if there is one...
std::optional<std::variant<Opened, ConnectFailure>> take_idle(ClusterState& cluster,
                                                              std::size_t endpoint);
// ...else a new one.
boost::asio::awaitable<std::variant<Opened, ConnectFailure>> connect_new(ClusterState& cluster,
                                                                         std::size_t endpoint);

// The ALPN protocol the TLS handshake settled on; empty without TLS or ALPN.
std::string_view negotiated_alpn(const pool::Connection& connection);

}  // namespace weft::proxy::upstream
