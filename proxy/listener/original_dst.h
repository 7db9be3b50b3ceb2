// The address a redirected connection was originally sent to, recovered from
// netfilter's connection tracking (iptables REDIRECT to a capture listener).
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "common/result.h"

namespace weft::proxy::listener {

// An IPv4-mapped IPv6 endpoint (::ffff:a.b.c.d) as plain IPv4; others unchanged.
boost::asio::ip::tcp::endpoint unmapped(const boost::asio::ip::tcp::endpoint& endpoint);

// SO_ORIGINAL_DST for IPv4 sockets, IP6T_SO_ORIGINAL_DST for IPv6 ones.
Result<boost::asio::ip::tcp::endpoint> original_destination(boost::asio::ip::tcp::socket& socket);

}  // namespace weft::proxy::listener
