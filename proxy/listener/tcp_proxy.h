// Opaque TCP proxying: each downstream connection is relayed to one endpoint
// of the listener's cluster (weighted round robin), with half-close, an idle
// timeout and byte counters.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "proxy/worker/worker_state.h"

namespace weft::proxy::listener {

boost::asio::awaitable<void> serve_tcp(boost::asio::ip::tcp::socket socket,
                                       worker::WorkerState& state, std::size_t listener);

}  // namespace weft::proxy::listener
