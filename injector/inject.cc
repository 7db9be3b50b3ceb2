#include "injector/inject.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/value.hpp>
#include <charconv>
#include <optional>

#include "common/json_access.h"
#include "injector/capture_rules.h"

namespace weft::injector {
namespace {

namespace json = boost::json;

constexpr const char* kTokenVolume = "mesh-token";
constexpr const char* kTokenPath = "/var/run/secrets/mesh.weft.io/tokens";

using json_access::array_at;
using json_access::find;
using json_access::object_at;
using json_access::string_at;

bool has_container(const json::array* containers, std::string_view name) {
  if (containers == nullptr) return false;
  for (const auto& container : *containers) {
    if (const auto* object = container.if_object(); string_at(object, "name") == name) return true;
  }
  return false;
}

bool opted_out(std::string_view value) { return value == "false" || value == "disabled"; }

// Why this Pod is left alone, if it is.
std::optional<std::string> skip_reason(const json::object& pod,
                                       const json::object& namespace_labels) {
  const auto* metadata = object_at(&pod, "metadata");
  const auto* spec = object_at(&pod, "spec");
  if (find(object_at(metadata, "annotations"), kInjectedAnnotation) != nullptr) {
    return "already_injected";
  }
  if (has_container(array_at(spec, "containers"), kProxyName) ||
      has_container(array_at(spec, "initContainers"), kProxyName)) {
    return "already_injected";
  }
  if (opted_out(string_at(object_at(metadata, "annotations"), kInjectKey)) ||
      opted_out(string_at(object_at(metadata, "labels"), kInjectKey)) ||
      opted_out(string_at(&namespace_labels, kInjectKey))) {
    return "opted_out";
  }
  if (const auto* host_network = find(spec, "hostNetwork");
      host_network != nullptr && host_network->is_bool() && host_network->get_bool()) {
    return "host_network";  // its iptables are the node's: never touch them
  }
  return std::nullopt;
}

// The container port named `name`, for exclusions written with port names.
std::optional<std::uint16_t> named_port(const json::object* spec, std::string_view name) {
  const auto* containers = array_at(spec, "containers");
  if (containers == nullptr) return std::nullopt;
  for (const auto& container : *containers) {
    const auto* ports = array_at(container.if_object(), "ports");
    if (ports == nullptr) continue;
    for (const auto& port : *ports) {
      const auto* object = port.if_object();
      const auto* number = find(object, "containerPort");
      if (string_at(object, "name") == name && number != nullptr && number->is_int64()) {
        return static_cast<std::uint16_t>(number->get_int64());
      }
    }
  }
  return std::nullopt;
}

// Inbound exclusions may name container ports ("metrics, 8081").
Result<std::vector<std::uint16_t>> inbound_exclusions(const json::object* spec,
                                                      std::string_view text) {
  std::vector<std::uint16_t> ports;
  for (auto item : split_list(text)) {
    if (item.find_first_not_of("0123456789") == std::string_view::npos) {
      auto port = parse_port(item);
      if (!port) return tl::unexpected(port.error());
      ports.push_back(*port);
    } else if (auto port = named_port(spec, item)) {
      ports.push_back(*port);
    } else {
      return fail(ErrorCode::kInvalidArgument, "no container port is named '{}'", item);
    }
  }
  return ports;
}

Result<CaptureRules> capture_rules(const json::object& pod, const Settings& settings) {
  const auto* annotations = object_at(object_at(&pod, "metadata"), "annotations");
  CaptureRules rules;
  rules.proxy_uid = settings.proxy_uid;
  auto inbound =
      inbound_exclusions(object_at(&pod, "spec"), string_at(annotations, kExcludeInboundPorts));
  if (!inbound) return tl::unexpected(with_context(inbound.error(), kExcludeInboundPorts));
  rules.exclude_inbound_ports = *inbound;
  auto outbound = parse_ports(string_at(annotations, kExcludeOutboundPorts));
  if (!outbound) return tl::unexpected(with_context(outbound.error(), kExcludeOutboundPorts));
  rules.exclude_outbound_ports = *outbound;
  auto cidrs = parse_cidrs(string_at(annotations, kExcludeOutboundCidrs));
  if (!cidrs) return tl::unexpected(with_context(cidrs.error(), kExcludeOutboundCidrs));
  rules.exclude_outbound_cidrs = *cidrs;
  return rules;
}

std::string join_ports(const std::vector<std::uint16_t>& ports) {
  return fmt::format("{}", fmt::join(ports, ","));
}

json::object init_container(const Settings& settings, const CaptureRules& rules) {
  json::array args{"--proxy-uid", std::to_string(rules.proxy_uid)};
  if (!rules.exclude_inbound_ports.empty()) {
    args.emplace_back("--exclude-inbound-ports");
    args.emplace_back(join_ports(rules.exclude_inbound_ports));
  }
  if (!rules.exclude_outbound_ports.empty()) {
    args.emplace_back("--exclude-outbound-ports");
    args.emplace_back(join_ports(rules.exclude_outbound_ports));
  }
  if (!rules.exclude_outbound_cidrs.empty()) {
    std::vector<std::string> cidrs;
    for (const auto& cidr : rules.exclude_outbound_cidrs) cidrs.push_back(cidr.text);
    args.emplace_back("--exclude-outbound-cidrs");
    args.emplace_back(fmt::format("{}", fmt::join(cidrs, ",")));
  }
  return {
      {"name", kInitName},
      {"image", settings.init_image},
      {"args", std::move(args)},
      {"resources",
       {{"requests", {{"cpu", "10m"}, {"memory", "16Mi"}}}, {"limits", {{"memory", "64Mi"}}}}},
      // iptables needs root with these two capabilities, and nothing else.
      {"securityContext",
       {{"runAsUser", 0},
        {"runAsNonRoot", false},
        {"allowPrivilegeEscalation", false},
        {"readOnlyRootFilesystem", true},
        {"seccompProfile", {{"type", "RuntimeDefault"}}},
        {"capabilities", {{"add", {"NET_ADMIN", "NET_RAW"}}, {"drop", {"ALL"}}}}}},
  };
}

json::object field_env(std::string_view name, std::string_view path) {
  return {{"name", name}, {"valueFrom", {{"fieldRef", {{"fieldPath", path}}}}}};
}

json::object container_port(std::string_view name, std::uint16_t port) {
  return {{"name", name}, {"containerPort", port}, {"protocol", "TCP"}};
}

json::object ready_probe(int period_seconds, int failure_threshold) {
  return {{"httpGet", {{"path", "/ready"}, {"port", pod_network::kHealthPort}}},
          {"periodSeconds", period_seconds},
          {"failureThreshold", failure_threshold}};
}

// Where the application serves the metrics its Pod's annotations scrape, for
// the proxy to merge with its own (--app-metrics).
struct AppMetrics {
  std::string port;
  std::string path;
};

json::object proxy_container(const Settings& settings, bool native,
                             const std::optional<AppMetrics>& app_metrics) {
  const auto& resources = settings.proxy_resources;
  json::array args{"--controlplane", settings.controlplane, "--log-format", "json"};
  if (app_metrics) {
    args.emplace_back("--app-metrics");
    args.emplace_back(fmt::format("127.0.0.1:{}{}", app_metrics->port, app_metrics->path));
  }
  json::object proxy{
      {"name", kProxyName},
      {"image", settings.proxy_image},
      {"args", std::move(args)},
      {"env",
       {field_env("POD_NAME", "metadata.name"), field_env("POD_NAMESPACE", "metadata.namespace"),
        field_env("POD_IP", "status.podIP"),
        field_env("SERVICE_ACCOUNT", "spec.serviceAccountName")}},
      {"ports",
       {container_port("mesh-outbound", pod_network::kOutboundCapturePort),
        container_port("mesh-inbound", pod_network::kInboundCapturePort),
        container_port("mesh-admin", pod_network::kAdminPort),
        container_port("mesh-metrics", pod_network::kMetricsPort),
        container_port("mesh-health", pod_network::kHealthPort)}},
      {"readinessProbe", ready_probe(2, 3)},
      {"resources",
       {{"requests", {{"cpu", resources.cpu_request}, {"memory", resources.memory_request}}},
        {"limits", {{"memory", resources.memory_limit}}}}},
      {"securityContext",
       {{"runAsUser", settings.proxy_uid},
        {"runAsGroup", settings.proxy_uid},
        {"runAsNonRoot", true},
        {"allowPrivilegeEscalation", false},
        {"readOnlyRootFilesystem", true},
        // What Pod Security's "restricted" level asks of a container.
        {"seccompProfile", {{"type", "RuntimeDefault"}}},
        {"capabilities", {{"drop", {"ALL"}}}}}},
      {"volumeMounts", {{{"name", kTokenVolume}, {"mountPath", kTokenPath}, {"readOnly", true}}}},
  };
  if (native) {
    // A restartable init container: the kubelet starts the app containers
    // once the startup probe passes and stops the proxy after them (Jobs end).
    proxy["restartPolicy"] = "Always";
    proxy["startupProbe"] = ready_probe(1, 120);
  } else {
    // A regular container listed first: the kubelet runs its postStart hook
    // to completion before starting the next container (the startup hold).
    // A Job's proxy exits when the control plane sees its app containers end.
    proxy["lifecycle"] = {
        {"postStart", {{"exec", {{"command", {"/usr/local/bin/mesh-proxy", "--wait-ready"}}}}}}};
  }
  return proxy;
}

json::object token_volume() {
  return {
      {"name", kTokenVolume},
      {"projected",
       {{"sources",
         {{{"serviceAccountToken",
            {{"audience", "mesh.weft.io"}, {"expirationSeconds", 3600}, {"path", "token"}}}}}}}}};
}

json::object op(std::string_view name, std::string path, json::value value) {
  return {{"op", name}, {"path", std::move(path)}, {"value", std::move(value)}};
}

// Puts `items` at the front of the list at `path` (or creates the list), so
// our containers run before the Pod's own.
void insert_into_list(json::array& patch, const json::array* list, const std::string& path,
                      std::vector<json::object> items) {
  if (list == nullptr) {
    json::array all;
    for (auto& item : items) all.emplace_back(std::move(item));
    patch.emplace_back(op("add", path, std::move(all)));
    return;
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    patch.emplace_back(op("add", fmt::format("{}/{}", path, i), std::move(items[i])));
  }
}

void add_annotations(json::array& patch, const json::object& pod, const json::object& wanted) {
  const auto* metadata = object_at(&pod, "metadata");
  const auto* annotations = object_at(metadata, "annotations");
  if (metadata == nullptr) {
    patch.emplace_back(op("add", "/metadata", {{"annotations", wanted}}));
    return;
  }
  if (annotations == nullptr) {
    patch.emplace_back(op("add", "/metadata/annotations", wanted));
    return;
  }
  for (const auto& [key, value] : wanted) {
    if (annotations->contains(key)) continue;
    patch.emplace_back(op("add", "/metadata/annotations/" + escape_pointer_token(key), value));
  }
}

// Whether the Pod already says how Prometheus scrapes it.
bool has_scrape_annotations(const json::object& pod) {
  const auto* annotations = object_at(object_at(&pod, "metadata"), "annotations");
  if (annotations == nullptr) return false;
  return std::any_of(annotations->begin(), annotations->end(),
                     [](const auto& entry) { return entry.key().starts_with("prometheus.io/"); });
}

// The application's scrape when the proxy can serve it merged with its own
// (as Istio's metrics merging does): scrape "true", a port, plain HTTP, and
// not opted out with mesh.weft.io/merge-metrics: "false". Otherwise the
// Pod's prometheus.io/* annotations are left as a set: adding only some of
// ours could point a scrape at the application's port with the proxy's path.
std::optional<AppMetrics> mergeable_scrape(const json::object& pod) {
  const auto* annotations = object_at(object_at(&pod, "metadata"), "annotations");
  auto value = [&](std::string_view key) { return string_at(annotations, key); };
  if (value("prometheus.io/scrape") != "true" || opted_out(value(kMergeMetricsAnnotation))) {
    return std::nullopt;
  }
  const auto port = value("prometheus.io/port");
  unsigned number = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (ec != std::errc() || end != port.data() + port.size() || number == 0 || number > 65535) {
    return std::nullopt;
  }
  const auto scheme = value("prometheus.io/scheme");
  if (!scheme.empty() && scheme != "http") return std::nullopt;
  auto path = value("prometheus.io/path");
  if (path.empty()) path = "/metrics";
  if (!path.starts_with("/")) return std::nullopt;
  return AppMetrics{std::string(port), std::string(path)};
}

// Points the Pod's scrape at the proxy, which serves both metric sets.
void redirect_scrape(json::array& patch, const json::object& pod) {
  const auto* annotations = object_at(object_at(&pod, "metadata"), "annotations");
  const std::pair<std::string_view, std::string> ours[] = {
      {"prometheus.io/port", std::to_string(pod_network::kMetricsPort)},
      {"prometheus.io/path", "/stats/prometheus"}};
  for (const auto& [key, wanted] : ours) {
    const char* verb = find(annotations, key) != nullptr ? "replace" : "add";
    patch.emplace_back(
        op(verb, "/metadata/annotations/" + escape_pointer_token(key), json::value(wanted)));
  }
}

}  // namespace

std::string escape_pointer_token(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

Result<Injection> inject(const json::object& pod, const json::object& namespace_labels,
                         const Settings& settings) {
  if (auto reason = skip_reason(pod, namespace_labels)) return Injection{false, *reason, {}};
  auto rules = capture_rules(pod, settings);
  if (!rules) return tl::unexpected(rules.error());
  const auto* spec = object_at(&pod, "spec");
  if (spec == nullptr || array_at(spec, "containers") == nullptr) {
    return fail(ErrorCode::kInvalidArgument, "the Pod has no spec.containers");
  }

  Injection injection{true, {}, {}};
  auto& patch = injection.patch;
  const char* mode = settings.native_sidecars ? "native" : "classic";
  json::object annotations{{kInjectedAnnotation, fmt::format("{} {}", WEFT_VERSION, mode)}};
  const auto app_metrics = mergeable_scrape(pod);
  if (!has_scrape_annotations(pod)) {
    annotations["prometheus.io/scrape"] = "true";
    annotations["prometheus.io/port"] = std::to_string(pod_network::kMetricsPort);
    annotations["prometheus.io/path"] = "/stats/prometheus";
  }
  add_annotations(patch, pod, annotations);
  if (app_metrics) redirect_scrape(patch, pod);
  std::vector<json::object> init{init_container(settings, *rules)};
  if (settings.native_sidecars) init.push_back(proxy_container(settings, true, app_metrics));
  insert_into_list(patch, array_at(spec, "initContainers"), "/spec/initContainers",
                   std::move(init));
  if (!settings.native_sidecars) {
    patch.emplace_back(
        op("add", "/spec/containers/0", proxy_container(settings, false, app_metrics)));
  }
  if (array_at(spec, "volumes") == nullptr) {
    patch.emplace_back(op("add", "/spec/volumes", json::array{token_volume()}));
  } else {
    patch.emplace_back(op("add", "/spec/volumes/-", token_volume()));
  }
  return injection;
}

}  // namespace weft::injector
