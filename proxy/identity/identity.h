// The proxy's workload identity over time (docs/tasks/mtls.md): a new key
// and a certificate for it at start, then again at half of each
// certificate's life (renewal.h), retried with backoff while the control
// plane refuses or is away. Each new certificate is swapped in whole:
// connections already established keep the one they shook hands with, new
// handshakes take the new one. Runs on the main thread; current() may be
// read from any.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <random>

#include "proxy/identity/credentials.h"
#include "proxy/identity/signer.h"

namespace weft::proxy::identity {

class Identity {
 public:
  // `ready_wait`: how long readiness waits for the first certificate.
  Identity(boost::asio::io_context& io, SignerOptions options, std::chrono::seconds ready_wait,
           prometheus::Registry& metrics);

  void start();
  // Null until the first certificate arrives.
  std::shared_ptr<const Credentials> current() const { return current_.load(); }
  // What the workers read at each handshake.
  const CurrentCredentials& credentials() const { return current_; }
  // Whether readiness may stop waiting for it: a certificate, or ready_wait
  // gone by (said once in the log; the requests go on).
  bool ready();
  // GET /identity on the admin port: the identity, its chain, when it
  // expires and renews, and the last failure (meshctl identity).
  std::string status_json() const;

 private:
  boost::asio::awaitable<void> run();
  // One request; on success the new credentials are in place.
  boost::asio::awaitable<Result<void>> renew();
  double draw() { return std::uniform_real_distribution<double>(0, 1)(random_); }

  boost::asio::io_context& io_;
  SignerOptions options_;
  std::chrono::steady_clock::time_point ready_by_;
  bool said_not_ready_ = false;
  CurrentCredentials current_;
  SystemClock::time_point next_renewal_{};
  unsigned failures_ = 0;  // in a row
  std::string last_error_;
  std::mt19937_64 random_{std::random_device{}()};
  prometheus::Gauge& expiry_;
  prometheus::Gauge& renewal_;
  prometheus::Family<prometheus::Counter>& requests_;  // by result: the two below
  prometheus::Counter& issued_;
  prometheus::Counter& failed_;
};

}  // namespace weft::proxy::identity
