// A blocking HTTP/1.1 GET for meshctl's calls to the control plane's
// status endpoint. Bounded: connect and the whole exchange time out.
#pragma once

#include <boost/json/value.hpp>
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

// http_get of a JSON answer, parsed. Not 200: kNotFound with the answer's
// "error" field (the control plane's and Prometheus' error shape), else
// its body; an answer that is not JSON: kInternal with the body.
Result<boost::json::value> get_json(const std::string& base, const std::string& target,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(5));

// `key` of `o` as text: a string as it is, any other value serialized,
// empty when missing.
std::string text_of(const boost::json::object& o, std::string_view key);

}  // namespace weft::meshctl
