// A blocking HTTP/1.1 GET for meshctl's calls to the control plane's
// status endpoint. Bounded: connect and the whole exchange time out.
#pragma once

#include <chrono>
#include <string>

#include "common/result.h"

namespace weft::meshctl {

struct HttpResponse {
  unsigned status = 0;
  std::string body;
};

// `base` is "http://HOST:PORT" or "HOST:PORT"; `target` the path and query.
Result<HttpResponse> http_get(const std::string& base, const std::string& target,
                              std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace weft::meshctl
