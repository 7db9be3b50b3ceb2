// The mesh-proxy process: workers, the admin and metrics endpoints, signal
// handling and drain. Everything here runs on the main thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/admin_http.h"
#include "common/result.h"
#include "proxy/access_log/sink.h"
#include "proxy/config/snapshot.h"
#include "proxy/identity/identity.h"
#include "proxy/metrics/metrics.h"
#include "proxy/server/app_metrics.h"
#include "proxy/tap/hub.h"
#include "proxy/tracing/exporter.h"
#include "proxy/upstream/health/checker.h"
#include "proxy/worker/worker.h"

namespace weft::proxy::server {

struct Options {
  std::size_t concurrency = 1;
  // Downstream connections open at once over every listener and worker
  // (--max-connections); 0: worker::default_max_connections of the
  // process's open-file limit.
  std::uint64_t max_connections = 0;
  // Loads and translates the configuration again (SIGHUP); null: no reload.
  std::function<Result<std::shared_ptr<const config::Snapshot>>()> load;
  // --access-log: the access log when the configuration names none.
  std::optional<layers::access_log::Settings> access_log;
  bool tap = false;  // --tap: /tap on the admin port
  // The application's metrics, merged into /stats/prometheus; none: only
  // the proxy's.
  std::optional<AppMetricsTarget> app_metrics;
  // "namespace/name" of the Pod it serves, when it has one (in /endpoints,
  // so a caller can tell which proxy answered).
  std::string proxy_name;
  // The workload identity (--ca-address), which /ready waits for and
  // /identity shows; null: none.
  identity::Identity* identity = nullptr;
};

class Server {
 public:
  explicit Server(Options options);

  // Binds every listener of `snapshot` on every worker, and the admin
  // endpoints, and starts serving it.
  Result<void> start(std::shared_ptr<const config::Snapshot> snapshot);
  bool started() const { return snapshot_ != nullptr; }
  // Replaces the running configuration: in-flight requests finish on the
  // old one. Errors (and keeps the current one) when `next` needs listeners
  // or admin addresses the running proxy does not have.
  Result<void> apply(std::shared_ptr<const config::Snapshot> next);
  // The main thread's io_context, for the control-plane stream.
  boost::asio::io_context& io() { return io_; }
  metrics::Metrics& metrics() { return metrics_; }
  // Set before start(): the workload identity.
  void set_identity(identity::Identity* identity) { options_.identity = identity; }
  // Serves until SIGTERM/SIGINT (drain, then exit) or /quitquitquit;
  // SIGHUP reloads the configuration.
  // Returns the process exit code.
  int run();

 private:
  Result<void> bind(const config::Snapshot& snapshot);
  admin::Response admin(const admin::Request& request);
  // The admin endpoint: admin(), and /endpoints, which asks every worker.
  boost::asio::awaitable<admin::Response> admin_async(admin::Request request);
  boost::asio::awaitable<admin::Response> endpoints();
  // /tap?since=N&max=M&wait_ms=W: the requests finished after number N
  // (none: from now), waiting up to W ms for the first.
  boost::asio::awaitable<admin::Response> tap(const admin::Request& request);
  // /stats/prometheus: the proxy's metrics, and the application's when
  // --app-metrics names them.
  boost::asio::awaitable<admin::Response> prometheus(admin::Request request);
  void drain(bool exit_when_done);
  // Drains and exits when the snapshot says the Pod's application is done.
  void exit_if_asked();
  // Applies a freshly loaded configuration, or keeps the current one and
  // says why (log and mesh_config_reloads_total{result="rejected"}).
  void reload();
  void await_hangup();
  void await_reopen();  // SIGUSR1: the access log file opened again
  // Points the access log at the snapshot's path, if it has an access log.
  void open_access_log();
  void stop();

  Options options_;
  std::shared_ptr<const config::Snapshot> snapshot_;
  boost::asio::io_context io_{1};
  boost::asio::signal_set signals_{io_, SIGTERM, SIGINT};
  boost::asio::signal_set hangups_{io_, SIGHUP};
  boost::asio::signal_set reopens_{io_, SIGUSR1};
  metrics::Metrics metrics_;
  upstream::health::Checker checker_{io_, metrics_};  // on the main thread
  worker::ConnectionBudget connection_budget_;        // before the workers that use it
  access_log::Sink access_log_{metrics_};             // before the workers that fill it
  tap::Hub tap_;                                      // likewise
  std::vector<std::unique_ptr<worker::Worker>> workers_;
  tracing::Exporter exporter_;  // after the workers it collects from
  bool draining_ = false;
  bool exiting_ = false;
};

// worker::default_max_connections of this process's open-file limit, after
// raising its soft limit to the hard one.
std::uint64_t default_max_connections();

// The pod's CPU limit (cgroup v2 cpu.max), else the machine's cores; at least 1.
std::size_t default_concurrency();

}  // namespace weft::proxy::server
