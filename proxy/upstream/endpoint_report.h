// What the proxy knows of each endpoint now, for the admin endpoint
// /endpoints and `meshctl proxy-config PROXY endpoints`: its weight, its
// health (passing, failing its active check, ejected and until when, or
// reported not ready by Kubernetes),
// and the requests in flight on it over every worker, with PeakEWMA's
// latency estimate. Each worker reports its own view (report() in
// clusters.h, on its thread); the server merges them here.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace weft::proxy::upstream {

enum class EndpointHealthState : std::uint8_t { kPassing, kFailingCheck, kEjected, kNotReady };
// "passing", "failing_check", "ejected", "not_ready"
const char* health_label(EndpointHealthState state);

struct EndpointReport {
  std::string address;  // "ip:port"
  std::uint32_t weight = 1;
  EndpointHealthState health = EndpointHealthState::kPassing;
  std::chrono::milliseconds ejected_for{0};  // kEjected: the time left
  std::uint32_t ejections = 0;               // outlier detection's, remembered
  std::uint32_t in_flight = 0;               // requests on it now
  double latency_ms = 0;                     // PeakEWMA's estimate, the highest of the workers'
  std::string region, zone;                  // empty: unknown
  // The locality tier it is in for this proxy ("zone", "region", "other");
  // empty when the cluster is not tiered.
  std::string tier;
};

struct ClusterReport {
  std::string name;
  std::vector<EndpointReport> endpoints;
};

// Adds one worker's report to `total`: in-flight requests summed, the
// highest latency estimate kept. Clusters and endpoints are matched by name
// and address (a worker may still serve the previous configuration); ones
// `total` lacks are added.
void merge(std::vector<ClusterReport>& total, const std::vector<ClusterReport>& worker);

// The JSON of /endpoints: {"proxy": PROXY, "clusters": [{"name", "endpoints":
// [{"address", "weight", "health", "ejected_until", "ejections",
// "in_flight", "latency_ms", "locality": {"region", "zone"}, "tier"}]}],
// "locality": {"region", "zone"}}; `ejected_until` (RFC 3339, from `now`)
// only for an ejected endpoint, `latency_ms` only once PeakEWMA has an
// estimate, a locality only when known, `tier` only in a tiered cluster,
// `proxy` ("namespace/name") only when known. The top-level locality is
// the proxy's.
struct ProxyPlace {
  std::string name;  // "namespace/name"
  std::string region, zone;
};
std::string to_json(const std::vector<ClusterReport>& clusters, const ProxyPlace& proxy,
                    std::chrono::system_clock::time_point now);

}  // namespace weft::proxy::upstream
