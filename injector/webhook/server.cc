// GCC 12 reports a false -Wmismatched-new-delete inside Asio's coroutine
// frames; see status_writer.cc.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include "injector/webhook/server.h"

#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "injector/webhook/review.h"
#include "proxy/tls/tls.h"

namespace weft::injector::webhook {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::seconds kHandshakeTimeout{10};
constexpr std::chrono::seconds kIdleTimeout{60};

}  // namespace

struct Server::Metrics {
  explicit Metrics(prometheus::Registry& registry)
      : requests(prometheus::BuildCounter()
                     .Name("mesh_injector_requests_total")
                     .Help("Admission requests by result: injected, skipped, denied (the Pod's "
                           "own mistake), bad_request, too_large")
                     .Register(registry)),
        skipped(prometheus::BuildCounter()
                    .Name("mesh_injector_skipped_total")
                    .Help("Pods admitted unchanged, by reason")
                    .Register(registry)),
        reloads(prometheus::BuildCounter()
                    .Name("mesh_injector_certificate_reloads_total")
                    .Help("Serving certificate reloads by result (error: the last good one kept)")
                    .Register(registry)),
        handshake_failures(prometheus::BuildCounter()
                               .Name("mesh_injector_tls_handshake_failures_total")
                               .Help("Connections that failed the TLS handshake")
                               .Register(registry)
                               .Add({})) {}

  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Counter>& skipped;
  prometheus::Family<prometheus::Counter>& reloads;
  prometheus::Counter& handshake_failures;
};

Server::Server(asio::io_context& io, ServerOptions options)
    : io_(io),
      options_(std::move(options)),
      acceptor_(io),
      registry_(std::make_shared<prometheus::Registry>()),
      metrics_(std::make_unique<Metrics>(*registry_)) {}

Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::create(asio::io_context& io, ServerOptions options) {
  std::unique_ptr<Server> server(new Server(io, std::move(options)));
  if (auto loaded = server->load_certificate(); !loaded) return tl::unexpected(loaded.error());
  boost::system::error_code ec;
  auto& acceptor = server->acceptor_;
  acceptor.open(server->options_.address.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(server->options_.address, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return fail(ErrorCode::kIo, "listen on {}:{}: {}",
                server->options_.address.address().to_string(), server->options_.address.port(),
                ec.message());
  }
  return server;
}

Server::Stamp Server::stamp() const {
  std::error_code ec;
  Stamp s;
  s.cert_time = std::filesystem::last_write_time(options_.cert_file, ec);
  s.cert_size = std::filesystem::file_size(options_.cert_file, ec);
  s.key_time = std::filesystem::last_write_time(options_.key_file, ec);
  s.key_size = std::filesystem::file_size(options_.key_file, ec);
  return s;
}

Result<void> Server::load_certificate() {
  auto current = stamp();
  auto context = proxy::tls::server_context({options_.cert_file, options_.key_file, {}, {}});
  loaded_ = current;  // a broken pair is not retried until the files change again
  if (!context) return tl::unexpected(context.error());
  tls_ = *context;
  return {};
}

void Server::start() {
  asio::co_spawn(io_, accept_loop(), asio::detached);
  asio::co_spawn(io_, watch_certificate(), asio::detached);
}

asio::awaitable<void> Server::watch_certificate() {
  asio::steady_timer timer(io_);
  for (;;) {
    timer.expires_after(options_.reload_interval);
    co_await timer.async_wait(kNoThrow);
    if (stamp() == loaded_) continue;
    if (auto loaded = load_certificate(); !loaded) {
      metrics_->reloads.Add({{"result", "error"}}).Increment();
      spdlog::error("serving certificate not reloaded, keeping the last good one: {}",
                    loaded.error().message);
      continue;
    }
    metrics_->reloads.Add({{"result", "ok"}}).Increment();
    spdlog::info("serving certificate reloaded from {}", options_.cert_file);
  }
}

asio::awaitable<void> Server::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      continue;  // e.g. out of file descriptors: keep serving the others
    }
    asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

Server::Response Server::refusal(const boost::system::error_code& ec) const {
  Response response;
  response.version(11);
  response.set(http::field::content_type, "text/plain");
  response.result(ec == http::error::body_limit ? http::status::payload_too_large
                                                : http::status::bad_request);
  response.body() = ec.message() + "\n";
  response.keep_alive(false);
  return response;
}

Server::Response Server::handle(const Request& request) {
  Response response;
  response.version(11);
  response.set(http::field::content_type, "text/plain");
  response.keep_alive(request.keep_alive());
  if (request.target() == "/inject" && request.method() == http::verb::post) {
    auto answer = review(request.body(), options_.settings);
    metrics_->requests.Add({{"result", std::string(outcome_name(answer.outcome))}}).Increment();
    if (answer.outcome == Outcome::kSkipped) {
      metrics_->skipped.Add({{"reason", answer.detail}}).Increment();
    }
    spdlog::info("pod {}: {}{}{}", answer.pod, outcome_name(answer.outcome),
                 answer.detail.empty() ? "" : ": ", answer.detail);
    response.result(answer.http_status);
    if (answer.http_status == 200) response.set(http::field::content_type, "application/json");
    response.body() = std::move(answer.body);
  } else if (request.target() == "/ready" && request.method() == http::verb::get) {
    response.body() = "ready\n";
  } else if (request.target() == "/metrics" && request.method() == http::verb::get) {
    response.set(http::field::content_type, "text/plain; version=0.0.4");
    response.body() = prometheus::TextSerializer().Serialize(registry_->Collect());
  } else {
    response.result(http::status::not_found);
    response.body() = "POST /inject, GET /ready, GET /metrics\n";
  }
  return response;
}

asio::awaitable<void> Server::serve(tcp::socket socket) {
  auto tls = tls_;  // this connection keeps the certificate it started with
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls);
  beast::get_lowest_layer(stream).expires_after(kHandshakeTimeout);
  if (auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kNoThrow); ec) {
    metrics_->handshake_failures.Increment();
    spdlog::debug("webhook TLS handshake failed: {}", ec.message());
    co_return;
  }
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(options_.body_limit);
    beast::get_lowest_layer(stream).expires_after(kIdleTimeout);
    auto [read_ec, bytes] = co_await http::async_read(stream, buffer, parser, kNoThrow);
    // The client went away (or idled out) between requests: not an error.
    if (read_ec && (!parser.got_some() || read_ec == beast::error::timeout)) break;
    if (read_ec) {
      bool too_large = read_ec == http::error::body_limit;
      metrics_->requests.Add({{"result", too_large ? "too_large" : "bad_request"}}).Increment();
    }
    auto response = read_ec ? refusal(read_ec) : handle(parser.get());
    response.prepare_payload();
    auto [write_ec, written] = co_await http::async_write(stream, response, kNoThrow);
    if (write_ec || !response.keep_alive()) break;
  }
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
  co_await stream.async_shutdown(kNoThrow);
}

}  // namespace weft::injector::webhook
