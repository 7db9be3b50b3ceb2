#include "common/endpoint.h"

#include <charconv>

namespace weft {

Result<boost::asio::ip::tcp::endpoint> parse_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  auto invalid = [&text] { return fail(ErrorCode::kInvalidArgument, "'{}' is not IP:PORT", text); };
  if (colon == std::string::npos) return invalid();
  auto host = text.substr(0, colon);
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(host, ec);
  unsigned port = 0;
  const char* end = text.data() + text.size();
  auto [ptr, parse_ec] = std::from_chars(text.data() + colon + 1, end, port);
  if (ec || parse_ec != std::errc() || ptr != end || port > 65535) return invalid();
  return boost::asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port));
}

}  // namespace weft
