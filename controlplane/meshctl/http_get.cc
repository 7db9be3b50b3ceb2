#include "controlplane/meshctl/http_get.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

namespace weft::meshctl {

namespace asio = boost::asio;
namespace http = boost::beast::http;

Result<HttpResponse> http_get(const std::string& base, const std::string& target,
                              std::chrono::milliseconds timeout) {
  std::string authority = base;
  if (authority.starts_with("http://")) authority = authority.substr(7);
  while (authority.ends_with('/')) authority.pop_back();
  auto colon = authority.rfind(':');
  if (colon == std::string::npos) {
    return fail(ErrorCode::kInvalidArgument, "'{}' is not HOST:PORT", base);
  }
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  boost::beast::tcp_stream stream(io);
  boost::system::error_code ec;
  auto endpoints = resolver.resolve(authority.substr(0, colon), authority.substr(colon + 1), ec);
  if (ec) return fail(ErrorCode::kUnavailable, "{}: {}", base, ec.message());
  http::response<http::string_body> response;
  boost::beast::flat_buffer buffer;
  // Asynchronous operations under one deadline, driven to completion here.
  stream.expires_after(timeout);
  stream.async_connect(endpoints, [&](const boost::system::error_code& e, const auto&) {
    if (e) {
      ec = e;
      return;
    }
    auto request = std::make_shared<http::request<http::empty_body>>(http::verb::get, target, 11);
    request->set(http::field::host, authority);
    request->set(http::field::user_agent, "meshctl");
    http::async_write(stream, *request, [&, request](const boost::system::error_code& w, auto) {
      if (w) {
        ec = w;
        return;
      }
      http::async_read(stream, buffer, response,
                       [&](const boost::system::error_code& r, auto) { ec = r; });
    });
  });
  io.run();
  if (ec) return fail(ErrorCode::kUnavailable, "{}{}: {}", base, target, ec.message());
  return HttpResponse{response.result_int(), std::move(response.body())};
}

Result<boost::json::value> get_json(const std::string& base, const std::string& target,
                                    std::chrono::milliseconds timeout) {
  auto response = http_get(base, target, timeout);
  if (!response) return tl::unexpected(response.error());
  boost::system::error_code ec;
  auto value = boost::json::parse(response->body, ec);
  if (ec) {
    return fail(ErrorCode::kInternal, "{}{}: HTTP {}: {}", base, target, response->status,
                response->body);
  }
  if (response->status != 200) {
    const auto* error = value.is_object() ? value.as_object().if_contains("error") : nullptr;
    return fail(
        ErrorCode::kNotFound, "{}",
        error != nullptr && error->is_string() ? std::string(error->get_string()) : response->body);
  }
  return value;
}

std::string text_of(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return "";
  if (v->is_string()) return std::string(v->get_string());
  return boost::json::serialize(*v);
}

}  // namespace weft::meshctl
