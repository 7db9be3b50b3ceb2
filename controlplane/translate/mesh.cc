#include "controlplane/translate/mesh.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>

#include "common/duration.h"
#include "common/http_url.h"
#include "controlplane/translate/authorization.h"
#include "controlplane/translate/policy.h"
#include "controlplane/translate/routes.h"
#include "controlplane/translate/timeouts.h"

namespace weft::cp::translate {
namespace {

using NsName = std::pair<std::string, std::string>;

std::string cluster_name(const std::string& service, const std::string& ns, std::uint32_t port) {
  return fmt::format("{}.{}:{}", service, ns, port);
}

std::optional<std::uint32_t> port_number(std::string_view text) {
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return value;
}

AppProtocol protocol_of(const k8s::ServicePort& port) {
  const auto& app = port.app_protocol();
  if (app == "http") return AppProtocol::kHttp;
  if (app == "kubernetes.io/h2c" || app == "grpc") return AppProtocol::kHttp2;
  if (!app.empty()) return AppProtocol::kTcp;
  // Istio's convention: a port named http, http-*, grpc, grpc-*, tcp, ...
  std::string_view name = port.name();
  auto prefix = name.substr(0, name.find('-'));
  if (prefix == "http") return AppProtocol::kHttp;
  if (prefix == "grpc" || prefix == "http2") return AppProtocol::kHttp2;
  if (prefix == "tcp" || prefix == "tls" || prefix == "mysql" || prefix == "redis") {
    return AppProtocol::kTcp;
  }
  return AppProtocol::kUnknown;
}

std::vector<std::string> domains_for(const k8s::Service& service, std::uint32_t port) {
  const auto& name = service.metadata().name();
  const auto& ns = service.metadata().namespace_();
  std::vector<std::string> hosts{name, fmt::format("{}.{}", name, ns),
                                 fmt::format("{}.{}.svc", name, ns),
                                 fmt::format("{}.{}.svc.cluster.local", name, ns)};
  if (!service.spec().cluster_ip().empty() && service.spec().cluster_ip() != "None") {
    hosts.push_back(service.spec().cluster_ip());
  }
  std::vector<std::string> domains;
  for (const auto& host : hosts) {
    domains.push_back(fmt::format("{}:{}", host, port));
    // A client may omit the default port of its scheme.
    if (port == 80) domains.push_back(host);
  }
  return domains;
}

// Whether every container but a classic sidecar has finished for good: with
// restartPolicy Never any exit, with OnFailure a successful one.
bool application_exited(const k8s::Pod& pod) {
  const auto& policy = pod.spec().restart_policy();
  if (policy != "Never" && policy != "OnFailure") return false;
  bool has_sidecar = false;
  std::size_t applications = 0, finished = 0;
  for (const auto& container : pod.spec().containers()) {
    if (container.name() == kSidecarContainer) {
      has_sidecar = true;
      continue;
    }
    ++applications;
    for (const auto& status : pod.status().container_statuses()) {
      if (status.name() != container.name() || !status.state().has_terminated()) continue;
      if (policy == "Never" || status.state().terminated().exit_code() == 0) ++finished;
    }
  }
  return has_sidecar && applications > 0 && finished == applications;
}

// Where a Node is, from its labels; empty for a Node the store lacks.
mesh::v1::Locality node_locality(const model::Store& store, const std::string& node_name) {
  mesh::v1::Locality locality;
  if (node_name.empty()) return locality;
  auto node = store.nodes.find({"", node_name});
  if (node == store.nodes.end()) return locality;
  const auto& labels = node->second->metadata().labels();
  if (auto it = labels.find(std::string(kRegionLabel)); it != labels.end()) {
    locality.set_region(it->second);
  }
  if (auto it = labels.find(std::string(kZoneLabel)); it != labels.end()) {
    locality.set_zone(it->second);
  }
  return locality;
}

Workload workload_of(const model::Store& store, const k8s::Pod& pod,
                     std::vector<Condition>& conditions) {
  Workload w;
  w.metadata = workload_metadata(pod);
  w.locality = node_locality(store, pod.spec().node_name());
  w.name = pod.metadata().name();
  w.ns = pod.metadata().namespace_();
  w.ip = pod.status().pod_ip();
  if (w.ip.empty() && pod.status().pod_ips_size() > 0) w.ip = pod.status().pod_ips(0).ip();
  w.labels.insert(pod.metadata().labels().begin(), pod.metadata().labels().end());
  for (const auto& container : pod.spec().containers()) {
    if (container.name() == kSidecarContainer) continue;
    for (const auto& port : container.ports()) {
      w.container_ports.push_back(port.container_port());
      if (!port.name().empty()) w.named_ports[port.name()] = port.container_port();
    }
  }
  w.application_exited = application_exited(pod);
  const auto& annotations = pod.metadata().annotations();
  if (auto it = annotations.find(std::string(kLocalPortsAnnotation)); it != annotations.end()) {
    auto local = parse_local_ports(it->second);
    if (local) {
      w.local = *local;
    } else {
      conditions.push_back({fmt::format("Pod {}/{}", w.ns, w.name), "Accepted", false,
                            "InvalidAnnotation", local.error().message});
    }
  }
  return w;
}

std::string label_or(const k8s::ObjectMeta& meta, std::initializer_list<std::string_view> names,
                     std::string fallback) {
  for (auto name : names) {
    auto it = meta.labels().find(std::string(name));
    if (it != meta.labels().end() && !it->second.empty()) return it->second;
  }
  return fallback;
}

// Where an endpoint runs: its Node's labels (the slice's nodeName, else its
// Pod's), else the slice's zone hint for the zone alone.
mesh::v1::Locality endpoint_locality(const model::Store& store, const k8s::Endpoint& endpoint,
                                     const Workload* pod) {
  auto locality = node_locality(store, endpoint.node_name());
  if (locality.zone().empty() && locality.region().empty() && pod != nullptr) {
    locality = pod->locality;
  }
  if (locality.zone().empty()) locality.set_zone(endpoint.zone());
  return locality;
}

// Endpoints of one Service port from the EndpointSlices labelled with the
// Service's name. In directory mode an endpoint backed by a meshed Pod is
// reached through that Pod's sidecar inbound port (the stand-in for the
// iptables redirect a cluster would do).
void add_endpoints(const model::Store& store, const Mesh& mesh, const k8s::Service& service,
                   const k8s::ServicePort& service_port, mesh::v1::Cluster& cluster) {
  const auto& ns = service.metadata().namespace_();
  for (const auto& [key, slice_ptr] : store.endpoint_slices) {
    const auto& slice = *slice_ptr;
    if (key.first != ns) continue;
    auto label = slice.metadata().labels().find("kubernetes.io/service-name");
    if (label == slice.metadata().labels().end() || label->second != service.metadata().name()) {
      continue;
    }
    if (slice.address_type() == "FQDN") continue;
    std::optional<std::uint32_t> port;
    for (const auto& p : slice.ports()) {
      bool same_name = p.name() == service_port.name();
      if (same_name || slice.ports_size() == 1) port = p.has_port() ? p.port() : 0;
      if (same_name) break;
    }
    if (!port || *port == 0) continue;
    for (const auto& endpoint : slice.endpoints()) {
      if (endpoint.addresses_size() == 0) continue;
      const bool ready = !endpoint.conditions().has_ready() || endpoint.conditions().ready();
      auto* out = ready ? cluster.add_endpoints() : cluster.add_not_ready_endpoints();
      out->set_address(endpoint.addresses(0));
      out->set_port(*port);
      const auto& ref = endpoint.target_ref();
      auto pod =
          ref.kind() == "Pod"
              ? mesh.workloads.find({ref.namespace_().empty() ? ns : ref.namespace_(), ref.name()})
              : mesh.workloads.end();
      auto locality =
          endpoint_locality(store, endpoint, pod == mesh.workloads.end() ? nullptr : &pod->second);
      if (locality.ByteSizeLong() != 0) *out->mutable_locality() = std::move(locality);
      if (pod == mesh.workloads.end()) continue;
      *out->mutable_workload() = pod->second.metadata;
      if (!pod->second.local) continue;
      if (auto inbound = pod->second.local->inbound.find(*port);
          inbound != pod->second.local->inbound.end()) {
        out->set_port(inbound->second);
      }
    }
  }
}

mesh::v1::Route default_route(const ServicePort& sp) {
  mesh::v1::Route route;
  route.set_name("default");
  route.mutable_match()->set_prefix("/");
  route.mutable_forward()->add_clusters()->set_name(sp.cluster.name());
  return route;
}

bool is_service_parent(const k8s::ParentReference& parent) {
  return (parent.group().empty() || parent.group() == "core") && parent.kind() == "Service";
}

// One HTTPRoute, ready to attach: the Service ports it names as parents
// and its translated rules. `parent_problems` are parents it names that do
// not exist or are not Services; it attaches to the others.
struct Attachment {
  std::vector<std::size_t> parents;  // service port indexes
  TranslatedRoute translated;
  std::vector<Rejected> parent_problems;
};

tl::expected<Attachment, Rejected> attachment_of(const k8s::HTTPRoute& route, const Mesh& mesh,
                                                 const BackendResolver& resolve) {
  Attachment out;
  // The rules first: what is wrong in them is wrong whatever the parents.
  auto translated = translate_rules(route, resolve);
  if (!translated) return tl::unexpected(translated.error());
  out.translated = std::move(*translated);
  const auto& route_ns = route.metadata().namespace_();
  for (const auto& parent : route.spec().parent_refs()) {
    if (!is_service_parent(parent)) {
      out.parent_problems.push_back(
          {"Accepted", "NotAllowedByListeners",
           fmt::format("parentRef {} {}: mesh routes attach to a Service (GAMMA); Gateways are "
                       "not supported",
                       parent.kind().empty() ? "Gateway" : parent.kind(), parent.name())});
      continue;
    }
    const auto& ns = parent.namespace_().empty() ? route_ns : parent.namespace_();
    const auto before = out.parents.size();
    for (std::size_t i = 0; i < mesh.service_ports.size(); ++i) {
      const auto& sp = mesh.service_ports[i];
      if (sp.ns != ns || sp.service != parent.name()) continue;
      if (parent.port() != 0 && sp.port != parent.port()) continue;
      out.parents.push_back(i);
    }
    if (out.parents.size() == before) {
      out.parent_problems.push_back(
          {"Accepted", "NoMatchingParent",
           fmt::format("parent Service {}/{}{} does not exist", ns, parent.name(),
                       parent.port() ? fmt::format(" port {}", parent.port()) : "")});
    }
  }
  if (out.parents.empty()) {
    if (out.parent_problems.empty()) {
      return tl::unexpected(Rejected{"Accepted", "NoMatchingParent", "no parentRefs"});
    }
    return tl::unexpected(out.parent_problems.front());
  }
  return out;
}

// The conditions of a route that attached: Accepted, with the parents it
// could not attach to, and ResolvedRefs.
void report_attached(const std::string& object, const k8s::HTTPRoute& route,
                     const Attachment& attached, std::vector<Condition>& conditions) {
  for (const auto& p : attached.parent_problems) {
    conditions.push_back({object, p.type, false, p.reason, p.message});
  }
  std::string message;
  if (route.spec().hostnames_size() > 0) {
    message = "hostnames are ignored: a route attached to a Service applies to its traffic";
  }
  conditions.push_back({object, "Accepted", true, "Accepted", message});
  const auto& unresolved = attached.translated.unresolved;
  if (unresolved.empty()) {
    conditions.push_back({object, "ResolvedRefs", true, "ResolvedRefs", ""});
    return;
  }
  std::vector<std::string> messages;
  messages.reserve(unresolved.size());
  for (const auto& u : unresolved) messages.push_back(u.message);
  conditions.push_back(
      {object, "ResolvedRefs", false, unresolved.front().reason,
       fmt::format("{}; requests that would go to it are answered 500, the route's other "
                   "backends keep theirs",
                   fmt::join(messages, "; "))});
}

// Attaches every HTTPRoute to the Service ports it names as parents. A
// route rejected outright (an unsupported value, no parent) keeps its last
// accepted version from `previous`, as a manifest that does not parse
// does: an edit with a typo never reverts a canary to plain round robin.
void attach_routes(const model::Store& store, const Mesh* previous, Mesh& mesh) {
  std::map<std::size_t, std::vector<RankedRoute>> attached;  // service port index -> routes
  BackendResolver resolve = [&](const std::string& ns, const std::string& name,
                                std::uint32_t port) -> std::optional<std::string> {
    for (const auto& sp : mesh.service_ports) {
      if (sp.ns == ns && sp.service == name && sp.port == port) return sp.cluster.name();
    }
    return std::nullopt;
  };
  for (const auto& [key, route_ptr] : store.http_routes) {
    auto object = model::ObjectKey{"HTTPRoute", key.first, key.second}.text();
    auto evaluated = evaluate_or_last_accepted(
        object, route_ptr, previous == nullptr ? nullptr : &previous->accepted.http_routes, key,
        mesh.conditions,
        [&](const k8s::HTTPRoute& route) { return attachment_of(route, mesh, resolve); });
    if (!evaluated.value) continue;
    if (evaluated.used == route_ptr) {
      report_attached(object, *route_ptr, *evaluated.value, mesh.conditions);
    }
    mesh.accepted.http_routes[key] = evaluated.used;
    const auto& rules = evaluated.value->translated.rules;
    for (auto i : evaluated.value->parents) {
      attached[i].insert(attached[i].end(), rules.begin(), rules.end());
    }
  }
  for (auto& [index, routes] : attached) {
    std::stable_sort(routes.begin(), routes.end(),
                     [](const auto& a, const auto& b) { return a.rank < b.rank; });
    auto& sp = mesh.service_ports[index];
    sp.routes.clear();
    for (auto& ranked : routes) sp.routes.push_back(std::move(ranked.route));
  }
}

// A MeshConfig's settings.
struct MeshSettings {
  std::optional<google::protobuf::Duration> drain_timeout;
  TimeoutDefaults timeouts;
  bool istio_metric_names = false;
  std::optional<mesh::v1::Tracing> tracing;
  std::optional<mesh::v1::AccessLog> access_log;
  std::string trust_domain{ca::kDefaultTrustDomain};
  mesh::v1::Listener::MtlsMode mtls_mode = mesh::v1::Listener::MTLS_PERMISSIVE;
};

// spec.tracing for the proxies, or why it is rejected; none when unset.
tl::expected<std::optional<mesh::v1::Tracing>, Rejected> tracing_of(
    const mesh::v1alpha1::MeshConfigSpec& spec) {
  if (!spec.has_tracing()) return std::nullopt;
  const auto& tracing = spec.tracing();
  auto invalid = [](std::string message) {
    return tl::unexpected(Rejected{"Accepted", "InvalidValue", std::move(message)});
  };
  mesh::v1::Tracing out;
  constexpr double kDefaultPercent = 1;
  const double percent =
      tracing.has_sampling_percent() ? tracing.sampling_percent() : kDefaultPercent;
  if (!(percent >= 0 && percent <= 100)) {
    return invalid(fmt::format("tracing.samplingPercent {} is not within 0-100", percent));
  }
  out.set_sampling_percent(percent);
  if (tracing.has_otlp() == tracing.has_zipkin()) {
    return invalid("tracing needs exactly one collector: otlp or zipkin");
  }
  const bool otlp = tracing.has_otlp();
  const auto& endpoint = otlp ? tracing.otlp().endpoint() : tracing.zipkin().endpoint();
  auto url = parse_http_url(endpoint, "/");
  if (!url) {
    return invalid(
        fmt::format("tracing.{}.endpoint: {}", otlp ? "otlp" : "zipkin", url.error().message));
  }
  if (otlp) {
    out.set_otlp_endpoint(endpoint);
  } else {
    out.set_zipkin_endpoint(endpoint);
  }
  return out;
}

// spec.accessLog for the proxies, or why it is rejected; none when unset.
tl::expected<std::optional<mesh::v1::AccessLog>, Rejected> access_log_of(
    const mesh::v1alpha1::MeshConfigSpec& spec) {
  if (!spec.has_access_log()) return std::nullopt;
  const auto& log = spec.access_log();
  auto invalid = [](std::string message) {
    return tl::unexpected(Rejected{"Accepted", "InvalidValue", std::move(message)});
  };
  mesh::v1::AccessLog out;
  if (log.format() == "text") {
    out.set_format(mesh::v1::AccessLog::FORMAT_TEXT);
  } else if (!log.format().empty() && log.format() != "json") {
    return invalid(fmt::format("accessLog.format '{}' is not json or text", log.format()));
  }
  const std::string path = log.path().empty() ? "/dev/stdout" : log.path();
  if (path.front() != '/' || path.back() == '/') {
    return invalid(fmt::format("accessLog.path '{}' is not an absolute file path", path));
  }
  out.set_path(path);
  constexpr double kDefaultPercent = 100;
  const double percent = log.has_sampling_percent() ? log.sampling_percent() : kDefaultPercent;
  if (!(percent >= 0 && percent <= 100)) {
    return invalid(fmt::format("accessLog.samplingPercent {} is not within 0-100", percent));
  }
  out.set_sampling_percent(percent);
  return out;
}

// A MeshConfig's settings, or why it is rejected.
tl::expected<MeshSettings, Rejected> settings_of(const mesh::v1alpha1::MeshConfig& config) {
  MeshSettings settings;
  const auto& drain = config.spec().drain_timeout();
  if (!drain.empty()) {
    auto parsed = parse_duration(drain);
    if (!parsed) {
      return tl::unexpected(Rejected{"Accepted", "InvalidValue",
                                     fmt::format("drainTimeout '{}' is not a duration", drain)});
    }
    settings.drain_timeout = to_proto(*parsed);
  }
  auto timeouts = parse_timeouts(config.spec().timeouts(), "mesh");
  if (!timeouts) return tl::unexpected(timeouts.error());
  settings.timeouts = std::move(*timeouts);
  settings.istio_metric_names = config.spec().metrics().istio_compatible_names();
  auto tracing = tracing_of(config.spec());
  if (!tracing) return tl::unexpected(tracing.error());
  settings.tracing = std::move(*tracing);
  auto access_log = access_log_of(config.spec());
  if (!access_log) return tl::unexpected(access_log.error());
  settings.access_log = std::move(*access_log);
  if (const auto& domain = config.spec().trust_domain(); !domain.empty()) {
    if (auto error = ca::trust_domain_error(domain); !error.empty()) {
      return tl::unexpected(Rejected{"Accepted", "InvalidValue", "trustDomain: " + error});
    }
    settings.trust_domain = domain;
  }
  if (const auto& mode = config.spec().mtls().mode(); mode == "STRICT") {
    settings.mtls_mode = mesh::v1::Listener::MTLS_STRICT;
  } else if (mode == "DISABLE") {
    settings.mtls_mode = mesh::v1::Listener::MTLS_DISABLE;
  } else if (!mode.empty() && mode != "PERMISSIVE") {
    return tl::unexpected(
        Rejected{"Accepted", "InvalidValue",
                 fmt::format("mtls.mode '{}' is not STRICT, PERMISSIVE or DISABLE", mode)});
  }
  return settings;
}

// The one MeshConfig: with several, the first by name applies and the others
// are reported. A rejected one keeps its last accepted version.
void apply_mesh_config(const model::Store& store, const Mesh* previous, Mesh& mesh) {
  bool first = true;
  for (const auto& [key, config_ptr] : store.mesh_configs) {
    auto object = model::ObjectKey{"MeshConfig", key.first, key.second}.text();
    if (!first) {
      mesh.conditions.push_back({object, "Accepted", false, "Conflicted",
                                 fmt::format("only one MeshConfig applies: {}",
                                             store.mesh_configs.begin()->first.second)});
      continue;
    }
    first = false;
    auto evaluated = evaluate_or_last_accepted(
        object, config_ptr, previous == nullptr ? nullptr : &previous->accepted.mesh_configs, key,
        mesh.conditions, settings_of);
    if (!evaluated.value) continue;
    if (evaluated.used == config_ptr) {
      mesh.conditions.push_back({object, "Accepted", true, "Accepted", ""});
    }
    mesh.accepted.mesh_configs[key] = evaluated.used;
    mesh.drain_timeout = evaluated.value->drain_timeout;
    mesh.istio_metric_names = evaluated.value->istio_metric_names;
    mesh.tracing = evaluated.value->tracing;
    mesh.access_log = evaluated.value->access_log;
    mesh.trust_domain = evaluated.value->trust_domain;
    mesh.mtls_mode = evaluated.value->mtls_mode;
    // After the policies: the mesh's timeouts fill only what is left.
    for (auto& sp : mesh.service_ports) {
      for (auto& route : sp.routes) evaluated.value->timeouts.fill(route);
    }
  }
}

// Each meshed endpoint's SPIFFE ID, under the trust domain the MeshConfig
// gives (so after it): what its sidecar's certificate names. None with
// mutual TLS disabled: callers then send plaintext.
void name_peer_identities(Mesh& mesh) {
  if (mesh.mtls_mode == mesh::v1::Listener::MTLS_DISABLE) return;
  for (auto& sp : mesh.service_ports) {
    for (auto& endpoint : *sp.cluster.mutable_endpoints()) {
      if (!endpoint.has_workload()) continue;
      const auto& workload = endpoint.workload();
      endpoint.set_identity(
          ca::spiffe_id(mesh.trust_domain, workload.namespace_(), workload.service_account()));
    }
  }
}

}  // namespace

Result<Workload::LocalPorts> parse_local_ports(std::string_view text) {
  Workload::LocalPorts ports;
  while (!text.empty()) {
    auto entry = text.substr(0, text.find(','));
    text.remove_prefix(std::min(text.size(), entry.size() + 1));
    auto equals = entry.find('=');
    auto value =
        equals == std::string_view::npos ? std::nullopt : port_number(entry.substr(equals + 1));
    if (!value) {
      return fail(ErrorCode::kInvalidArgument, "{}: '{}' is not name=port", kLocalPortsAnnotation,
                  entry);
    }
    auto name = entry.substr(0, equals);
    if (name == "outbound") {
      ports.outbound = *value;
    } else if (name == "admin") {
      ports.admin = *value;
    } else if (name == "metrics") {
      ports.metrics = *value;
    } else if (auto app =
                   name.starts_with("inbound.") ? port_number(name.substr(8)) : std::nullopt) {
      ports.inbound[*app] = *value;
    } else {
      return fail(ErrorCode::kInvalidArgument,
                  "{}: unknown entry '{}' (outbound, admin, metrics, inbound.<port>)",
                  kLocalPortsAnnotation, name);
    }
  }
  if (ports.outbound == 0 || ports.admin == 0) {
    return fail(ErrorCode::kInvalidArgument, "{}: outbound and admin ports are required",
                kLocalPortsAnnotation);
  }
  return ports;
}

mesh::v1::Workload workload_metadata(const k8s::Pod& pod) {
  const auto& meta = pod.metadata();
  mesh::v1::Workload out;
  out.set_name(meta.name());
  for (const auto& owner : meta.owner_references()) {
    if (owner.has_controller() && !owner.controller()) continue;
    out.set_name(owner.name());
    auto hash = meta.labels().find("pod-template-hash");
    if (owner.kind() == "ReplicaSet" && hash != meta.labels().end() &&
        owner.name().ends_with("-" + hash->second)) {
      out.set_name(owner.name().substr(0, owner.name().size() - hash->second.size() - 1));
    }
    break;
  }
  out.set_namespace_(meta.namespace_());
  out.set_app(label_or(meta, {"app.kubernetes.io/name", "app"}, out.name()));
  out.set_version(label_or(meta, {"app.kubernetes.io/version", "version"}, "unknown"));
  out.set_service_account(
      pod.spec().service_account_name().empty() ? "default" : pod.spec().service_account_name());
  return out;
}

std::shared_ptr<const Mesh> compile(const model::Store& store, const Mesh* previous) {
  auto mesh = std::make_shared<Mesh>();
  for (const auto& [key, pod_ptr] : store.pods) {
    const auto& pod = *pod_ptr;
    mesh->workloads.emplace(key, workload_of(store, pod, mesh->conditions));
  }
  for (const auto& [key, service_ptr] : store.services) {
    const auto& service = *service_ptr;
    for (const auto& port : service.spec().ports()) {
      if (!port.protocol().empty() && port.protocol() != "TCP") continue;  // UDP, SCTP
      ServicePort sp;
      sp.service = key.second;
      sp.ns = key.first;
      sp.cluster_ip = service.spec().cluster_ip() == "None" ? "" : service.spec().cluster_ip();
      sp.port = port.port();
      sp.port_name = port.name();
      sp.protocol = protocol_of(port);
      sp.domains = domains_for(service, port.port());
      sp.cluster.set_name(cluster_name(sp.service, sp.ns, sp.port));
      sp.cluster.set_service(fmt::format("{}.{}.svc.cluster.local", sp.service, sp.ns));
      if (sp.protocol == AppProtocol::kHttp2) {
        sp.cluster.set_protocol(mesh::v1::Cluster::PROTOCOL_HTTP2);
      }
      add_endpoints(store, *mesh, service, port, sp.cluster);
      sp.routes.push_back(default_route(sp));
      mesh->service_ports.push_back(std::move(sp));
    }
  }
  attach_routes(store, previous, *mesh);
  apply_policies(store, previous, *mesh);
  apply_mesh_config(store, previous, *mesh);
  name_peer_identities(*mesh);
  apply_authorization(store, previous, *mesh);
  return mesh;
}

}  // namespace weft::cp::translate
