// One downstream HTTP/2 connection (h2c with prior knowledge, or h2 chosen
// by ALPN over TLS): every stream is routed and forwarded on its own
// coroutine of the worker, to an HTTP/2 or HTTP/1.1 upstream as the
// cluster says, with bodies streamed under flow control both ways.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "proxy/listener/http1_connection.h"
#include "proxy/worker/worker_state.h"

namespace weft::proxy::listener {

// `read_ahead`: bytes already read (the sniffed preface).
boost::asio::awaitable<void> serve_http2(boost::asio::ip::tcp::socket stream,
                                         boost::beast::flat_buffer read_ahead,
                                         worker::WorkerState& state, std::size_t listener,
                                         std::size_t route_table, InboundPeer peer);
boost::asio::awaitable<void> serve_http2(TlsDownstream stream, boost::beast::flat_buffer read_ahead,
                                         worker::WorkerState& state, std::size_t listener,
                                         std::size_t route_table, InboundPeer peer);

}  // namespace weft::proxy::listener
