// mesh-injector's HTTPS server: POST /inject answers AdmissionReviews,
// GET /ready and GET /metrics serve the kubelet and Prometheus. The serving
// certificate and key are files (a Secret the control plane keeps current),
// re-read when they change; new connections get the new certificate, a
// broken pair is refused and the last good one kept.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <filesystem>
#include <memory>

#include "common/result.h"
#include "injector/inject.h"

namespace weft::injector::webhook {

struct ServerOptions {
  boost::asio::ip::tcp::endpoint address;
  std::string cert_file, key_file;
  Settings settings;
  std::chrono::milliseconds reload_interval{2'000};
  std::size_t body_limit = 4 << 20;  // the API server sends whole Pods; 4 MiB is generous
};

class Server {
 public:
  // Loads the certificate and binds; errors name the file or the address.
  static Result<std::unique_ptr<Server>> create(boost::asio::io_context& io, ServerOptions options);
  ~Server();
  void start();
  boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

 private:
  struct Metrics;
  // What identifies a version of the certificate files.
  struct Stamp {
    std::filesystem::file_time_type cert_time, key_time;
    std::uintmax_t cert_size = 0, key_size = 0;
    bool operator==(const Stamp&) const = default;
  };

  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  Server(boost::asio::io_context& io, ServerOptions options);
  Response handle(const Request& request);
  Response refusal(const boost::system::error_code& ec) const;
  Result<void> load_certificate();
  Stamp stamp() const;
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);
  boost::asio::awaitable<void> watch_certificate();

  boost::asio::io_context& io_;
  ServerOptions options_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<boost::asio::ssl::context> tls_;  // swapped on reload; connections keep theirs
  Stamp loaded_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Metrics> metrics_;
};

}  // namespace weft::injector::webhook
