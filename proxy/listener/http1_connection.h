// One downstream HTTP/1.1 connection: reads requests, routes them, answers
// locally or forwards them to an upstream endpoint, streaming bodies both ways
// with a bounded buffer.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "proxy/listener/inbound_peer.h"
#include "proxy/worker/worker_state.h"

namespace weft::proxy::listener {

using TlsDownstream = boost::beast::ssl_stream<boost::asio::ip::tcp::socket>;

// Serves the connection until either side closes it. `listener` and
// `route_table` index the snapshot's listeners and route tables; `read_ahead`
// holds bytes already read from the client (by protocol sniffing); `peer`
// is who an inbound listener's client is (the authorization layer's input).
boost::asio::awaitable<void> serve_http1(boost::asio::ip::tcp::socket stream,
                                         boost::beast::flat_buffer read_ahead,
                                         worker::WorkerState& state, std::size_t listener,
                                         std::size_t route_table, InboundPeer peer);
// The same over TLS (the handshake already done).
boost::asio::awaitable<void> serve_http1(TlsDownstream stream, boost::beast::flat_buffer read_ahead,
                                         worker::WorkerState& state, std::size_t listener,
                                         std::size_t route_table, InboundPeer peer);

}  // namespace weft::proxy::listener
