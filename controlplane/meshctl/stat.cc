#include "controlplane/meshctl/stat.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace weft::meshctl::stats {
namespace {

constexpr std::string_view kRequests = "_requests_total";
constexpr std::string_view kBuckets = "_request_duration_milliseconds_bucket";

// mesh_SUFFIX or istio_SUFFIX (MeshConfig metrics.istioCompatibleNames).
bool is_metric(std::string_view name, std::string_view suffix) {
  if (!name.ends_with(suffix)) return false;
  name.remove_suffix(suffix.size());
  return name == "mesh" || name == "istio";
}

std::string_view label(const Sample& s, std::string_view key) {
  auto it = s.labels.find(key);
  return it == s.labels.end() ? std::string_view() : std::string_view(it->second);
}

// A label value in quotes, escapes undone; advances `at` past it.
std::optional<std::string> quoted(std::string_view line, std::size_t& at) {
  if (at >= line.size() || line[at] != '"') return std::nullopt;
  std::string out;
  for (++at; at < line.size(); ++at) {
    const char c = line[at];
    if (c == '"') {
      ++at;
      return out;
    }
    if (c == '\\' && at + 1 < line.size()) {
      const char next = line[++at];
      out += next == 'n' ? '\n' : next;
    } else {
      out += c;
    }
  }
  return std::nullopt;
}

std::optional<Sample> parse_line(std::string_view line) {
  Sample s;
  std::size_t at = line.find_first_of("{ ");
  if (at == std::string_view::npos || at == 0) return std::nullopt;
  s.name = line.substr(0, at);
  if (line[at] == '{') {
    ++at;
    while (at < line.size() && line[at] != '}') {
      const auto equals = line.find('=', at);
      if (equals == std::string_view::npos) return std::nullopt;
      std::string key(line.substr(at, equals - at));
      at = equals + 1;
      auto value = quoted(line, at);
      if (!value) return std::nullopt;
      s.labels.emplace(std::move(key), std::move(*value));
      if (at < line.size() && line[at] == ',') ++at;
    }
    if (at >= line.size()) return std::nullopt;
    ++at;  // '}'
  }
  while (at < line.size() && line[at] == ' ') ++at;
  auto value = line.substr(at, line.find(' ', at) - at);
  if (value == "+Inf") {
    s.value = std::numeric_limits<double>::infinity();
  } else if (value == "NaN") {
    s.value = std::numeric_limits<double>::quiet_NaN();
  } else {
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), s.value);
    if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
  }
  return s;
}

double bound_of(std::string_view le) {
  if (le == "+Inf") return std::numeric_limits<double>::infinity();
  double value = 0;
  std::from_chars(le.data(), le.data() + le.size(), value);
  return value;
}

// Where a sample belongs: its row's namespace and name, or none when it is
// another reporter's, another kind's, or filtered out.
std::optional<std::pair<std::string, std::string>> row_of(Kind kind, const Sample& s,
                                                          const Filter& filter) {
  const auto reporter = label(s, "reporter");
  // Queried through Prometheus, the reporter is already chosen and dropped.
  if (!reporter.empty() && reporter != (kind == Kind::kWorkload ? "destination" : "source")) {
    return std::nullopt;
  }
  std::pair<std::string, std::string> key;
  if (kind == Kind::kWorkload) {
    key = {std::string(label(s, "destination_namespace")),
           std::string(label(s, "destination_workload"))};
  } else {
    // reviews.default.svc.cluster.local: the Service reviews in default.
    const auto service = label(s, "destination_service");
    const auto dot = service.find('.');
    const auto rest = dot == std::string_view::npos ? std::string_view() : service.substr(dot + 1);
    key = {std::string(rest.substr(0, rest.find('.'))), std::string(service.substr(0, dot))};
  }
  if (!filter.ns.empty() && key.first != filter.ns) return std::nullopt;
  if (!filter.name.empty() && key.second != filter.name) return std::nullopt;
  return key;
}

// What a counter counted in the window: the difference, or all of `after`
// when the proxy restarted (its counter went down).
double counted(double before, double after) { return after >= before ? after - before : after; }

std::string identity(const Sample& s) {
  std::string out = s.name;
  for (const auto& [k, v] : s.labels) out += fmt::format("|{}={}", k, v);
  return out;
}

}  // namespace

std::vector<Sample> parse_exposition(std::string_view text) {
  std::vector<Sample> out;
  while (!text.empty()) {
    auto line = text.substr(0, text.find('\n'));
    text.remove_prefix(std::min(text.size(), line.size() + 1));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (auto sample = parse_line(line)) out.push_back(std::move(*sample));
  }
  return out;
}

std::optional<double> quantile(double q, const std::vector<std::pair<double, double>>& buckets) {
  if (buckets.empty()) return std::nullopt;
  const double total = buckets.back().second;
  if (!(total > 0)) return std::nullopt;
  const double rank = q * total;
  double lower = 0;
  double below = 0;
  for (const auto& [bound, cumulative] : buckets) {
    if (cumulative >= rank) {
      // In the +Inf bucket: the highest finite bound, as Prometheus says.
      if (std::isinf(bound)) return lower;
      const double in_bucket = cumulative - below;
      if (in_bucket <= 0) return bound;
      return lower + (bound - lower) * (rank - below) / in_bucket;
    }
    lower = bound;
    below = cumulative;
  }
  return lower;
}

std::vector<Row> rows(Kind kind, const std::vector<Sample>& before,
                      const std::vector<Sample>& after, const Filter& filter) {
  std::map<std::string, double> earlier;
  for (const auto& s : before) earlier[identity(s)] = s.value;
  struct Counts {
    double requests = 0;
    double failed = 0;
    std::map<double, double> buckets;  // upper bound -> cumulative count
  };
  std::map<std::pair<std::string, std::string>, Counts> by_row;
  for (const auto& s : after) {
    const bool requests = is_metric(s.name, kRequests);
    const bool buckets = is_metric(s.name, kBuckets);
    if (!requests && !buckets) continue;
    auto key = row_of(kind, s, filter);
    if (!key) continue;
    auto it = earlier.find(identity(s));
    const double value = counted(it == earlier.end() ? 0 : it->second, s.value);
    auto& counts = by_row[*key];
    if (requests) {
      counts.requests += value;
      const auto code = label(s, "response_code");
      if (code == "0" || code.starts_with('5')) counts.failed += value;
    } else {
      counts.buckets[bound_of(label(s, "le"))] += value;
    }
  }
  std::vector<Row> out;
  for (const auto& [key, counts] : by_row) {
    Row row{key.first, key.second, counts.requests, counts.failed, {}, {}, {}};
    const std::vector<std::pair<double, double>> buckets(counts.buckets.begin(),
                                                         counts.buckets.end());
    if (counts.requests > 0) {
      row.p50 = quantile(0.5, buckets);
      row.p95 = quantile(0.95, buckets);
      row.p99 = quantile(0.99, buckets);
    }
    out.push_back(std::move(row));
  }
  return out;
}

std::vector<std::string> prometheus_queries(Kind kind, std::string_view window) {
  const std::string_view reporter = kind == Kind::kWorkload ? "destination" : "source";
  const std::string_view by = kind == Kind::kWorkload
                                  ? "destination_namespace, destination_workload"
                                  : "destination_service";
  return {
      fmt::format("sum by ({}, response_code) (increase({{__name__=~\"(mesh|istio){}\", "
                  "reporter=\"{}\"}}[{}]))",
                  by, kRequests, reporter, window),
      fmt::format("sum by ({}, le) (increase({{__name__=~\"(mesh|istio){}\", "
                  "reporter=\"{}\"}}[{}]))",
                  by, kBuckets, reporter, window),
  };
}

}  // namespace weft::meshctl::stats
