// `meshctl proxy-config`'s pure half: which proxy an argument names, and
// the tables shown for a proxy's configuration (the JSON of a
// mesh.v1.ProxyConfig, as the control plane's /config serves it).
#pragma once

#include <boost/json/value.hpp>
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

}  // namespace weft::meshctl
