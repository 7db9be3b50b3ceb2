// One downstream HTTP/1.1 connection: reads requests, routes them, answers
// locally or forwards them to an upstream endpoint, streaming bodies both ways
// with a bounded buffer.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "proxy/worker/worker_state.h"

namespace weft::proxy::listener {

// Serves the connection until either side closes it. `listener` indexes the
// snapshot's listeners (stable across snapshots of a static config).
boost::asio::awaitable<void> serve_http1(boost::beast::tcp_stream stream,
                                         worker::WorkerState& state, std::size_t listener);

}  // namespace weft::proxy::listener
