// "IP:PORT" (IPv6 as "[::1]:15017") as a socket address, for listen flags.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <string>

#include "common/result.h"

namespace weft {

Result<boost::asio::ip::tcp::endpoint> parse_endpoint(const std::string& text);

}  // namespace weft
