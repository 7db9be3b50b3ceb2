// meshctl stat's arithmetic: the golden signals of each workload or
// Service (success rate, requests per second, latency percentiles) from the
// sidecars' request metrics, as two scrapes of their Prometheus text some
// seconds apart or as Prometheus' increase() over a window. Pure:
// table-tested.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weft::meshctl::stats {

// One line of a Prometheus text exposition.
struct Sample {
  std::string name;
  std::map<std::string, std::string, std::less<>> labels;
  double value = 0;
};

// The samples of `text`; comments and lines that do not parse are skipped.
std::vector<Sample> parse_exposition(std::string_view text);

// deploy: what each workload served, as its own sidecar counted it
// (reporter "destination"); svc: what each Service was asked, as the
// callers' sidecars counted it (reporter "source": failures to reach it
// included).
enum class Kind { kWorkload, kService };

struct Row {
  std::string ns;
  std::string name;
  double requests = 0;  // in the window
  double failed = 0;    // 5xx, or no answer at all (response_code 0)
  // Milliseconds, from the duration histogram; none without requests.
  std::optional<double> p50, p95, p99;
};

struct Filter {
  std::string ns;    // empty: every namespace
  std::string name;  // empty: every workload or Service
};

// The rows of what was counted between `before` and `after` (before empty:
// everything `after` counted), sorted by namespace and name. mesh_* and
// istio_* names alike.
std::vector<Row> rows(Kind kind, const std::vector<Sample>& before,
                      const std::vector<Sample>& after, const Filter& filter);

// The q-quantile (0-1) of a histogram given as (upper bound, cumulative
// count) pairs sorted by bound, +Inf last, interpolated within its bucket
// as Prometheus' histogram_quantile does; none when it counted nothing.
std::optional<double> quantile(double q, const std::vector<std::pair<double, double>>& buckets);

// Prometheus queries (instant, over `window` such as "1m") whose results,
// as samples, rows() reads as `after` with no `before`.
std::vector<std::string> prometheus_queries(Kind kind, std::string_view window);

}  // namespace weft::meshctl::stats
