// A small HTTP/1.1 server for a process's own endpoints: the proxy's admin
// and Prometheus ports, the control plane's status port. It runs on an
// io_context of its caller's choosing (in the proxy the main thread's,
// never a worker's).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/verb.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace weft::admin {

struct Request {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string path;
  std::string query;
  boost::asio::ip::address peer;  // who asked (loopback: this host, or a port-forward)
};

struct Response {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using Handler = std::function<Response(const Request&)>;
// A handler that waits for something (another server) before answering.
using AsyncHandler = std::function<boost::asio::awaitable<Response>(Request)>;

// The value of `name` in a query string ("a=1&level=debug"),
// percent-decoded, or empty.
std::string query_value(std::string_view query, std::string_view name);
// Every value of `name`, in order, percent-decoded.
std::vector<std::string> query_values(std::string_view query, std::string_view name);
// `text` with every byte but RFC 3986's unreserved ones as %XX, for a
// query string value.
std::string percent_encode(std::string_view text);

// Listens on `address` and answers every request with `handler`. Returns the
// bound address (port 0 picks one).
Result<boost::asio::ip::tcp::endpoint> serve(boost::asio::io_context& io,
                                             const boost::asio::ip::tcp::endpoint& address,
                                             Handler handler);
Result<boost::asio::ip::tcp::endpoint> serve_async(boost::asio::io_context& io,
                                                   const boost::asio::ip::tcp::endpoint& address,
                                                   AsyncHandler handler);

}  // namespace weft::admin
