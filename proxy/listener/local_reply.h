// A response the proxy makes itself, in either HTTP version.
#pragma once

#include <string>
#include <string_view>

namespace weft::proxy::listener {

// Always bind one to a named variable before passing it to a co_await: GCC
// 12 destroys a braced temporary in a co_await expression twice (a compiler
// bug, fixed in GCC 13).
struct LocalReply {
  unsigned status = 503;
  std::string_view reason;  // x-weft-error value; empty for direct responses
  std::string body;
  std::string location;  // redirects
};

// The reply for a failure to reach or hear from the upstream, by its
// x-weft-error reason (the table in docs/proxy-config.md): 503 for
// no_healthy_upstream and the upstream_connect_* / upstream_tls_failure
// reasons, 504 upstream_request_timeout, 502 upstream_reset and
// upstream_protocol_error. An unknown reason is a connect failure.
LocalReply upstream_failure(std::string_view reason);

}  // namespace weft::proxy::listener
