#include "common/http_url.h"

#include <charconv>

namespace weft {

std::string HttpUrl::authority() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<HttpUrl> parse_http_url(std::string_view text, std::string_view default_path) {
  constexpr std::string_view kScheme = "http://";
  if (text.starts_with("https://")) {
    return fail(ErrorCode::kInvalidArgument,
                "'{}': https is not supported; use the collector's plain http port (traffic "
                "inside the cluster)",
                text);
  }
  if (!text.starts_with(kScheme)) {
    return fail(ErrorCode::kInvalidArgument, "'{}' is not an http://HOST[:PORT][/PATH] URL", text);
  }
  auto rest = text.substr(kScheme.size());
  if (rest.find('#') != std::string_view::npos) {
    return fail(ErrorCode::kInvalidArgument, "'{}': a fragment has no meaning here", text);
  }
  auto slash = rest.find_first_of("/?");
  auto authority = rest.substr(0, slash);
  HttpUrl url;
  url.target =
      slash == std::string_view::npos ? std::string(default_path) : std::string(rest.substr(slash));
  if (url.target.starts_with('?')) url.target = std::string(default_path) + url.target;
  if (authority.find('@') != std::string_view::npos) {
    return fail(ErrorCode::kInvalidArgument, "'{}': user information is not supported", text);
  }
  std::string_view port;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return fail(ErrorCode::kInvalidArgument, "'{}': an IPv6 address lacks its ']'", text);
    }
    url.host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') {
      return fail(ErrorCode::kInvalidArgument, "'{}': unexpected text after ']'", text);
    }
    if (!after.empty()) port = after.substr(1);
  } else {
    auto colon = authority.find(':');
    url.host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    if (colon != std::string_view::npos && port.empty()) {
      return fail(ErrorCode::kInvalidArgument, "'{}': the port is empty", text);
    }
  }
  if (url.host.empty()) return fail(ErrorCode::kInvalidArgument, "'{}': the host is empty", text);
  if (!port.empty()) {
    unsigned number = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (ec != std::errc() || end != port.data() + port.size() || number == 0 || number > 65535) {
      return fail(ErrorCode::kInvalidArgument, "'{}': the port is not a number from 1 to 65535",
                  text);
    }
    url.port = static_cast<std::uint16_t>(number);
  }
  return url;
}

}  // namespace weft
