#include "proxy/listener/original_dst.h"

#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/in.h>

#include <cstring>

namespace weft::proxy::listener {

namespace asio = boost::asio;

asio::ip::tcp::endpoint unmapped(const asio::ip::tcp::endpoint& endpoint) {
  const auto& address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return {asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()), endpoint.port()};
  }
  return endpoint;
}

Result<asio::ip::tcp::endpoint> original_destination(asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  auto local = socket.local_endpoint(ec);
  if (ec) return fail(ErrorCode::kIo, "local address: {}", ec.message());
  asio::ip::tcp::endpoint original;
  socklen_t size = sizeof(sockaddr_in6);
  sockaddr_storage storage{};
  // An IPv4 client on a dual-stack IPv6 socket is tracked as IPv4.
  bool v4 = local.address().is_v4() || local.address().to_v6().is_v4_mapped();
  int rc =
      v4 ? ::getsockopt(socket.native_handle(), SOL_IP, SO_ORIGINAL_DST, &storage, &size)
         : ::getsockopt(socket.native_handle(), SOL_IPV6, IP6T_SO_ORIGINAL_DST, &storage, &size);
  if (rc != 0)
    return fail(ErrorCode::kNotFound, "no original destination: {}", std::strerror(errno));
  std::memcpy(original.data(), &storage, std::min<std::size_t>(size, sizeof storage));
  original.resize(size);
  return unmapped(original);
}

}  // namespace weft::proxy::listener
