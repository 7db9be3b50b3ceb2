// Keeps the sidecar injection webhook's TLS current, from the replica that
// holds the Lease: the Secret mesh-injector mounts holds an authority and a
// serving certificate for the webhook Service's DNS names (issued when
// missing, wrong or expiring within 30 days), and every webhook of the
// MutatingWebhookConfiguration carries that authority as its caBundle
// (restored within one period if someone re-applies the configuration).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "controlplane/ca/serving_secret.h"
#include "controlplane/sources/kubernetes/client.h"
#include "controlplane/sources/kubernetes/status_writer.h"

namespace weft::cp::kubernetes {

struct WebhookTlsOptions {
  std::string ns = "mesh-system";  // of the Secret and the Service
  std::string secret = "mesh-injector-tls";
  std::string service = "mesh-controlplane";  // the webhook's Service
  std::string configuration = "weft-sidecar-injector";
  std::chrono::milliseconds period{30'000};
  ca::RenewalPolicy policy;

  std::vector<std::string> dns_names() const;
};

class WebhookTls {
 public:
  WebhookTls(boost::asio::io_context& io, ApiClient& client, const StatusWriter& leader,
             WebhookTlsOptions options, prometheus::Registry& metrics);
  void start();

 private:
  boost::asio::awaitable<void> run();
  // One pass; the authority's certificate when the Secret is in order.
  boost::asio::awaitable<Result<std::string>> ensure_secret();
  boost::asio::awaitable<Result<void>> ensure_ca_bundle(const std::string& authority_pem);

  boost::asio::io_context& io_;
  ApiClient& client_;
  const StatusWriter& leader_;
  WebhookTlsOptions options_;
  prometheus::Family<prometheus::Counter>& issued_;
  prometheus::Counter& bundle_updates_;
  prometheus::Counter& errors_;
  prometheus::Gauge& expiry_;
};

}  // namespace weft::cp::kubernetes
