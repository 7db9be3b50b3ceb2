#include "proxy/upstream/clusters.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proxy/upstream/http2/pool.h"
#include "proxy/upstream/pool/pool.h"

namespace weft::proxy::upstream {
namespace {

namespace asio = boost::asio;
using std::chrono::seconds;

config::TcpEndpoint at(std::uint16_t port) { return {asio::ip::make_address("127.0.0.1"), port}; }

config::Cluster cluster(const std::string& name, const std::vector<std::uint16_t>& ports) {
  config::Cluster c;
  c.name = name;
  for (auto port : ports) c.endpoints.push_back({at(port), config::address_text(at(port)), 1});
  return c;
}

config::Snapshot snapshot_of(config::Cluster c) {
  config::Snapshot s;
  s.clusters.push_back(std::move(c));
  return s;
}

pool::Connection open_connection(asio::io_context& io) {
  auto socket = std::make_unique<pool::Socket>(io);
  socket->open(asio::ip::tcp::v4());
  return pool::Connection(std::move(socket));
}

// A push that replaces one endpoint of a cluster keeps the idle connections
// of the endpoints it still lists (found by address, wherever they moved),
// and a connection the old snapshot's request hands back lands where the
// new snapshot finds it.
TEST(Clusters, APushKeepsTheEndpointsItStillLists) {
  asio::io_context io;
  metrics::Metrics metrics;
  const auto now = pool::Clock::now();
  const auto before = snapshot_of(cluster("app", {8001, 8002, 8003}));
  auto old = make_clusters(before, metrics, nullptr);
  for (std::size_t i = 0; i < 3; ++i) old[0].pool->put(i, open_connection(io), now);

  const auto after = snapshot_of(cluster("app", {8003, 8004, 8001}));
  auto fresh = make_clusters(after, metrics, &old);
  EXPECT_EQ(fresh[0].pool->idle(0), 1u) << "8003, was third";
  EXPECT_EQ(fresh[0].pool->idle(1), 0u) << "8004 is new";
  EXPECT_EQ(fresh[0].pool->idle(2), 1u) << "8001, was first";
  old[0].pool->put(0, open_connection(io), now);  // an in-flight request of the old snapshot
  EXPECT_EQ(fresh[0].pool->idle(2), 2u);
  EXPECT_TRUE(fresh[0].pool->take(2, now).has_value());
  EXPECT_EQ(old[0].pool->idle(0), 1u) << "one endpoint, one set of idle connections";
  EXPECT_EQ(fresh[0].retry_budget, old[0].retry_budget);
}

// What the balancer knows of an endpoint (requests in flight, latency)
// survives a push that keeps its address, in whatever position; an endpoint
// new to an existing cluster joins at the push (slow start), while the
// endpoints of a cluster seen for the first time start at full weight.
TEST(Clusters, APushKeepsEachEndpointsLoad) {
  metrics::Metrics metrics;
  const auto before = snapshot_of(cluster("app", {8001, 8002}));
  auto old = make_clusters(before, metrics, nullptr);
  auto lease = old[0].balancer.lease(1);  // a request on 8002, in flight across the push
  EXPECT_EQ(old[0].balancer.load(0).joined, lb::Clock::time_point{});

  const auto after = snapshot_of(cluster("app", {8002, 8003}));
  auto fresh = make_clusters(after, metrics, &old);
  EXPECT_EQ(fresh[0].balancer.shared_load(0), old[0].balancer.shared_load(1)) << "8002";
  EXPECT_EQ(fresh[0].balancer.load(0).in_flight, 1u);
  EXPECT_NE(fresh[0].balancer.load(1).joined, lb::Clock::time_point{}) << "8003 joins now";
  lease = {};
  EXPECT_EQ(fresh[0].balancer.load(0).in_flight, 0u);
}

// The circuit breaker's counts are the proxy's, not a view's: a request of
// the old configuration still counts against the new one's limit.
TEST(Clusters, RequestsInFlightCountAcrossPushesAndViews) {
  metrics::Metrics metrics;
  auto limited = cluster("app", {8001});
  limited.max_requests = 2;
  const auto before = snapshot_of(limited);
  auto old = make_clusters(before, metrics, nullptr);
  auto other_worker = make_clusters(before, metrics, nullptr);
  const auto now = lb::Clock::now();
  auto first = old[0].on_request(now);
  auto second = other_worker[0].on_request(now);
  EXPECT_TRUE(first && second);
  const auto after = snapshot_of(limited);
  auto fresh = make_clusters(after, metrics, &old);
  EXPECT_FALSE(fresh[0].on_request(now)) << "two in flight already";
  first.release();
  EXPECT_TRUE(fresh[0].on_request(now));
  EXPECT_EQ(fresh[0].stats.request_overflows->Value(), 1);
}

// A request without headers, for target_for.
const HashInput& input() {
  static const http::RequestHead kHead;
  static const http::RequestView kView(kHead);
  static FastRandom random(1);
  static const HashInput kInput{kView, "10.0.0.1", random};
  return kInput;
}

// Ejects every endpoint of `state` (outlier detection must be on).
void eject_all(ClusterState& state, lb::Clock::time_point at) {
  for (const auto& h : state.health) h->eject(state.config.outlier, at);
}

config::Cluster watched(const std::string& name, const std::vector<std::uint16_t>& ports) {
  auto c = cluster(name, ports);
  c.outlier.consecutive_5xx = 1;
  c.outlier.max_ejection_percent = 100;
  return c;
}

// A cluster without a healthy endpoint hands its requests to its first
// backup with one, and counts it; with none, below its panic threshold it
// uses its own ejected endpoints, else the request fails.
TEST(Clusters, TargetFailsOverThenPanicsThenFails) {
  struct Case {
    const char* name;
    std::uint32_t panic_threshold;
    bool first_backup_healthy, second_backup_healthy;
    std::size_t cluster;  // the target's cluster index; 3: none
    http::Failure failure;
    std::string_view failover;
  };
  const std::vector<Case> cases = {
      {"the first backup", 50, true, true, 1, http::Failure::kNone, "backup-a"},
      {"the next backup", 50, false, true, 2, http::Failure::kNone, "backup-b"},
      {"no backup: panic", 50, false, false, 0, http::Failure::kNone, ""},
      {"no backup, no panic", 0, false, false, 0, http::Failure::kNoHealthyUpstream, ""},
  };
  for (const auto& c : cases) {
    metrics::Metrics metrics;
    config::Snapshot s;
    s.clusters = {watched("app", {8001, 8002}), watched("app-a", {8011}), watched("app-b", {8021})};
    s.clusters[0].load_balancer.panic_threshold = c.panic_threshold;
    s.clusters[0].failover = {{1, "backup-a"}, {2, "backup-b"}};
    auto clusters = make_clusters(s, metrics, nullptr);
    const auto now = lb::Clock::now();
    router::Forward forward{{{0, 1}}};
    router::Splits splits;
    {
      auto healthy = target_for(forward, splits, clusters, now, input());
      EXPECT_EQ(healthy.cluster, &clusters[0]) << c.name;
      EXPECT_TRUE(healthy.failover.empty()) << c.name;
    }
    eject_all(clusters[0], now);
    if (!c.first_backup_healthy) eject_all(clusters[1], now);
    if (!c.second_backup_healthy) eject_all(clusters[2], now);
    const auto later = now + lb::Balancer::kRecount;
    auto target = target_for(forward, splits, clusters, later, input());
    EXPECT_EQ(target.cluster, &clusters[c.cluster]) << c.name;
    EXPECT_EQ(target.failure, c.failure) << c.name;
    EXPECT_EQ(target.failover, c.failover) << c.name;
    EXPECT_EQ(static_cast<bool>(target.admitted), c.failure == http::Failure::kNone) << c.name;
    if (!c.failover.empty()) {
      EXPECT_EQ(clusters[0].stats.failover(std::string(c.failover)).Value(), 1) << c.name;
    }
    const bool panicked = c.cluster == 0 && c.failure == http::Failure::kNone;
    EXPECT_EQ(clusters[0].stats.panics->Value(), panicked ? 1 : 0) << c.name;
  }
}

// A cluster with no endpoint at all has none healthy: its backup serves.
TEST(Clusters, AClusterWithoutEndpointsFailsOver) {
  metrics::Metrics metrics;
  config::Snapshot s;
  s.clusters = {cluster("app", {}), cluster("app-backup", {8011})};
  s.clusters[0].failover = {{1, "app-backup"}};
  auto clusters = make_clusters(s, metrics, nullptr);
  router::Forward forward{{{0, 1}}};
  router::Splits splits;
  auto target = target_for(forward, splits, clusters, lb::Clock::now(), input());
  EXPECT_EQ(target.cluster, &clusters[1]);
  EXPECT_EQ(target.failover, "app-backup");
  s.clusters[0].failover.clear();
  auto alone = make_clusters(s, metrics, nullptr);
  EXPECT_EQ(target_for(forward, splits, alone, lb::Clock::now(), input()).failure,
            http::Failure::kNoHealthyUpstream);
}

// Success-rate ejection judges every worker's answers once per interval:
// the endpoint failing far more than its peers is ejected and counted.
TEST(Clusters, SuccessRateSweepEjectsTheOutlier) {
  metrics::Metrics metrics;
  auto c = cluster("app", {8001, 8002, 8003, 8004, 8005});
  c.outlier.success_rate = {
      .enabled = true, .minimum_hosts = 5, .request_volume = 20, .stdev_factor = 1.0};
  c.outlier.max_ejection_percent = 50;
  const auto s = snapshot_of(c);
  auto worker_a = make_clusters(s, metrics, nullptr);
  auto worker_b = make_clusters(s, metrics, nullptr);
  const auto now = lb::Clock::now();
  lb::Lease none;
  worker_a[0].answered(0, none, 200, http::Failure::kNone, now);  // starts the first interval
  for (std::size_t endpoint = 0; endpoint < 5; ++endpoint) {
    for (int i = 0; i < 20; ++i) {
      auto& worker = i % 2 == 0 ? worker_a : worker_b;
      const unsigned status = endpoint == 3 && i % 4 != 0 ? 500 : 200;  // 25% success
      worker[0].answered(endpoint, none, status, http::Failure::kNone, now + seconds(1));
    }
  }
  EXPECT_FALSE(worker_a[0].health[3]->ejected(now + seconds(2))) << "before the interval ends";
  worker_b[0].answered(0, none, 200, http::Failure::kNone, now + seconds(10));
  EXPECT_TRUE(worker_a[0].health[3]->ejected(now + seconds(10)));
  for (std::size_t endpoint : {0, 1, 2, 4}) {
    EXPECT_FALSE(worker_a[0].health[endpoint]->ejected(now + seconds(10))) << endpoint;
  }
  EXPECT_EQ(
      worker_a[0].stats.ejections[static_cast<std::size_t>(outlier::Reason::kSuccessRate)]->Value(),
      1);
}

// A RingHash or Maglev cluster's target carries the request's hash by the
// cluster's key, and a cookie key the request lacks is made and set.
TEST(Clusters, TargetHashesByTheClustersKey) {
  metrics::Metrics metrics;
  auto c = cluster("app", {8001, 8002, 8003});
  c.load_balancer.algorithm = lb::Algorithm::kMaglev;
  c.hash_key = {layers::hash_key::Key::Source::kHeader, "x-user"};
  auto s = snapshot_of(c);
  auto clusters = make_clusters(s, metrics, nullptr);
  router::Forward forward{{{0, 1}}};
  router::Splits splits;
  http::RequestHead head;
  head.fields.add("x-user", "ann");
  const http::RequestView view(head);
  FastRandom random(5);
  const auto target =
      target_for(forward, splits, clusters, lb::Clock::now(), {view, "10.0.0.1", random});
  EXPECT_EQ(target.hash, lb::stable_hash("ann"));
  EXPECT_TRUE(target.set_cookie.empty());

  s.clusters[0].hash_key = {layers::hash_key::Key::Source::kCookie, "sticky"};
  auto cookied = make_clusters(s, metrics, nullptr);
  const auto made =
      target_for(forward, splits, cookied, lb::Clock::now(), {view, "10.0.0.1", random});
  EXPECT_TRUE(made.hash.has_value());
  EXPECT_TRUE(made.set_cookie.starts_with("sticky=")) << made.set_cookie;

  const auto one = snapshot_of(cluster("app", {8001}));
  auto plain = make_clusters(one, metrics, nullptr);
  EXPECT_FALSE(target_for(forward, splits, plain, lb::Clock::now(), {view, "10.0.0.1", random})
                   .hash.has_value())
      << "PeakEWMA hashes nothing";
}

// What keeps a cluster's connections from serving the next snapshot.
TEST(Clusters, ConnectionsCarryOverOnlyToTheSameSettings) {
  struct Case {
    const char* name;
    std::function<void(config::Cluster&)> change;
    bool carried;
  } cases[] = {
      {"unchanged", [](config::Cluster&) {}, true},
      {"connect_timeout", [](config::Cluster& c) { c.connect_timeout *= 2; }, true},
      {"renamed", [](config::Cluster& c) { c.name = "other"; }, false},
      {"tls",
       [](config::Cluster& c) {
         c.tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
       },
       false},
      {"idle_timeout", [](config::Cluster& c) { c.idle_timeout *= 2; }, false},
      {"max_idle", [](config::Cluster& c) { c.max_idle_per_endpoint = 1; }, false},
      {"source_address",
       [](config::Cluster& c) { c.source_address = asio::ip::make_address("127.0.0.2"); }, false},
  };
  for (const auto& c : cases) {
    asio::io_context io;
    metrics::Metrics metrics;
    const auto before = snapshot_of(cluster("app", {8001}));
    auto old = make_clusters(before, metrics, nullptr);
    old[0].pool->put(0, open_connection(io), pool::Clock::now());
    auto changed = cluster("app", {8001});
    c.change(changed);
    const auto after = snapshot_of(changed);
    auto fresh = make_clusters(after, metrics, &old);
    EXPECT_EQ(fresh[0].pool->idle(0), c.carried ? 1u : 0u) << c.name;
  }
}

// The one choice of the HTTP version a request goes upstream in.
TEST(Clusters, UpstreamVersionFollowsTheClusterOrTheClient) {
  using P = config::UpstreamProtocol;
  using V = HttpVersion;
  struct Case {
    P protocol;
    V downstream;
    bool upgrade;
    V expected;
  } cases[] = {
      {P::kHttp1, V::kHttp1, false, V::kHttp1},
      {P::kHttp1, V::kHttp2, false, V::kHttp1},
      {P::kHttp2, V::kHttp1, false, V::kHttp2},
      {P::kHttp2, V::kHttp2, false, V::kHttp2},
      {P::kSameAsDownstream, V::kHttp1, false, V::kHttp1},
      {P::kSameAsDownstream, V::kHttp2, false, V::kHttp2},
      {P::kHttp2, V::kHttp1, true, V::kHttp1},  // Upgrade exists only on HTTP/1.1
      {P::kSameAsDownstream, V::kHttp1, true, V::kHttp1},
  };
  for (const auto& c : cases) {
    config::Cluster cluster;
    cluster.protocol = c.protocol;
    EXPECT_EQ(upstream_version(cluster, c.downstream, c.upgrade), c.expected)
        << static_cast<int>(c.protocol) << " from " << static_cast<int>(c.downstream)
        << (c.upgrade ? " upgrade" : "");
  }
}

}  // namespace
}  // namespace weft::proxy::upstream

namespace weft::proxy::upstream {
namespace {

// A tiered cluster (as translation leaves it: endpoints' tiers set, the
// spillover threshold on) picks in the proxy's zone and counts the tier;
// the live view says where each endpoint is, and lists a not-ready one.
TEST(Clusters, TieredClusterPicksInTheZoneAndReportsLocality) {
  auto c = cluster("app", {8001, 8002, 8003});
  c.endpoints[0].locality = {"eu", "eu-1a"};
  c.endpoints[0].tier = lb::Tier::kZone;
  c.endpoints[1].locality = {"eu", "eu-1b"};
  c.endpoints[1].tier = lb::Tier::kRegion;
  c.endpoints[2].tier = lb::Tier::kOther;
  c.locality_spillover = 70;
  c.not_ready.push_back({at(8004), "127.0.0.1:8004", 1, {"eu", "eu-1a"}, lb::Tier::kZone});
  const auto s = snapshot_of(c);
  metrics::Metrics metrics;
  auto clusters = make_clusters(s, metrics, nullptr);
  const auto now = lb::Clock::now();
  for (int i = 0; i < 50; ++i) EXPECT_EQ(clusters[0].pick(now), 0u);
  EXPECT_EQ(clusters[0].stats.locality[0]->Value(), 50);
  EXPECT_EQ(clusters[0].stats.locality[1]->Value(), 0);

  const auto reports = report(clusters, now);
  ASSERT_EQ(reports[0].endpoints.size(), 4u);
  EXPECT_EQ(reports[0].endpoints[0].zone, "eu-1a");
  EXPECT_EQ(reports[0].endpoints[0].tier, "zone");
  EXPECT_EQ(reports[0].endpoints[1].tier, "region");
  EXPECT_EQ(reports[0].endpoints[2].tier, "other");
  EXPECT_EQ(reports[0].endpoints[2].zone, "");
  EXPECT_EQ(reports[0].endpoints[3].address, "127.0.0.1:8004");
  EXPECT_EQ(reports[0].endpoints[3].health, EndpointHealthState::kNotReady);
}

}  // namespace
}  // namespace weft::proxy::upstream
