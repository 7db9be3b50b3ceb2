#include "proxy/upstream/health/checker.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <set>

#include "proxy/http/body_pipe.h"
#include "proxy/upstream/http2/connection.h"

namespace weft::proxy::upstream::health {

namespace asio = boost::asio;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kStatusLineLimit = 1'024;
// A gRPC health answer is a few bytes; the request and answer pipes' bound.
constexpr std::size_t kGrpcAnswerLimit = 4'096;
constexpr std::string_view kUserAgent = "weft-health-check";

using Clock = std::chrono::steady_clock;
using tcp = asio::ip::tcp;

// GET the check's path over `socket`; passes on an expected status.
asio::awaitable<bool> http_probe(const Check& check, tcp::socket& socket,
                                 const std::string& authority) {
  const auto request =
      fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}\r\nConnection: close\r\n\r\n",
                  check.path, authority, kUserAgent);
  auto [write_error, written] = co_await asio::async_write(socket, asio::buffer(request), kNoThrow);
  if (write_error) co_return false;
  std::string answer;
  auto [read_error, line] = co_await asio::async_read_until(
      socket, asio::dynamic_buffer(answer, kStatusLineLimit), "\r\n", kNoThrow);
  if (read_error) co_return false;
  const auto status = status_of(std::string_view(answer).substr(0, line));
  co_return status&& std::find(check.expected_statuses.begin(), check.expected_statuses.end(),
                               *status) != check.expected_statuses.end();
}

// The answer's DATA until its end (then its trailers are in), at most
// kGrpcAnswerLimit bytes by `deadline`; none when it does not end so.
asio::awaitable<std::optional<std::string>> read_answer(http::BodyPipe& pipe,
                                                        Clock::time_point deadline) {
  std::string body;
  for (;;) {
    std::array<char, 512> chunk;
    while (const auto n = pipe.read(chunk.data(), chunk.size())) body.append(chunk.data(), n);
    if (body.size() > kGrpcAnswerLimit || pipe.state() == http::BodyPipe::State::kFailed) {
      co_return std::nullopt;
    }
    if (pipe.at_end()) co_return body;
    if (!co_await pipe.wait_readable_until(deadline)) co_return std::nullopt;
  }
}

// One grpc.health.v1.Health/Check call for the check's service, on an
// HTTP/2 connection of its own over `socket` (cleartext, prior
// knowledge), answered by `deadline`.
asio::awaitable<bool> grpc_probe(const Check& check, std::unique_ptr<tcp::socket> socket,
                                 std::string authority, Clock::time_point deadline) {
  auto executor = co_await asio::this_coro::executor;
  auto connection = std::make_shared<http2::Connection>(executor, check.timeout);
  connection->start(pool::Connection(std::move(socket)));
  http::RequestHead head{.method = "POST",
                         .scheme = "http",
                         .authority = std::move(authority),
                         .path = std::string(kGrpcCheckPath)};
  head.fields.add("content-type", "application/grpc");
  head.fields.add("te", "trailers");
  head.fields.add("user-agent", std::string(kUserAgent));
  auto request = std::make_shared<http::BodyPipe>(executor, kGrpcAnswerLimit);
  request->push(grpc_check_request(check.grpc_service));
  request->finish();
  auto answer = std::make_shared<http::BodyPipe>(executor, kGrpcAnswerLimit);
  const auto response = co_await connection->exchange(head, request, answer, deadline);
  bool passed = false;
  if (response.outcome == http2::Response::Outcome::kHead && response.head.status == 200) {
    if (response.end_stream) {  // trailers-only: an error status in the head
      passed = grpc_check_passed(response.head.fields.get("grpc-status"), "");
    } else if (auto body = co_await read_answer(*answer, deadline)) {
      passed = grpc_check_passed(answer->trailers().get("grpc-status"), *body);
    }
  }
  connection->close();
  co_return passed;
}

}  // namespace

asio::awaitable<bool> probe(const Check& check, const config::TcpEndpoint& endpoint) {
  using namespace asio::experimental::awaitable_operators;  // NOLINT(google-build-using-namespace)
  auto executor = co_await asio::this_coro::executor;
  // The whole probe within the timeout: the timer's end cancels whichever
  // socket operation is waiting.
  const auto deadline = Clock::now() + check.timeout;
  asio::steady_timer timer(executor, deadline);
  auto socket = std::make_unique<tcp::socket>(executor);
  auto connected =
      co_await (socket->async_connect(endpoint, kNoThrow) || timer.async_wait(kNoThrow));
  if (connected.index() != 0 || std::get<0>(std::get<0>(connected))) co_return false;
  const auto authority = config::address_text(endpoint);
  switch (check.kind) {
    case Check::Kind::kTcp:
      co_return true;
    case Check::Kind::kHttp: {
      timer.expires_at(deadline);
      auto answered =
          co_await (http_probe(check, *socket, authority) || timer.async_wait(kNoThrow));
      co_return answered.index() == 0 && std::get<0>(answered);
    }
    case Check::Kind::kGrpc:
      // Its own deadlines: the HTTP/2 connection outlives a cancelled wait.
      co_return co_await grpc_probe(check, std::move(socket), authority, deadline);
  }
  co_return false;
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
  probe->health = metrics_.endpoint_health(cluster.name, config::address_text(endpoint));
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
                   config::address_text(probe->endpoint),
                   probe->streak.failing ? "failing" : "passing");
    }
    const double jitter = static_cast<double>(random_() >> 11) * 0x1.0p-53;
    probe->timer.expires_after(next_probe(probe->check, jitter));
    co_await probe->timer.async_wait(kNoThrow);
  }
}

}  // namespace weft::proxy::upstream::health
