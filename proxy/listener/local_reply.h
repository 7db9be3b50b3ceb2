// A response the proxy makes itself, in either HTTP version.
#pragma once

#include <string>
#include <string_view>

#include "proxy/http/failure.h"

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

// The reply for a failure (the table in docs/proxy-config.md).
LocalReply local_reply(http::Failure failure);

// A request the authorization layer denied: 403 rbac_denied (gRPC:
// PERMISSION_DENIED).
inline LocalReply denied_reply() { return {403, "rbac_denied", "RBAC: access denied\n", ""}; }

}  // namespace weft::proxy::listener
