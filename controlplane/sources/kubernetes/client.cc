#include "controlplane/sources/kubernetes/client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "common/yaml_proto.h"
#include "controlplane/sources/kubernetes/watch_stream.h"

namespace weft::cp::kubernetes {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::seconds kConnectTimeout{10};
constexpr std::chrono::seconds kRequestTimeout{60};

Result<void> check(const boost::system::error_code& ec, std::string_view what) {
  if (!ec) return {};
  return fail(ErrorCode::kUnavailable, "{}: {}", what, ec.message());
}

bool is_ip(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

Result<std::unique_ptr<ssl::context>> tls_context(const ClusterConfig& config) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  if (config.ca_pem.empty()) {
    context->set_default_verify_paths(ec);
  } else {
    context->add_certificate_authority(asio::buffer(config.ca_pem), ec);
  }
  if (ec) return fail(ErrorCode::kInvalidArgument, "cluster CA: {}", ec.message());
  if (!config.client_cert_pem.empty()) {
    context->use_certificate_chain(asio::buffer(config.client_cert_pem), ec);
    if (!ec) context->use_private_key(asio::buffer(config.client_key_pem), ssl::context::pem, ec);
    if (ec) return fail(ErrorCode::kInvalidArgument, "client certificate: {}", ec.message());
  }
  context->set_verify_mode(config.insecure_skip_verify ? ssl::verify_none : ssl::verify_peer);
  return context;
}

std::chrono::seconds retry_after(const http::fields& fields) {
  auto it = fields.find(http::field::retry_after);
  if (it == fields.end()) return std::chrono::seconds(0);
  try {
    return std::chrono::seconds(std::stoul(std::string(it->value())));
  } catch (const std::exception&) {
    return std::chrono::seconds(0);  // an HTTP date: the caller's backoff applies
  }
}

}  // namespace

Result<std::unique_ptr<ApiClient>> ApiClient::create(ClusterConfig config) {
  std::unique_ptr<ssl::context> tls;
  if (config.tls) {
    auto context = tls_context(config);
    if (!context) return tl::unexpected(context.error());
    tls = std::move(*context);
  }
  return std::unique_ptr<ApiClient>(new ApiClient(std::move(config), std::move(tls)));
}

std::string ApiClient::authorization() const {
  if (!config_.token_file.empty()) {
    if (auto token = yaml::read_file(config_.token_file)) {
      auto text = *token;
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      return "Bearer " + text;
    }
  }
  return config_.token.empty() ? std::string() : "Bearer " + config_.token;
}

template <class Stream>
asio::awaitable<Result<Response>> ApiClient::exchange(Stream& stream, std::string method,
                                                      std::string target, std::string body,
                                                      std::string content_type,
                                                      const LineHandler* on_line,
                                                      std::chrono::seconds idle) {
  http::request<http::string_body> request{http::string_to_verb(method), target, 11};
  request.set(http::field::host, config_.host);
  request.set(http::field::user_agent, "mesh-controlplane");
  request.set(http::field::accept, "application/json");
  if (auto auth = authorization(); !auth.empty()) request.set(http::field::authorization, auth);
  if (!content_type.empty()) request.set(http::field::content_type, content_type);
  request.body() = std::move(body);
  request.prepare_payload();
  beast::get_lowest_layer(stream).expires_after(kRequestTimeout);
  auto [write_ec, written] = co_await http::async_write(stream, request, kNoThrow);
  if (auto ok = check(write_ec, "write"); !ok) co_return tl::unexpected(ok.error());

  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);  // a watch body never ends by size
  auto [head_ec, head_n] = co_await http::async_read_header(stream, buffer, parser, kNoThrow);
  if (auto ok = check(head_ec, "read"); !ok) co_return tl::unexpected(ok.error());
  Response response{parser.get().result_int(), {}, retry_after(parser.get().base())};
  bool streaming = on_line != nullptr && response.status == 200;
  LineSplitter lines;
  char chunk[16384];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof(chunk);
    beast::get_lowest_layer(stream).expires_after(streaming ? idle : kRequestTimeout);
    auto [ec, n] = co_await http::async_read_some(stream, buffer, parser, kNoThrow);
    if (ec && ec != http::error::need_buffer) {
      if (auto ok = check(ec, "read body"); !ok) co_return tl::unexpected(ok.error());
    }
    std::string_view got(chunk, sizeof(chunk) - parser.get().body().size);
    if (!streaming) {
      response.body.append(got);
      continue;
    }
    auto fed = lines.feed(got, *on_line);
    if (fed == LineSplitter::Fed::kStopped) co_return response;
    if (fed == LineSplitter::Fed::kTooLong) {
      co_return fail(ErrorCode::kUnavailable, "{}: a watch event longer than {} bytes", target,
                     LineSplitter::kMaxLine);
    }
  }
  if (streaming && !lines.rest().empty()) (*on_line)(lines.rest());
  co_return response;
}

asio::awaitable<Result<Response>> ApiClient::request(std::string method, std::string target,
                                                     std::string body, std::string content_type) {
  co_return co_await stream_or_request(std::move(method), std::move(target), std::move(body),
                                       std::move(content_type), nullptr, kRequestTimeout);
}

asio::awaitable<Result<Response>> ApiClient::stream(std::string target, LineHandler on_line,
                                                    std::chrono::seconds idle) {
  co_return co_await stream_or_request("GET", std::move(target), {}, {}, &on_line, idle);
}

asio::awaitable<Result<Response>> ApiClient::stream_or_request(std::string method,
                                                               std::string target, std::string body,
                                                               std::string content_type,
                                                               const LineHandler* on_line,
                                                               std::chrono::seconds idle) {
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::resolver resolver(executor);
  auto [resolve_ec, endpoints] =
      co_await resolver.async_resolve(config_.host, config_.port, kNoThrow);
  if (auto ok = check(resolve_ec, "resolve " + config_.host); !ok) {
    co_return tl::unexpected(ok.error());
  }
  beast::tcp_stream tcp(executor);
  tcp.expires_after(kConnectTimeout);
  auto [connect_ec, endpoint] = co_await tcp.async_connect(endpoints, kNoThrow);
  if (auto ok = check(connect_ec, fmt::format("connect {}:{}", config_.host, config_.port)); !ok) {
    co_return tl::unexpected(ok.error());
  }
  if (!tls_) {
    co_return co_await exchange(tcp, std::move(method), std::move(target), std::move(body),
                                std::move(content_type), on_line, idle);
  }
  beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp), *tls_);
  auto* handle = stream.native_handle();
  if (is_ip(config_.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(handle), config_.host.c_str());
  } else {
    SSL_set_tlsext_host_name(handle, config_.host.c_str());
    stream.set_verify_callback(ssl::host_name_verification(config_.host));
  }
  auto [handshake_ec] = co_await stream.async_handshake(ssl::stream_base::client, kNoThrow);
  if (auto ok = check(handshake_ec, "TLS handshake"); !ok) co_return tl::unexpected(ok.error());
  auto result = co_await exchange(stream, std::move(method), std::move(target), std::move(body),
                                  std::move(content_type), on_line, idle);
  co_return result;
}

}  // namespace weft::cp::kubernetes
