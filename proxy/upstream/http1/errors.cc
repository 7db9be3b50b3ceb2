#include "proxy/upstream/http1/errors.h"

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

#include "proxy/layers/retry.h"

namespace weft::proxy::upstream::http1 {

namespace asio = boost::asio;
namespace beast_http = boost::beast::http;

http::Failure failure_of(const boost::system::error_code& ec, http::Failure timeout) {
  if (ec == boost::beast::error::timeout) return timeout;
  // The message ending early is the connection's doing, not the parser's.
  if (ec.category() == beast_http::make_error_code(beast_http::error::bad_field).category() &&
      ec != beast_http::error::end_of_stream && ec != beast_http::error::partial_message) {
    return http::Failure::kProtocolError;
  }
  return http::Failure::kReset;
}

bool is_closed_connection(const boost::system::error_code& ec) {
  return ec == beast_http::error::end_of_stream || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::eof;
}

bool send_on_new_connection(const StaleFacts& facts) {
  return facts.reused_first && facts.closed && facts.body_replayable &&
         layers::retry::is_idempotent(facts.method);
}

}  // namespace weft::proxy::upstream::http1
