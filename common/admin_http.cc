#include "common/admin_http.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <cctype>

namespace weft::admin {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

asio::awaitable<void> serve_connection(beast::tcp_stream stream, AsyncHandler& handler) {
  beast::flat_buffer buffer;
  for (;;) {
    beast_http::request_parser<beast_http::string_body> parser;
    parser.body_limit(std::uint64_t{1024} * 1024);
    stream.expires_after(std::chrono::seconds(60));
    auto [ec, n] = co_await beast_http::async_read(stream, buffer, parser, kNoThrow);
    if (ec) co_return;
    const auto& message = parser.get();
    std::string_view target = message.target();
    auto q = target.find('?');
    Request request{message.method(),
                    std::string(target.substr(0, q)),
                    q == std::string_view::npos ? "" : std::string(target.substr(q + 1)),
                    {}};
    boost::system::error_code peer_ec;
    request.peer = stream.socket().remote_endpoint(peer_ec).address();
    auto answer = co_await handler(std::move(request));
    beast_http::response<beast_http::string_body> response{
        static_cast<beast_http::status>(answer.status), message.version()};
    response.set(beast_http::field::server, "weft-admin");
    response.set(beast_http::field::content_type, answer.content_type);
    response.keep_alive(message.keep_alive());
    response.body() = std::move(answer.body);
    response.prepare_payload();
    auto [write_ec, written] = co_await beast_http::async_write(stream, response, kNoThrow);
    if (write_ec || !response.keep_alive()) co_return;
  }
}

asio::awaitable<void> accept_loop(std::shared_ptr<tcp::acceptor> acceptor,
                                  std::shared_ptr<AsyncHandler> handler) {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(kNoThrow);
    if (!acceptor->is_open()) co_return;
    if (ec) continue;
    asio::co_spawn(
        acceptor->get_executor(),
        [handler, s = std::move(socket)]() mutable -> asio::awaitable<void> {
          beast::tcp_stream stream(std::move(s));  // named: GCC 12 coroutine bug
          co_await serve_connection(std::move(stream), *handler);
        },
        asio::detached);
  }
}

}  // namespace

Result<tcp::endpoint> serve(asio::io_context& io, const tcp::endpoint& address, Handler handler) {
  return serve_async(io, address,
                     [handler = std::move(handler)](Request request) -> asio::awaitable<Response> {
                       co_return handler(request);
                     });
}

Result<tcp::endpoint> serve_async(asio::io_context& io, const tcp::endpoint& address,
                                  AsyncHandler handler) {
  auto acceptor = std::make_shared<tcp::acceptor>(io);
  boost::system::error_code ec;
  acceptor->open(address.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(address, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return fail(ErrorCode::kIo, "cannot listen on {}:{}: {}", address.address().to_string(),
                address.port(), ec.message());
  }
  auto bound = acceptor->local_endpoint();
  asio::co_spawn(io, accept_loop(acceptor, std::make_shared<AsyncHandler>(std::move(handler))),
                 asio::detached);
  return bound;
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "%2F" -> "/"; a '%' not followed by two hex digits stays as it is.
std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
        hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
      continue;
    }
    out += text[i];
  }
  return out;
}

}  // namespace

std::vector<std::string> query_values(std::string_view query, std::string_view name) {
  std::vector<std::string> values;
  while (!query.empty()) {
    auto pair = query.substr(0, query.find('&'));
    query.remove_prefix(std::min(query.size(), pair.size() + 1));
    if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
      values.push_back(percent_decode(pair.substr(name.size() + 1)));
    }
  }
  return values;
}

std::string query_value(std::string_view query, std::string_view name) {
  auto values = query_values(query, name);
  return values.empty() ? std::string() : std::move(values.front());
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
      continue;
    }
    out += '%';
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

}  // namespace weft::admin
