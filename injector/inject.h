// Sidecar injection as a pure function: a Pod (or a workload's Pod
// template) in, the RFC 6902 JSON Patch that meshes it out. The admission
// webhook (mesh-injector) and `meshctl inject` are thin shells around it,
// so what a cluster does and what the offline command prints cannot differ.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <string>

#include "common/pod_network.h"
#include "common/result.h"

namespace weft::injector {

// Labels and annotations the injector reads and writes (DESIGN.md §2 prefix).
inline constexpr const char* kInjectKey = "mesh.weft.io/inject";  // "false": opt out
inline constexpr const char* kInjectedAnnotation = "mesh.weft.io/injected";
// "false": leave the Pod's own prometheus.io/* scrape as it is rather than
// serve the application's metrics merged with the proxy's.
inline constexpr const char* kMergeMetricsAnnotation = "mesh.weft.io/merge-metrics";
inline constexpr const char* kExcludeInboundPorts = "mesh.weft.io/exclude-inbound-ports";
inline constexpr const char* kExcludeOutboundPorts = "mesh.weft.io/exclude-outbound-ports";
inline constexpr const char* kExcludeOutboundCidrs = "mesh.weft.io/exclude-outbound-cidrs";
inline constexpr const char* kProxyName = "mesh-proxy";
inline constexpr const char* kInitName = "mesh-init";

struct Resources {
  std::string cpu_request = "50m";
  std::string memory_request = "32Mi";
  std::string memory_limit = "256Mi";
};

// What every injected Pod gets: from the injector's flags and the MeshConfig.
struct Settings {
  std::string proxy_image = "ghcr.io/weft-mesh/mesh-proxy:" WEFT_VERSION;
  std::string init_image = "ghcr.io/weft-mesh/mesh-init:" WEFT_VERSION;
  std::string controlplane = "mesh-controlplane.mesh-system.svc:15010";
  // Kubernetes 1.29+ runs the proxy as a native sidecar (an init container
  // with restartPolicy: Always); older clusters get a regular container.
  bool native_sidecars = true;
  std::uint32_t proxy_uid = pod_network::kProxyUid;
  Resources proxy_resources;
};

struct Injection {
  bool injected = false;
  std::string skip_reason;   // when not injected: already_injected, opted_out, host_network
  boost::json::array patch;  // empty when skipped
};

// The patch that meshes `pod`. `namespace_labels` are the labels of the Pod's
// namespace (a namespace labelled mesh.weft.io/inject=disabled opts out).
// Errors are the Pod's own mistakes (a malformed exclusion annotation), with
// a message for the user.
Result<Injection> inject(const boost::json::object& pod,
                         const boost::json::object& namespace_labels, const Settings& settings);

// "mesh.weft.io/injected" -> "mesh.weft.io~1injected" (RFC 6901 §3).
std::string escape_pointer_token(std::string_view token);

}  // namespace weft::injector
