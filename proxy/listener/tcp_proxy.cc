#include "proxy/listener/tcp_proxy.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "common/pod_network.h"
#include "proxy/layers/authorization_layer.h"
#include "proxy/layers/observe.h"
#include "proxy/listener/finish.h"
#include "proxy/listener/local_reply.h"
#include "proxy/listener/tunnel.h"
#include "proxy/worker/coarse_clock.h"

namespace weft::proxy::listener {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr std::chrono::seconds kPassthroughConnectTimeout{5};

struct Dial {
  tcp::endpoint address;
  std::chrono::milliseconds connect_timeout;
  metrics::ClusterStats* stats = nullptr;  // null for passthrough
  std::optional<asio::ip::address> source;
  // A cluster's endpoint is in flight for the connection's life; its
  // connect time is the balancer's round trip, and its outcome outlier
  // detection's.
  upstream::lb::Lease lease;
  upstream::ClusterState* cluster = nullptr;  // null for passthrough
  std::size_t endpoint = 0;
  // The connection's place under the cluster's maxConnections.
  layers::circuit_breaker::Ticket place;
};

// Inbound passthrough reaches the local application from 127.0.0.6, so the
// pod's capture rules (mesh-init) do not send the proxy's own dial back to it.
std::optional<asio::ip::address> passthrough_source(const config::Listener& listener,
                                                    const tcp::endpoint& destination) {
  if (listener.capture != config::Capture::kInbound || !destination.address().is_v4()) {
    return std::nullopt;
  }
  return asio::ip::make_address_v4(pod_network::kInboundSourceIpv4);
}

Dial dial_for(const TcpTarget& target, const worker::View& view, const config::Listener& listener) {
  if (const auto* cluster_target = std::get_if<ClusterTarget>(&target)) {
    auto& cluster = (*view.clusters)[cluster_target->cluster];
    if (cluster.config.endpoints.empty()) return {};
    // A byte stream cannot wait for a place as a request does: one past
    // maxConnections is closed at once.
    auto place = layers::circuit_breaker::enter(cluster.stats.gates->connections,
                                                cluster.config.max_connections);
    if (!place) {
      cluster.stats.connection_overflows->Increment();
      return {};
    }
    auto endpoint = cluster.pick(worker::coarse_now());
    return {cluster.config.endpoints[endpoint].address,
            cluster.config.connect_timeout,
            &cluster.stats,
            cluster.config.source_address,
            cluster.balancer.lease(endpoint),
            &cluster,
            endpoint,
            std::move(place)};
  }
  const auto& destination = std::get<PassthroughTarget>(target).address;
  return {destination, kPassthroughConnectTimeout,
          nullptr,     passthrough_source(listener, destination),
          {},          nullptr,
          0,           {}};
}

// The client's address, when the connection is to be reported (an access
// log or meshctl tap): read now, while the socket is open.
std::string downstream_of(const tcp::socket& socket, worker::WorkerState& state,
                          const worker::View& view, const layers::Record& record) {
  if (!reports_request_fields(state, view, record)) return {};
  boost::system::error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  return ec ? std::string() : peer.address().to_string();
}

}  // namespace

asio::awaitable<void> serve_tcp(tcp::socket socket, boost::beast::flat_buffer read_ahead,
                                worker::WorkerState& state, std::size_t listener_index,
                                TcpTarget target, InboundPeer peer) {
  auto view = state.view;
  const auto& listener = view->snapshot->listeners[listener_index];
  const auto& stats = view->listener_stats[listener_index];
  layers::Record record;  // from the connection's start
  // Over opaque TCP there is no method or path to decide on.
  if (const auto* denied = layers::authorization::check(
          state, *view, listener_index, {peer.identity, peer.port, false, {}, {}})) {
    record.error = denied_reply().reason;
    record.authz_policy = denied->name;
    const auto client = downstream_of(socket, state, *view, record);
    const Ending ending{.tcp = true, .downstream = client, .peer_identity = peer.identity};
    log_request(state, *view, listener_index, record, ending, std::chrono::steady_clock::now());
    co_return;
  }
  auto dial = dial_for(target, *view, listener);
  if (dial.address.port() == 0) co_return;  // a cluster without endpoints, or full
  const auto downstream = downstream_of(socket, state, *view, record);
  if (std::holds_alternative<PassthroughTarget>(target)) stats.passthrough->Increment();

  boost::beast::tcp_stream upstream(co_await asio::this_coro::executor);
  boost::system::error_code ec;
  if (dial.source) {
    upstream.socket().open(dial.address.protocol(), ec);
    if (!ec) upstream.socket().bind({*dial.source, 0}, ec);
  }
  upstream.expires_after(dial.connect_timeout);
  if (!ec) {
    std::tie(ec) =
        co_await upstream.async_connect(dial.address, asio::as_tuple(asio::use_awaitable));
  }
  const auto failure = !ec                                  ? http::Failure::kNone
                       : ec == boost::beast::error::timeout ? http::Failure::kConnectTimeout
                                                            : http::Failure::kConnectFailure;
  if (dial.cluster != nullptr) {
    dial.cluster->connected(dial.endpoint, dial.lease, failure, upstream::lb::Clock::now());
  }
  // For the workload-labelled metrics: the Service and the endpoint's Pod
  // of a cluster (passthrough has neither), and a failure to connect as the
  // flag; for the access log's line at the end, the cluster and endpoint.
  record.attempts = 1;
  if (dial.cluster != nullptr) {
    record.service = dial.cluster->service;
    record.destination = dial.cluster->workloads[dial.endpoint];
    record.cluster = dial.cluster->config.name;
    record.upstream = dial.cluster->config.endpoints[dial.endpoint].text;
  } else {
    record.upstream = config::address_text(dial.address);
  }
  const Ending ending{.tcp = true, .downstream = downstream};
  if (failure != http::Failure::kNone) record.error = http::reason(failure);
  auto* series = layers::observe::count_tcp_opened(
      state.requests, record, {listener.direction, view->workload, std::nullopt, false});
  if (ec) {
    metrics::WorkerRequests::tcp_closed(series, 0, 0);
    if (dial.stats != nullptr) {
      (ec == boost::beast::error::timeout ? dial.stats->connect_timeouts
                                          : dial.stats->connect_failures)
          ->Increment();
    }
    spdlog::debug("tcp listener {}: connect to {}:{} failed: {}", listener.name,
                  dial.address.address().to_string(), dial.address.port(), ec.message());
    log_request(state, *view, listener_index, record, ending, std::chrono::steady_clock::now());
    co_return;
  }
  upstream.expires_never();
  if (dial.stats != nullptr) dial.stats->connections_opened->Increment();
  boost::beast::flat_buffer nothing_pending;
  const bool nothing_read_ahead = read_ahead.size() == 0;
  auto bytes = co_await tunnel(socket, read_ahead, upstream.socket(), nothing_pending,
                               listener.idle_timeout);
  // Nothing either way: a connect-and-close. (A client that read a
  // server-first banner and left exchanged data; it is not counted.)
  if (nothing_read_ahead && bytes.downstream_to_upstream == 0 &&
      bytes.upstream_to_downstream == 0 && bytes.downstream_ended) {
    stats.closed_before_data->Increment();
  }
  stats.bytes_received->Increment(static_cast<double>(bytes.downstream_to_upstream));
  stats.bytes_sent->Increment(static_cast<double>(bytes.upstream_to_downstream));
  metrics::WorkerRequests::tcp_closed(series, bytes.downstream_to_upstream,
                                      bytes.upstream_to_downstream);
  record.request_bytes = bytes.downstream_to_upstream;
  record.response_bytes = bytes.upstream_to_downstream;
  log_request(state, *view, listener_index, record, ending, std::chrono::steady_clock::now());
}

}  // namespace weft::proxy::listener
