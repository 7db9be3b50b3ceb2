// The application's own Prometheus metrics, served with the proxy's on the
// proxy's metrics port (as Istio's metrics merging does). Injection points a
// Pod's prometheus.io/* annotations at the proxy and passes where they
// pointed before (--app-metrics); each scrape of /stats/prometheus then
// fetches the application's exposition and appends it to the proxy's, so a
// meshed Pod keeps the scrape its owners set up.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace weft::proxy::server {

// Where the application serves its metrics.
struct AppMetricsTarget {
  boost::asio::ip::tcp::endpoint address;
  std::string path = "/metrics";
};

// "IP:PORT[/PATH]" (IPv6 as "[::1]:9100/metrics"); the path defaults to
// /metrics, Prometheus' own default.
Result<AppMetricsTarget> parse_app_metrics_target(std::string_view text);

// The proxy's text exposition followed by the application's, as one: an
// OpenMetrics "# EOF" line is dropped and the last line ended.
std::string merge_expositions(std::string_view proxy, std::string_view app);

// Fetches the application's exposition over HTTP/1.1 within `timeout`;
// an error when it cannot be had or does not answer 200.
boost::asio::awaitable<Result<std::string>> scrape_app(const AppMetricsTarget& target,
                                                       std::chrono::milliseconds timeout);

}  // namespace weft::proxy::server
