// meshctl stat: success rate, requests per second and latency percentiles
// per workload or Service, from the sidecars' own metrics (two scrapes a
// window apart) or from Prometheus (increase() over the window).
#include <fmt/format.h>

#include <boost/json.hpp>
#include <iostream>
#include <thread>

#include "common/duration.h"
#include "controlplane/meshctl/commands.h"
#include "controlplane/meshctl/http_get.h"
#include "controlplane/meshctl/proxy_config_view.h"
#include "controlplane/meshctl/stat.h"

namespace weft::meshctl {
namespace {

namespace json = boost::json;
using stats::Sample;

// Where each connected proxy serves its metrics ("ns/name" -> HOST:PORT).
Result<std::vector<std::pair<std::string, std::string>>> proxy_metrics(const Target& target) {
  auto status = get_json(target.status, "/status");
  if (!status) return tl::unexpected(status.error());
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& p : status->at("proxies").as_array()) {
    const auto name = text_of(p.as_object(), "namespace") + "/" + text_of(p.as_object(), "name");
    auto config = get_json(target.status, "/config?proxy=" + name);
    if (!config) continue;  // gone since /status
    out.emplace_back(name, metrics_address(*config));
  }
  return out;
}

// One scrape of every proxy, each sample labelled with its proxy (two
// replicas of a client report the same series).
std::vector<Sample> scrape(const std::vector<std::pair<std::string, std::string>>& proxies,
                           std::size_t& reached) {
  std::vector<Sample> out;
  reached = 0;
  for (const auto& [name, address] : proxies) {
    auto response = http_get(address, "/stats/prometheus", std::chrono::seconds(2));
    if (!response || response->status != 200) continue;
    ++reached;
    for (auto& sample : stats::parse_exposition(response->body)) {
      sample.labels.emplace("weft_proxy", name);
      out.push_back(std::move(sample));
    }
  }
  return out;
}

std::string url_encoded(std::string_view text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// The samples Prometheus answers the queries with, named as rows() reads
// them.
Result<std::vector<Sample>> from_prometheus(const std::string& url, stats::Kind kind,
                                            std::string_view window) {
  const auto queries = stats::prometheus_queries(kind, window);
  const std::array<std::string_view, 2> names = {"mesh_requests_total",
                                                 "mesh_request_duration_milliseconds_bucket"};
  std::vector<Sample> out;
  for (std::size_t i = 0; i < queries.size(); ++i) {
    auto answer = get_json(url, "/api/v1/query?query=" + url_encoded(queries[i]));
    if (!answer) return tl::unexpected(answer.error());
    const auto* data = answer->as_object().if_contains("data");
    if (data == nullptr || !data->is_object()) {
      return fail(ErrorCode::kInternal, "{}: not a Prometheus query answer", url);
    }
    for (const auto& r : data->at("result").as_array()) {
      Sample sample;
      sample.name = names[i];
      for (const auto& [key, value] : r.at("metric").as_object()) {
        if (value.is_string()) sample.labels.emplace(key, value.get_string());
      }
      const auto& value = r.at("value").as_array();
      sample.value = std::stod(std::string(value.at(1).as_string()));
      out.push_back(std::move(sample));
    }
  }
  return out;
}

std::string milliseconds(const std::optional<double>& value) {
  return value ? fmt::format("{:.1f}ms", *value) : "-";
}

void print(const std::vector<stats::Row>& rows, stats::Kind kind, double seconds, Format format) {
  if (format != Format::kTable) {
    json::array out;
    for (const auto& r : rows) {
      json::object o{
          {"namespace", r.ns}, {"name", r.name}, {"requests", r.requests}, {"failed", r.failed}};
      if (r.requests > 0) o["success_rate"] = (r.requests - r.failed) / r.requests;
      if (seconds > 0) o["rps"] = r.requests / seconds;
      if (r.p50) o["latency_ms_p50"] = *r.p50;
      if (r.p95) o["latency_ms_p95"] = *r.p95;
      if (r.p99) o["latency_ms_p99"] = *r.p99;
      out.push_back(std::move(o));
    }
    std::cout << (format == Format::kYaml ? to_yaml(out) : pretty_json(out));
    return;
  }
  std::vector<std::vector<std::string>> table_rows{
      {"NAMESPACE", kind == stats::Kind::kWorkload ? "WORKLOAD" : "SERVICE", "SUCCESS", "RPS",
       "REQUESTS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99"}};
  for (const auto& r : rows) {
    table_rows.push_back(
        {r.ns, r.name,
         r.requests > 0 ? fmt::format("{:.2f}%", 100 * (r.requests - r.failed) / r.requests) : "-",
         seconds > 0 ? fmt::format("{:.1f}", r.requests / seconds) : "-",
         fmt::format("{:.0f}", r.requests), milliseconds(r.p50), milliseconds(r.p95),
         milliseconds(r.p99)});
  }
  std::cout << table(table_rows);
}

}  // namespace

int stat(const Target& target, const StatArgs& args, Format format) {
  const auto kind = args.kind == "svc" || args.kind == "service" || args.kind == "services"
                        ? stats::Kind::kService
                        : stats::Kind::kWorkload;
  const bool prometheus = !args.prometheus.empty();
  const std::string window = args.window.empty() ? (prometheus ? "1m" : "2s") : args.window;
  const auto parsed = parse_duration(window);
  if (!parsed || (prometheus && *parsed <= std::chrono::nanoseconds::zero())) {
    std::cerr << "meshctl: --window '" << window << "' is not a duration (1s, 30s, 5m)\n";
    return 2;
  }
  const double seconds = std::chrono::duration<double>(*parsed).count();
  const stats::Filter filter{args.ns, args.name};
  if (prometheus) {
    auto samples = from_prometheus(args.prometheus, kind, window);
    if (!samples) {
      std::cerr << "meshctl: Prometheus at " << args.prometheus << ": " << samples.error().message
                << "\n";
      return 1;
    }
    print(stats::rows(kind, {}, *samples, filter), kind, seconds, format);
    return 0;
  }
  auto proxies = proxy_metrics(target);
  if (!proxies) {
    std::cerr << "meshctl: control plane status at " << target.status
              << " is not reachable: " << proxies.error().message << "\n";
    return 1;
  }
  std::size_t reached = 0;
  std::vector<Sample> before;
  if (seconds > 0) {
    before = scrape(*proxies, reached);
    std::this_thread::sleep_for(*parsed);
  }
  const auto after = scrape(*proxies, reached);
  if (reached == 0) {
    std::cerr << fmt::format(
        "meshctl: none of the {} connected proxies' metrics endpoints answered (from outside "
        "the cluster, give --prometheus URL)\n",
        proxies->size());
    return 1;
  }
  if (reached < proxies->size()) {
    std::cerr << fmt::format("meshctl: {} of {} proxies' metrics endpoints answered\n", reached,
                             proxies->size());
  }
  print(stats::rows(kind, before, after, filter), kind, seconds, format);
  return 0;
}

}  // namespace weft::meshctl
