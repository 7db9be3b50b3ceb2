// Active health checks (TrafficPolicy healthCheck): once per proxy, on the
// main thread, each endpoint of each cluster with a check is probed every
// interval (TCP connect; an HTTP/1.1 GET whose status must be one of the
// expected; or a grpc.health.v1 Check call over HTTP/2 that must answer
// SERVING). Enough failures in a row mark the endpoint failing in its
// proxy-wide outlier::EndpointHealth, which every worker's balancer reads:
// a failing endpoint is not picked while a healthy one is left, and counts
// against the cluster's panic threshold and for failover, as an ejected one
// does. Enough passes bring it back.
//
// apply() follows each configuration: probes of an endpoint and check that
// stay keep running (and their state); the others stop, their endpoints
// passing again.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "common/random.h"
#include "proxy/config/snapshot.h"
#include "proxy/metrics/metrics.h"
#include "proxy/upstream/health/verdict.h"

namespace weft::proxy::upstream::health {

class Checker {
 public:
  Checker(boost::asio::io_context& io, metrics::Metrics& metrics) : io_(io), metrics_(metrics) {}
  ~Checker();
  Checker(const Checker&) = delete;
  Checker& operator=(const Checker&) = delete;

  void apply(const config::Snapshot& snapshot);

 private:
  struct Probe {
    Probe(boost::asio::io_context& io, Check c, const config::TcpEndpoint& e)
        : check(std::move(c)), endpoint(e), timer(io) {}
    Check check;
    config::TcpEndpoint endpoint;
    std::shared_ptr<outlier::EndpointHealth> health;
    prometheus::Counter* passed = nullptr;
    prometheus::Counter* failed = nullptr;
    std::string cluster;
    Streak streak;
    boost::asio::steady_timer timer;
    bool stopped = false;
  };
  using Key = std::tuple<std::string, config::TcpEndpoint>;  // cluster, endpoint

  void start(const config::Cluster& cluster, const config::TcpEndpoint& endpoint);
  static void stop(Probe& probe);
  boost::asio::awaitable<void> run(std::shared_ptr<Probe> probe);

  boost::asio::io_context& io_;
  metrics::Metrics& metrics_;
  std::map<Key, std::shared_ptr<Probe>> probes_;
  FastRandom random_;
};

// One probe of `endpoint` by `check`: whether it passed within the timeout.
boost::asio::awaitable<bool> probe(const Check& check, const config::TcpEndpoint& endpoint);

}  // namespace weft::proxy::upstream::health
