// Opaque TCP proxying: each downstream connection is relayed to one endpoint
// of a cluster (weighted round robin), or passed through to the address the
// client originally dialled, with half-close, an idle timeout and byte
// counters.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <variant>

#include "proxy/listener/inbound_peer.h"
#include "proxy/worker/worker_state.h"

namespace weft::proxy::listener {

struct ClusterTarget {
  std::size_t cluster = 0;  // index into the snapshot's clusters
};
struct PassthroughTarget {
  boost::asio::ip::tcp::endpoint address;
};
using TcpTarget = std::variant<ClusterTarget, PassthroughTarget>;

// `read_ahead`: bytes already read from the client, sent first. On an
// inbound listener, `peer` is who calls which port: a connection an
// AuthorizationPolicy denies is closed before any byte is relayed.
boost::asio::awaitable<void> serve_tcp(boost::asio::ip::tcp::socket socket,
                                       boost::beast::flat_buffer read_ahead,
                                       worker::WorkerState& state, std::size_t listener,
                                       TcpTarget target, InboundPeer peer);

}  // namespace weft::proxy::listener
