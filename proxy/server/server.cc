#include "proxy/server/server.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <charconv>
#include <fstream>
#include <thread>

#include "common/log.h"

namespace weft::proxy::server {

namespace asio = boost::asio;
using beast_verb = boost::beast::http::verb;

namespace {

const config::TcpEndpoint kDefaultAdmin(asio::ip::make_address("127.0.0.1"), 15000);
const config::TcpEndpoint kDefaultMetrics(asio::ip::make_address("0.0.0.0"), 15090);

std::string config_json(const mesh::v1::ProxyConfig& config) {
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  print.preserve_proto_field_names = true;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(config, &json, print);
  if (!status.ok()) return fmt::format("{{\"error\": \"{}\"}}\n", std::string(status.message()));
  return json + "\n";
}

}  // namespace

std::uint64_t default_max_connections() {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0) return worker::default_max_connections(1024);
  // The soft limit is often 1024 for compatibility with select(), which
  // nothing here uses: take the hard limit, as Go's runtime does.
  if (files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &files) != 0) getrlimit(RLIMIT_NOFILE, &files);
  }
  const std::uint64_t soft = files.rlim_cur == RLIM_INFINITY ? 1U << 20 : files.rlim_cur;
  return worker::default_max_connections(soft);
}

std::size_t default_concurrency() {
  std::ifstream cpu_max("/sys/fs/cgroup/cpu.max");
  std::string quota;
  std::size_t period = 0;
  if (cpu_max >> quota >> period && quota != "max" && period > 0) {
    auto limit = (std::stoull(quota) + period - 1) / period;
    return std::max<std::size_t>(1, limit);
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

Server::Server(Options options)
    : options_(std::move(options)),
      connection_budget_(options_.max_connections > 0 ? options_.max_connections
                                                      : default_max_connections()),
      exporter_(io_, metrics_,
                [this]() -> asio::awaitable<std::vector<tracing::SpanBuffer::Taken>> {
                  std::vector<tracing::SpanBuffer::Taken> taken;
                  for (const auto& worker : workers_)
                    taken.push_back(co_await worker->take_spans());
                  co_return taken;
                }) {
  // Waited on from the start: a proxy still waiting for its first
  // configuration (the control plane unreachable, or refusing it) has
  // nothing to drain and exits at once.
  signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    if (!started()) {
      spdlog::info("signal {} before any configuration: exiting", signal);
      io_.stop();
      return;
    }
    spdlog::info("signal {}: draining", signal);
    drain(true);
  });
}

Result<void> Server::start(std::shared_ptr<const config::Snapshot> snapshot) {
  auto started = bind(*snapshot);
  if (!started) {
    workers_.clear();
    return started;
  }
  snapshot_ = std::move(snapshot);
  for (auto& worker : workers_) worker->start(snapshot_);
  checker_.apply(*snapshot_);
  metrics_.requests().use_istio_names(snapshot_->istio_metric_names);
  exporter_.apply(*snapshot_);
  exporter_.start();
  open_access_log();
  await_hangup();
  await_reopen();
  spdlog::info("mesh-proxy ready: {} workers, config version '{}'", workers_.size(),
               snapshot_->version);
  exit_if_asked();
  return {};
}

Result<void> Server::bind(const config::Snapshot& snapshot) {
  std::vector<config::TcpEndpoint> addresses;
  for (const auto& listener : snapshot.listeners) addresses.push_back(listener.address);
  for (std::size_t i = 0; i < options_.concurrency; ++i) {
    auto worker =
        std::make_unique<worker::Worker>(i, metrics_, access_log_, options_.access_log,
                                         options_.tap ? &tap_ : nullptr, connection_budget_);
    if (options_.identity != nullptr) worker->set_credentials(&options_.identity->credentials());
    // The first worker resolves port 0; the others share its ports.
    auto bound = worker->bind(addresses);
    if (!bound) return tl::unexpected(bound.error());
    addresses = *bound;
    workers_.push_back(std::move(worker));
  }
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    spdlog::info("listener {} on {}:{}", snapshot.listeners[i].name,
                 addresses[i].address().to_string(), addresses[i].port());
  }
  auto admin_address =
      admin::serve_async(io_, snapshot.admin_address.value_or(kDefaultAdmin),
                         [this](admin::Request r) { return admin_async(std::move(r)); });
  if (!admin_address) return tl::unexpected(with_context(admin_address.error(), "admin"));
  auto metrics_address =
      admin::serve_async(io_, snapshot.metrics_address.value_or(kDefaultMetrics),
                         [this](admin::Request r) { return prometheus(std::move(r)); });
  if (!metrics_address) return tl::unexpected(with_context(metrics_address.error(), "metrics"));
  if (snapshot.health_address) {
    auto health = admin::serve(io_, *snapshot.health_address,
                               [this](const admin::Request& r) -> admin::Response {
                                 if (r.path != "/ready") return {404, "text/plain", "not found\n"};
                                 return admin(r);
                               });
    if (!health) return tl::unexpected(with_context(health.error(), "health"));
    spdlog::info("readiness on {}:{}", health->address().to_string(), health->port());
  }
  spdlog::info("admin on {}:{}, metrics on {}:{}", admin_address->address().to_string(),
               admin_address->port(), metrics_address->address().to_string(),
               metrics_address->port());
  return {};
}

asio::awaitable<admin::Response> Server::prometheus(admin::Request request) {
  if (request.path != "/stats/prometheus")
    co_return admin::Response{404, "text/plain", "not found\n"};
  constexpr auto kContentType = "text/plain; version=0.0.4";
  if (!options_.app_metrics)
    co_return admin::Response{200, kContentType, metrics_.prometheus_text()};
  // Within Prometheus' default scrape timeout (10 s), so that a slow
  // application still leaves the proxy's own metrics scraped.
  auto app = co_await scrape_app(*options_.app_metrics, std::chrono::seconds(5));
  metrics_.app_metrics_scrape(app.has_value()).Increment();
  if (!app) {
    spdlog::warn("application metrics at {}:{}{} not merged: {}",
                 options_.app_metrics->address.address().to_string(),
                 options_.app_metrics->address.port(), options_.app_metrics->path,
                 app.error().message);
    co_return admin::Response{200, kContentType, metrics_.prometheus_text()};
  }
  co_return admin::Response{200, kContentType, merge_expositions(metrics_.prometheus_text(), *app)};
}

void Server::await_hangup() {
  hangups_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    reload();
    await_hangup();
  });
}

void Server::await_reopen() {
  reopens_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    access_log_.reopen();
    await_reopen();
  });
}

void Server::reload() {
  if (!options_.load) return;
  auto next = options_.load();
  auto applied = next ? apply(*next) : Result<void>(tl::unexpected(next.error()));
  if (!applied) {
    metrics_.config_reload(false).Increment();
    spdlog::error("configuration reload rejected, still serving version '{}': {}",
                  snapshot_->version, applied.error().message);
  }
}

Result<void> Server::apply(std::shared_ptr<const config::Snapshot> next) {
  if (auto replaceable = config::check_replaceable(*snapshot_, *next); !replaceable) {
    return replaceable;
  }
  snapshot_ = std::move(next);
  for (auto& worker : workers_) worker->apply(snapshot_);
  checker_.apply(*snapshot_);
  metrics_.requests().use_istio_names(snapshot_->istio_metric_names);
  exporter_.apply(*snapshot_);
  open_access_log();
  metrics_.config_reload(true).Increment();
  spdlog::info("configuration applied: version '{}'", snapshot_->version);
  exit_if_asked();
  return {};
}

int Server::run() {
  io_.run();
  for (auto& worker : workers_) worker->stop();
  access_log_.stop();  // after the workers' last lines
  return 0;
}

void Server::stop() {
  exporter_.stop();
  for (auto& worker : workers_) worker->stop();
  access_log_.stop();
  io_.stop();
}

void Server::open_access_log() {
  const auto& settings = snapshot_->access_log ? snapshot_->access_log : options_.access_log;
  if (settings) access_log_.open(settings->path);
}

void Server::exit_if_asked() {
  if (!snapshot_->exit || exiting_) return;
  exiting_ = true;
  spdlog::info("the Pod's application containers have exited: draining, then exiting");
  drain(true);
}

void Server::drain(bool exit_when_done) {
  if (!draining_) {
    draining_ = true;
    metrics_.drain_started().Increment();
    for (auto& worker : workers_) worker->drain();
  }
  if (!exit_when_done) return;
  // Waits for in-flight requests to finish, up to the drain timeout.
  asio::co_spawn(
      io_,
      [this]() -> asio::awaitable<void> {
        auto deadline = std::chrono::steady_clock::now() + snapshot_->drain_timeout;
        asio::steady_timer tick(io_);
        for (;;) {
          std::size_t open = 0;
          for (const auto& worker : workers_) open += worker->open_connections();
          if (open == 0) break;
          if (std::chrono::steady_clock::now() >= deadline) {
            spdlog::warn("drain timeout: closing {} connections", open);
            break;
          }
          tick.expires_after(std::chrono::milliseconds(20));
          co_await tick.async_wait(asio::use_awaitable);
        }
        // The last second's spans, before the workers stop.
        co_await exporter_.export_now();
        spdlog::info("drained; exiting");
        stop();
      },
      asio::detached);
}

asio::awaitable<admin::Response> Server::admin_async(admin::Request request) {
  if (request.path == "/endpoints") {
    co_return co_await endpoints();
  }
  if (request.path == "/tap") {
    co_return co_await tap(request);
  }
  co_return admin(request);
}

asio::awaitable<admin::Response> Server::tap(const admin::Request& request) {
  if (!options_.tap) {
    co_return admin::Response{404, "text/plain", "tap is off: start mesh-proxy with --tap\n"};
  }
  const auto number = [&](std::string_view key) -> std::optional<std::uint64_t> {
    const auto value = admin::query_value(request.query, key);
    std::uint64_t out = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
      return std::nullopt;
    }
    return out;
  };
  constexpr std::uint64_t kMaxLines = 1000;
  constexpr std::uint64_t kMaxWaitMs = 5000;
  const auto max = std::min(number("max").value_or(100), kMaxLines);
  const auto wait =
      std::chrono::milliseconds(std::min(number("wait_ms").value_or(1000), kMaxWaitMs));
  const auto deadline = std::chrono::steady_clock::now() + wait;
  asio::steady_timer tick(io_);
  auto taken = tap_.take(number("since"), max, std::chrono::steady_clock::now());
  while (taken.lines.empty() && std::chrono::steady_clock::now() < deadline) {
    tick.expires_after(std::chrono::milliseconds(50));
    co_await tick.async_wait(asio::use_awaitable);
    const auto missed = taken.missed;
    taken = tap_.take(taken.next, max, std::chrono::steady_clock::now());
    taken.missed += missed;
  }
  if (taken.missed > 0)
    metrics_.tap_requests("missed").Increment(static_cast<double>(taken.missed));
  std::string body =
      fmt::format(R"({{"next":{},"missed":{},"requests":[)", taken.next, taken.missed);
  for (std::size_t i = 0; i < taken.lines.size(); ++i) {
    if (i > 0) body += ',';
    body += taken.lines[i];
  }
  body += "]}\n";
  co_return admin::Response{200, "application/json", std::move(body)};
}

asio::awaitable<admin::Response> Server::endpoints() {
  std::vector<upstream::ClusterReport> total;
  for (const auto& worker : workers_) upstream::merge(total, co_await worker->endpoints());
  upstream::ProxyPlace place{.name = options_.proxy_name, .region = {}, .zone = {}};
  if (snapshot_) {
    place.region = snapshot_->locality.region;
    place.zone = snapshot_->locality.zone;
  }
  co_return admin::Response{200, "application/json",
                            upstream::to_json(total, place, std::chrono::system_clock::now())};
}

admin::Response Server::admin(const admin::Request& request) {
  if (request.path == "/ready") {
    if (draining_) return {503, "text/plain", "DRAINING\n"};
    if (options_.identity != nullptr && !options_.identity->ready()) {
      return {503, "text/plain", "WAITING FOR WORKLOAD CERTIFICATE\n"};
    }
    return {200, "text/plain", "LIVE\n"};
  }
  if (request.path == "/identity") {
    if (options_.identity == nullptr) {
      return {404, "text/plain", "no workload identity (mesh-proxy --ca-address)\n"};
    }
    return {200, "application/json", options_.identity->status_json()};
  }
  if (request.path == "/config_dump") {
    return {200, "application/json", config_json(snapshot_->source)};
  }
  if (request.path == "/stats") return {200, "text/plain", metrics_.stats_text()};
  if (request.path == "/quitquitquit") {
    if (request.method != beast_verb::post) return {405, "text/plain", "use POST\n"};
    asio::post(io_, [this] { stop(); });
    return {200, "text/plain", "OK\n"};
  }
  if (request.path == "/drain") {
    if (request.method != beast_verb::post) return {405, "text/plain", "use POST\n"};
    drain(false);
    return {200, "text/plain", "draining\n"};
  }
  if (request.path == "/logging") {
    auto level_name = admin::query_value(request.query, "level");
    if (!level_name.empty()) {
      if (request.method != beast_verb::post) return {405, "text/plain", "use POST\n"};
      auto level = log::parse_level(level_name);
      if (!level) return {400, "text/plain", level.error().message + "\n"};
      spdlog::set_level(*level);
    }
    auto current = spdlog::level::to_string_view(spdlog::get_level());
    return {200, "text/plain", "level: " + std::string(current.data(), current.size()) + "\n"};
  }
  if (request.path == "/") {
    return {200, "text/plain",
            "/ready\n/config_dump\n/endpoints\n/identity\n/stats\n/logging?level=LEVEL (POST)\n"
            "/drain (POST)\n"
            "/quitquitquit (POST)\n"};
  }
  return {404, "text/plain", "not found\n"};
}

}  // namespace weft::proxy::server
