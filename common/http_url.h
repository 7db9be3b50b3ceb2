// "http://HOST[:PORT][/PATH]": where a proxy sends what it exports (trace
// spans to a collector). Checked where a user writes it (the control
// plane's MeshConfig) and again where it is used (the proxy).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace weft {

struct HttpUrl {
  std::string host;  // a name or an address; IPv6 without its brackets
  std::uint16_t port = 80;
  std::string target;  // path and query; `default_path` when the URL has none

  // "host:port" as a Host field writes it (IPv6 in brackets).
  std::string authority() const;
};

// Plain http only: an https URL, user info, a fragment, an empty host or a
// port outside 1-65535 is an error saying so.
Result<HttpUrl> parse_http_url(std::string_view text, std::string_view default_path);

}  // namespace weft
