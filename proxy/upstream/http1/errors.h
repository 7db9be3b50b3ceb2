// What an HTTP/1.1 upstream connection's errors mean for the request on it:
// which failure the client is told, and when a request may go again on a
// new connection because the pooled one was already closed.
#pragma once

#include <boost/system/error_code.hpp>
#include <string_view>

#include "proxy/http/failure.h"

namespace weft::proxy::upstream::http1 {

// The failure an upstream read or write error means: `timeout` (the cause
// of the deadline that passed) for beast::error::timeout, a protocol error
// for a response the parser refused, a reset for anything else.
http::Failure failure_of(const boost::system::error_code& ec, http::Failure timeout);

// Whether `ec` says the upstream had closed the connection (end of stream,
// reset, broken pipe): on a pooled connection, a close racing our request.
bool is_closed_connection(const boost::system::error_code& ec);

// What decides whether a request that failed on a pooled connection goes
// again on a new one, without counting as an attempt.
struct StaleFacts {
  bool reused_first = false;     // the first connection of the attempt, taken from the pool
  bool closed = false;           // the error was is_closed_connection, before any response byte
  bool body_replayable = false;  // no body, untouched, or kept whole
  std::string_view method;
};

// Idle keep-alive connections race the upstream's own idle close: such a
// failure lost nothing, so it is sent again once, unless the upstream may
// have acted on it (RFC 9110 §9.2.2: a non-idempotent method is not sent
// again on a guess).
bool send_on_new_connection(const StaleFacts& facts);

}  // namespace weft::proxy::upstream::http1
