// Opens a connection to one endpoint of a cluster: TCP (from the cluster's
// source address when set), then TLS when the cluster originates it, within
// the cluster's connect timeout. Counts the outcome in the cluster's stats.
//
// The cluster's connection limits (circuit breaking) are kept here, for
// every pool: a request that needs a new connection is one of the
// cluster's pending requests until it has one (past maxPendingRequests it
// is refused: upstream_overflow). When maxConnections are open it waits for
// a place, within its deadline: one frees when a connection closes, and
// this worker closes one of its idle connections to make one. It stops
// waiting when its pool can serve it after all (`ready`).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <optional>
#include <string_view>
#include <variant>

#include "proxy/http/failure.h"
#include "proxy/layers/timeout.h"
#include "proxy/upstream/clusters.h"
#include "proxy/upstream/pool/pool.h"

namespace weft::proxy::upstream {

// Why a connection could not be opened: the endpoint's kConnectFailure,
// kConnectTimeout or kTlsFailure; or, `limited`, the cluster's limits:
// kUpstreamOverflow past maxPendingRequests, or the request's deadline
// passing while it waited for a place under maxConnections.
struct ConnectFailure {
  http::Failure failure;
  bool limited = false;  // not the endpoint's doing: nothing to learn of it
};

// The wait for a place ended because `ready` said the pool can serve the
// request now: the caller asks its pool again.
struct PoolReady {};

// A request's claim to a new connection: its place among the pending
// requests and its place under maxConnections, which the connection
// keeps.
struct Reservation {
  layers::circuit_breaker::Ticket pending;
  layers::circuit_breaker::Ticket place;
};

// Counts the request as pending, first: refused past maxPendingRequests
// (counted).
std::optional<ConnectFailure> enter_pending(ClusterState& cluster,
                                            layers::circuit_breaker::Ticket& pending);

// A reservation for a new connection to the cluster, waiting for a place
// under maxConnections until `wait_limit` or until the pool is `ready`.
boost::asio::awaitable<std::variant<Reservation, ConnectFailure, PoolReady>> reserve(
    ClusterState& cluster, const layers::timeout::Limit& wait_limit,
    const std::function<bool()>& ready);

// The protocol a new connection will carry: what a mutual TLS handshake
// with a peer sidecar offers in ALPN, so that the peer serves the same.
enum class Carries { kHttp1, kHttp2 };

// Opens the reserved connection to `endpoint`: over mutual TLS when the
// endpoint has an identity and this proxy has one (the peer must present
// exactly that identity), else as the cluster says (plain, or its TLS).
boost::asio::awaitable<std::variant<pool::Connection, ConnectFailure>> connect(
    ClusterState& cluster, std::size_t endpoint, Reservation reservation, Carries carries);

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
// ...else a new one, or an idle one that a wait for a place under
// maxConnections found (within `wait_limit`).
boost::asio::awaitable<std::variant<Opened, ConnectFailure>> connect_new(
    ClusterState& cluster, std::size_t endpoint, const layers::timeout::Limit& wait_limit);

// The ALPN protocol the TLS handshake settled on; empty without TLS or ALPN.
std::string_view negotiated_alpn(const pool::Connection& connection);

}  // namespace weft::proxy::upstream
