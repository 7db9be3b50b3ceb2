#include "proxy/server/app_metrics.h"

#include "common/endpoint.h"

namespace weft::proxy::server {

Result<AppMetricsTarget> parse_app_metrics_target(std::string_view text) {
  AppMetricsTarget target;
  const auto slash = text.find('/');
  if (slash != std::string_view::npos) target.path = std::string(text.substr(slash));
  auto address = parse_endpoint(std::string(text.substr(0, slash)));
  if (!address) {
    return fail(ErrorCode::kInvalidArgument, "--app-metrics: '{}' is not IP:PORT[/PATH]: {}", text,
                address.error().message);
  }
  target.address = *address;
  return target;
}

std::string merge_expositions(std::string_view proxy, std::string_view app) {
  std::string merged(proxy);
  if (!merged.empty() && merged.back() != '\n') merged += '\n';
  while (!app.empty()) {
    const auto end = app.find('\n');
    const auto line = app.substr(0, end);
    app.remove_prefix(end == std::string_view::npos ? app.size() : end + 1);
    if (line == "# EOF") continue;  // OpenMetrics' terminator: the merged text goes on
    merged.append(line);
    merged += '\n';
  }
  return merged;
}

}  // namespace weft::proxy::server
