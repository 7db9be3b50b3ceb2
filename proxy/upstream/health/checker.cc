#include "proxy/upstream/health/checker.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <set>

namespace weft::proxy::upstream::health {

namespace asio = boost::asio;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kStatusLineLimit = 1'024;

std::string address_text(const config::TcpEndpoint& endpoint) {
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

}  // namespace

asio::awaitable<bool> probe(const Check& check, const config::TcpEndpoint& endpoint) {
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::socket socket(executor);
  // The whole probe within the timeout: closing the socket ends whichever
  // step is waiting.
  asio::steady_timer deadline(executor, check.timeout);
  bool timed_out = false;
  deadline.async_wait([&socket, &timed_out](boost::system::error_code ec) {
    if (ec) return;  // cancelled: the probe ended first
    timed_out = true;
    boost::system::error_code ignored;
    socket.close(ignored);
  });
  auto [connect_error] = co_await socket.async_connect(endpoint, kNoThrow);
  if (connect_error || timed_out) co_return false;
  if (check.kind == Check::Kind::kTcp) co_return true;
  const auto request = fmt::format(
      "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: weft-health-check\r\nConnection: close\r\n\r\n",
      check.path, address_text(endpoint));
  auto [write_error, written] = co_await asio::async_write(socket, asio::buffer(request), kNoThrow);
  if (write_error || timed_out) co_return false;
  std::string answer;
  auto [read_error, line] = co_await asio::async_read_until(
      socket, asio::dynamic_buffer(answer, kStatusLineLimit), "\r\n", kNoThrow);
  deadline.cancel();
  if (read_error || timed_out) co_return false;
  const auto status = status_of(std::string_view(answer).substr(0, line));
  co_return status&& std::find(check.expected_statuses.begin(), check.expected_statuses.end(),
                               *status) != check.expected_statuses.end();
}

Checker::~Checker() {
  for (auto& [key, probe] : probes_) stop(*probe);
}

void Checker::apply(const config::Snapshot& snapshot) {
  std::set<Key> wanted;
  for (const auto& cluster : snapshot.clusters) {
    if (!cluster.health_check) continue;
    for (const auto& endpoint : cluster.endpoints) {
      Key key{cluster.name, endpoint.address};
      wanted.insert(key);
      auto found = probes_.find(key);
      if (found != probes_.end() && found->second->check == *cluster.health_check) continue;
      if (found != probes_.end()) {
        stop(*found->second);
        probes_.erase(found);
      }
      start(cluster, endpoint.address);
    }
  }
  for (auto it = probes_.begin(); it != probes_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    stop(*it->second);
    it = probes_.erase(it);
  }
}

void Checker::start(const config::Cluster& cluster, const config::TcpEndpoint& endpoint) {
  auto probe = std::make_shared<Probe>(io_, *cluster.health_check, endpoint);
  probe->cluster = cluster.name;
  probe->health = metrics_.endpoint_health(cluster.name, address_text(endpoint));
  const auto stats = metrics_.health_checks(cluster.name);
  probe->passed = stats.passed;
  probe->failed = stats.failed;
  probes_.emplace(Key{cluster.name, endpoint}, probe);
  asio::co_spawn(io_, run(probe), asio::detached);
}

void Checker::stop(Probe& probe) {
  probe.stopped = true;
  probe.timer.cancel();
  // No check, no verdict: the endpoint is not held out by a stopped one.
  probe.health->set_check_failing(false);
}

asio::awaitable<void> Checker::run(std::shared_ptr<Probe> probe) {
  while (!probe->stopped) {
    const bool passed = co_await health::probe(probe->check, probe->endpoint);
    if (probe->stopped) co_return;
    (passed ? probe->passed : probe->failed)->Increment();
    if (advance(probe->streak, passed, probe->check)) {
      probe->health->set_check_failing(probe->streak.failing);
      spdlog::info("health check: {} endpoint {} is {}", probe->cluster,
                   address_text(probe->endpoint), probe->streak.failing ? "failing" : "passing");
    }
    const double jitter = static_cast<double>(random_() >> 11) * 0x1.0p-53;
    probe->timer.expires_after(next_probe(probe->check, jitter));
    co_await probe->timer.async_wait(kNoThrow);
  }
}

}  // namespace weft::proxy::upstream::health
