// What the whole mesh looks like once a store is resolved: every Service
// port with its cluster, its routes (HTTPRoutes attached to the Service, or
// a default route) and its policy, plus a condition for every route or
// policy that was not applied and why. Computed once per store change and
// shared by every proxy's translation (translate/proxy.h).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controlplane/ca/workload_certificates.h"
#include "controlplane/model/objects.h"
#include "controlplane/translate/routes.h"
#include "mesh/v1/config.pb.h"

namespace weft::cp::translate {

// A status condition on a route or policy, as Kubernetes would show it.
struct Condition {
  std::string object;  // "HTTPRoute default/reviews"
  std::string type;    // Accepted, ResolvedRefs
  bool ok = true;
  std::string reason;  // Accepted, UnsupportedValue, BackendNotFound, ...
  std::string message;
};

enum class AppProtocol { kUnknown, kHttp, kHttp2, kTcp };

struct ServicePort {
  std::string service;
  std::string ns;
  std::string cluster_ip;  // empty: headless or not allocated (directory mode)
  std::uint32_t port = 0;
  std::string port_name;
  AppProtocol protocol = AppProtocol::kUnknown;
  // Authorities that reach it: reviews:9080, reviews.default:9080, ...
  std::vector<std::string> domains;
  mesh::v1::Cluster cluster;
  std::vector<mesh::v1::Route> routes;
};

// A Pod the mesh knows, with what a sidecar in it needs.
struct Workload {
  std::string name;
  std::string ns;
  std::string ip;
  std::map<std::string, std::string> labels;
  std::vector<std::uint32_t> container_ports;
  std::map<std::string, std::uint32_t> named_ports;  // a Service's targetPort may name one
  // Directory mode: the sidecar's ports on 127.0.0.1, from the Pod's
  // mesh.weft.io/local-ports annotation ("outbound=31002,admin=31003,
  // metrics=31004,inbound.9080=31001"). Absent: Kubernetes mode, capture
  // listeners on 15001 and 15006.
  struct LocalPorts {
    std::uint32_t outbound = 0, admin = 0, metrics = 0;
    std::map<std::uint32_t, std::uint32_t> inbound;  // container port -> sidecar port
  };
  std::optional<LocalPorts> local;
  // A run-to-completion Pod (restartPolicy Never or OnFailure) with a
  // classic sidecar whose application containers have all finished: its
  // proxy is told to exit.
  bool application_exited = false;
  // The zone and region of the Node the Pod runs on (its labels
  // topology.kubernetes.io/zone and /region); empty when unknown.
  mesh::v1::Locality locality;
  // How the request metrics name it (workload_metadata).
  mesh::v1::Workload metadata;
  // The AuthorizationPolicies that cover it, by namespace and name, each
  // with the ports it covers (translate/authorization.h).
  std::vector<mesh::v1::AuthorizationPolicy> authorization;
};

// A Pod's workload as Istio's telemetry names it: its controller's name (a
// ReplicaSet's less the pod-template-hash suffix, which is its Deployment),
// else the Pod's; app and version from the recommended labels, then the
// classic ones.
mesh::v1::Workload workload_metadata(const k8s::Pod& pod);

struct Mesh {
  // From the MeshConfig; unset: the proxy's default.
  std::optional<google::protobuf::Duration> drain_timeout;
  // MeshConfig spec.trustDomain: the SPIFFE IDs of workload certificates.
  std::string trust_domain{ca::kDefaultTrustDomain};
  // MeshConfig spec.mtls.mode: what sidecars' inbound listeners accept;
  // with DISABLE, endpoints get no identity, so callers send plaintext.
  mesh::v1::Listener::MtlsMode mtls_mode = mesh::v1::Listener::MTLS_PERMISSIVE;
  // MeshConfig spec.metrics.istioCompatibleNames.
  bool istio_metric_names = false;
  // MeshConfig spec.tracing, checked; none: no tracing.
  std::optional<mesh::v1::Tracing> tracing;
  // MeshConfig spec.accessLog, checked; none: no access log.
  std::optional<mesh::v1::AccessLog> access_log;
  std::vector<ServicePort> service_ports;  // sorted by namespace, name, port
  std::map<std::pair<std::string, std::string>, Workload> workloads;
  std::vector<Condition> conditions;
  // The version of each HTTPRoute, TrafficPolicy, MeshConfig and
  // AuthorizationPolicy this mesh serves (the other kinds are left empty).
  // When a later version is rejected, the next compile serves this one and
  // says so in the condition: every rejection keeps the last good version,
  // as a manifest that does not parse does. Kept in memory: a control plane
  // restarted while an object is rejected has no last good version of it.
  model::Store accepted;
};

// Appended to the message of a rejected object whose last accepted version
// keeps serving.
inline constexpr char kServingLastAccepted[] = " (the last accepted version keeps serving)";

// What evaluate_or_last_accepted gives: the value and the version of the
// object it came from (`used`), or no value and null.
template <class T, class Value>
struct Evaluated {
  std::optional<Value> value;
  std::shared_ptr<const T> used;
};

// `evaluate(object)` (a tl::expected<Value, Rejected>), or, when `current`
// is rejected, the same of its last accepted version in `accepted` (the
// previous mesh's; null: none). A rejection becomes the object's
// condition, saying whether the last version keeps serving. The caller
// writes the condition of an object accepted as it is (`used == current`).
template <class T, class Evaluate>
auto evaluate_or_last_accepted(const std::string& object, const std::shared_ptr<const T>& current,
                               const model::Store::ByName<T>* accepted,
                               const std::pair<std::string, std::string>& key,
                               std::vector<Condition>& conditions, const Evaluate& evaluate) {
  auto result = evaluate(*current);
  using Value = typename decltype(result)::value_type;
  if (result) return Evaluated<T, Value>{std::move(*result), current};
  auto rejected = result.error();  // a copy: `result` is reused below
  std::shared_ptr<const T> last;
  if (accepted != nullptr) {
    if (auto it = accepted->find(key); it != accepted->end()) last = it->second;
  }
  if (last && last != current) result = evaluate(*last);
  conditions.push_back({object, rejected.type, false, rejected.reason,
                        result ? rejected.message + kServingLastAccepted : rejected.message});
  if (!result) return Evaluated<T, Value>{std::nullopt, nullptr};
  return Evaluated<T, Value>{std::move(*result), last};
}

inline constexpr std::string_view kLocalPortsAnnotation = "mesh.weft.io/local-ports";

// The well-known labels the Kubernetes node controller and cloud providers
// set on every Node: where its Pods run (a proxy's and its endpoints'
// locality).
inline constexpr std::string_view kZoneLabel = "topology.kubernetes.io/zone";
inline constexpr std::string_view kRegionLabel = "topology.kubernetes.io/region";
// The injected proxy's container name (injector/inject.h): its own ports are
// not the workload's.
inline constexpr std::string_view kSidecarContainer = "mesh-proxy";

// Parses a local-ports annotation; errors name the bad entry.
Result<Workload::LocalPorts> parse_local_ports(std::string_view text);

// `previous`, the mesh compiled before this one (null at start and for
// one-off validation), supplies the last accepted version of objects that
// are now rejected.
std::shared_ptr<const Mesh> compile(const model::Store& store, const Mesh* previous = nullptr);

}  // namespace weft::cp::translate
