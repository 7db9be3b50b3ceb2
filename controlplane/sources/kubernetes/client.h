// A small Kubernetes API client on Boost.Beast and OpenSSL: one connection
// per request (lists and watches are long-lived; nothing here is chatty),
// TLS verified against the cluster's CA and the server's name or IP, the
// bearer token read again before every request (bound service-account
// tokens rotate), and watch bodies handed over line by line as they arrive.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "controlplane/sources/kubernetes/config.h"

namespace weft::cp::kubernetes {

struct Response {
  unsigned status = 0;
  std::string body;
  std::chrono::seconds retry_after{0};  // from a 429 or 503
};

class ApiClient {
 public:
  static Result<std::unique_ptr<ApiClient>> create(ClusterConfig config);

  // A request and its whole response. Transport and TLS failures are
  // errors; HTTP statuses are the caller's to read.
  boost::asio::awaitable<Result<Response>> request(std::string method, std::string target,
                                                   std::string body = {},
                                                   std::string content_type = {});

  // A GET whose body is read as it arrives: `on_line` gets each line
  // (a watch event) and returns false to stop. `idle` bounds the wait for
  // any byte. The response's status and, for a non-200, its body.
  using LineHandler = std::function<bool(std::string_view)>;
  boost::asio::awaitable<Result<Response>> stream(std::string target, LineHandler on_line,
                                                  std::chrono::seconds idle);

  const ClusterConfig& config() const { return config_; }

 private:
  ApiClient(ClusterConfig config, std::unique_ptr<boost::asio::ssl::context> tls)
      : config_(std::move(config)), tls_(std::move(tls)) {}
  std::string authorization() const;
  boost::asio::awaitable<Result<Response>> stream_or_request(std::string method, std::string target,
                                                             std::string body,
                                                             std::string content_type,
                                                             const LineHandler* on_line,
                                                             std::chrono::seconds idle);

  template <class Stream>
  boost::asio::awaitable<Result<Response>> exchange(Stream& stream, std::string method,
                                                    std::string target, std::string body,
                                                    std::string content_type,
                                                    const LineHandler* on_line,
                                                    std::chrono::seconds idle);

  ClusterConfig config_;
  std::unique_ptr<boost::asio::ssl::context> tls_;  // null for http://
};

}  // namespace weft::cp::kubernetes
