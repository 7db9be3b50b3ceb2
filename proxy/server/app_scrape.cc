// The scrape of the application's metrics (app_metrics.h): I/O, so in the
// runtime library rather than with the pure parts.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "proxy/server/app_metrics.h"

namespace weft::proxy::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
// An application's exposition larger than this is refused, not merged.
constexpr std::uint64_t kMaxExpositionBytes = std::uint64_t{16} * 1024 * 1024;

}  // namespace

asio::awaitable<Result<std::string>> scrape_app(const AppMetricsTarget& target,
                                                std::chrono::milliseconds timeout) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_after(timeout);
  auto [connect_ec] = co_await stream.async_connect(target.address, kNoThrow);
  if (connect_ec) {
    co_return fail(ErrorCode::kIo, "cannot connect to {}:{}: {}",
                   target.address.address().to_string(), target.address.port(),
                   connect_ec.message());
  }
  beast_http::request<beast_http::empty_body> request(beast_http::verb::get, target.path, 11);
  request.set(beast_http::field::host,
              target.address.address().to_string() + ":" + std::to_string(target.address.port()));
  // The text format: merged with the proxy's, which is text.
  request.set(beast_http::field::accept, "text/plain;version=0.0.4;q=1,*/*;q=0.1");
  request.set(beast_http::field::user_agent, "mesh-proxy");
  request.keep_alive(false);
  auto [write_ec, written] = co_await beast_http::async_write(stream, request, kNoThrow);
  if (write_ec) co_return fail(ErrorCode::kIo, "sending the request: {}", write_ec.message());
  beast::flat_buffer buffer;
  beast_http::response_parser<beast_http::string_body> parser;
  parser.body_limit(kMaxExpositionBytes);
  auto [read_ec, read] = co_await beast_http::async_read(stream, buffer, parser, kNoThrow);
  if (read_ec) co_return fail(ErrorCode::kIo, "reading the answer: {}", read_ec.message());
  auto& response = parser.get();
  if (response.result_int() != 200) {
    co_return fail(ErrorCode::kIo, "{} answered {}", target.path, response.result_int());
  }
  co_return std::move(response.body());
}

}  // namespace weft::proxy::server
