// `meshctl proxy-config`'s pure half: which proxy an argument names, and
// the tables shown for a proxy's configuration (the JSON of a
// mesh.v1.ProxyConfig, as the control plane's /config serves it), and the
// live endpoints table from the proxy's own admin /endpoints.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace weft::meshctl {

struct ProxyRef {
  std::string ns, name;
};

// NAMESPACE/NAME, NAME.NAMESPACE (as istioctl writes it) or NAME, whose
// namespace is `namespace_flag` (-n) or else "default". An error when -n
// and the argument name different namespaces.
tl::expected<ProxyRef, std::string> parse_proxy_ref(std::string_view arg,
                                                    const std::string& namespace_flag);

using Rows = std::vector<std::vector<std::string>>;

// One table per section, headers first. Values the configuration leaves
// unset are shown as the proxy's defaults, marked "(default)".
Rows listener_rows(const boost::json::value& config);
Rows route_rows(const boost::json::value& config);    // with each route's timeout
Rows cluster_rows(const boost::json::value& config);  // protocol, connect timeout, pool
Rows endpoint_rows(const boost::json::value& config);

// One route's settings (the JSON of a mesh.v1.Route): its match ("prefix /
// GET x-canary:1"), its action ("forward a=90, b=10"), one of its timeouts
// with where it came from ("2s (policy default/reviews)"; `absent` when
// unset) and its retries ("3 tries on 5xx (route)").
std::string match_text(const boost::json::value& match);
std::string action_text(const boost::json::value& route);
std::string timeout_text(const boost::json::value& route, std::string_view field,
                         std::string_view origin_field, std::string_view absent);
std::string retry_text(const boost::json::value& route);
// One cluster's (mesh.v1.Cluster): "http2", "LeastRequest, slow start 30s",
// its circuit-breaker limits ("100 requests, 3 retries"; "-": none) and
// its failover backups in order ("-": none).
std::string protocol_text(const boost::json::value& cluster);
std::string balancer_text(const boost::json::value& cluster);
std::string breaker_text(const boost::json::value& cluster);
std::string failover_text(const boost::json::value& cluster);

// Where the proxy's admin endpoint listens, as its configuration says
// ("HOST:PORT"; loopback for an unspecified host, the proxy's default
// 127.0.0.1:15000 when the configuration names none).
std::string admin_address(const boost::json::value& config);
// Where its Prometheus endpoint is (admin.metrics_address), likewise.
std::string metrics_address(const boost::json::value& config);
// Why the live view from `admin` cannot be used for proxy `ref`: it is not
// the proxy's /endpoints JSON, or it is another proxy's (the admin port of
// a Pod is on the Pod's loopback, which meshctl reaches only under
// `meshctl up`). Nothing when it can.
std::optional<std::string> live_view_mismatch(const boost::json::value& live, const ProxyRef& ref);
// The live endpoints table (the proxy's /endpoints): weight, health
// (passing, failing its check, ejected until when), in-flight requests
// over every worker, and PeakEWMA's latency estimate.
Rows live_endpoint_rows(const boost::json::value& live);

}  // namespace weft::meshctl
