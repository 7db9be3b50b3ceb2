// What to do with an accepted connection: by listener kind, original
// destination (capture listeners) and the protocol the client speaks.
//
//   explicit HTTP listener  -> HTTP/1.1 with its route table
//   explicit TCP listener   -> its cluster
//   explicit AUTO listener  -> sniff: HTTP/1 to the route table, the rest to the cluster
//   capture listener        -> SO_ORIGINAL_DST -> destination:
//       route_table, port not opaque, sniffed HTTP/1 -> HTTP/1.1 with that table
//       otherwise -> the destination's tcp_cluster, else passthrough to the
//                    original destination
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "proxy/worker/worker_state.h"

namespace weft::proxy::listener {

boost::asio::awaitable<void> serve_connection(boost::asio::ip::tcp::socket socket,
                                              worker::WorkerState& state, std::size_t listener);

}  // namespace weft::proxy::listener
