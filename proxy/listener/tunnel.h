// Bidirectional byte relay between two sockets: WebSocket (and any other
// Upgrade) after a 101, and opaque TCP proxying. Half-close is passed on: when
// one side finishes sending, the other side's write half is shut down and the
// opposite direction keeps flowing.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <cstdint>

namespace weft::proxy::listener {

struct TunnelBytes {
  std::uint64_t downstream_to_upstream = 0;
  std::uint64_t upstream_to_downstream = 0;
};

// Relays until both directions have ended, or nothing moved for
// `idle_timeout`. Bytes already read into the `*_pending` buffers (read ahead
// by an HTTP parser) are sent first.
boost::asio::awaitable<TunnelBytes> tunnel(boost::asio::ip::tcp::socket& downstream,
                                           boost::beast::flat_buffer& downstream_pending,
                                           boost::asio::ip::tcp::socket& upstream,
                                           boost::beast::flat_buffer& upstream_pending,
                                           std::chrono::milliseconds idle_timeout);

}  // namespace weft::proxy::listener
