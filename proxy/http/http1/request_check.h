// RFC 9112 strictness for downstream requests, on top of Beast's parser.
// Beast rejects malformed start lines, field names and values, bad chunking
// and conflicting Content-Length; this adds what it leaves to the server
// (Host rules, Transfer-Encoding chain, field count, URI length) and maps
// every rejection to a status code and a metric label.
#pragma once

#include <boost/system/error_code.hpp>
#include <optional>
#include <string_view>

#include "proxy/http/http1/fields.h"

namespace weft::proxy::http::http1 {

struct Limits {
  std::size_t max_header_bytes = std::size_t{60} * 1024;  // 431 beyond
  std::size_t max_header_fields = 100;                    // 431 beyond
  std::size_t max_uri_bytes = std::size_t{8} * 1024;      // 414 beyond
  // Tracing is on: the fields the proxy adds upstream include the trace
  // context (fields_added_upstream).
  bool traced = false;
};

// Why a request was refused. `reason` is a stable label for metrics, the
// x-weft-error header and the access log.
struct Rejection {
  unsigned status = 400;
  std::string_view reason;
};

// Every reason a rejection can carry, so metrics can resolve their counters
// once at start-up.
inline constexpr std::string_view kRejectionReasons[] = {
    "bad_method",
    "bad_target",
    "bad_version",
    "bad_header_name",
    "bad_header_value",
    "bad_line_ending",
    "bad_content_length",
    "bad_transfer_encoding",
    "bad_chunk",
    "obs_fold",
    "header_too_large",
    "too_many_headers",
    "uri_too_long",
    "missing_host",
    "duplicate_host",
    "malformed",
    "unsupported_transfer_coding",
    "request_headers_timeout",  // 408: the head did not arrive in time (slowloris)
};

// The rejection for an error from Beast's request parser.
Rejection rejection_for(const boost::system::error_code& parse_error);

// Checks a request head Beast accepted. None: the request may proceed.
std::optional<Rejection> check_request_head(const RequestHead& head, const Limits& limits);

// Parses `raw` (a request head, optionally followed by body bytes) the way a
// connection does and applies both layers of checks. For tests and fuzzing.
std::optional<Rejection> check_raw_request(std::string_view raw, const Limits& limits);

}  // namespace weft::proxy::http::http1
