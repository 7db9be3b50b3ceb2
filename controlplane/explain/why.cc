#include "controlplane/explain/why.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <google/protobuf/util/json_util.h>

#include <boost/algorithm/string/predicate.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <cstdio>
#include <set>
#include <tuple>

#include "common/admin_http.h"
#include "controlplane/translate/proxy.h"
#include "proxy/config/snapshot.h"
#include "proxy/router/route.h"

namespace weft::cp::explain {
namespace {

namespace json = boost::json;
using translate::AppProtocol;
using translate::Mesh;
using translate::ServicePort;
using translate::Workload;

// A message as the control plane's /config shows it.
json::value to_json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  std::string text;
  if (!google::protobuf::util::MessageToJsonString(message, &text, print).ok()) return nullptr;
  return json::parse(text);
}

// The request as the router reads it.
class SyntheticRequest final : public proxy::router::RequestView {
 public:
  SyntheticRequest(const Request& request, std::string authority)
      : request_(request), authority_(std::move(authority)) {
    std::string_view target = request_.target;
    auto question = target.find('?');
    path_ = target.substr(0, question);
    if (question != std::string_view::npos) query_ = target.substr(question + 1);
  }
  std::string_view method() const override { return request_.method; }
  std::string_view path() const override { return path_; }
  std::string_view query() const override { return query_; }
  std::string_view authority() const override { return authority_; }
  std::optional<std::string_view> header(std::string_view name) const override {
    return nth_header(name, 0);
  }
  std::optional<std::string_view> nth_header(std::string_view name,
                                             std::size_t index) const override {
    for (const auto& [field, value] : request_.headers) {
      if (!boost::iequals(field, name)) continue;
      if (index-- == 0) return value;
    }
    return std::nullopt;
  }

 private:
  const Request& request_;
  std::string authority_;
  std::string_view path_, query_;
};

// The Pod named, or the first Pod of the workload named.
Result<const Workload*> find_source(const Mesh& mesh, const Query& query) {
  if (auto it = mesh.workloads.find({query.source_ns, query.source}); it != mesh.workloads.end()) {
    return &it->second;
  }
  for (const auto& [key, workload] : mesh.workloads) {
    if (key.first == query.source_ns && workload.metadata.name() == query.source) return &workload;
  }
  return fail(ErrorCode::kNotFound, "no Pod or workload {}/{} is known", query.source_ns,
              query.source);
}

Result<const ServicePort*> find_port(const Mesh& mesh, const Query& query) {
  std::vector<const ServicePort*> ports;
  for (const auto& sp : mesh.service_ports) {
    if (sp.ns == query.service_ns && sp.service == query.service) ports.push_back(&sp);
  }
  if (ports.empty()) {
    return fail(ErrorCode::kNotFound, "no Service {}/{} is known", query.service_ns, query.service);
  }
  std::vector<std::uint32_t> numbers;
  for (const auto* sp : ports) {
    if (sp->port == query.port || (query.port == 0 && ports.size() == 1)) return sp;
    numbers.push_back(sp->port);
  }
  if (query.port == 0) {
    return fail(ErrorCode::kInvalidArgument, "Service {}/{} has ports {}: name one as {}:PORT",
                query.service_ns, query.service, fmt::join(numbers, ", "), query.service);
  }
  return fail(ErrorCode::kNotFound, "Service {}/{} has no port {} (it has {})", query.service_ns,
              query.service, query.port, fmt::join(numbers, ", "));
}

std::string_view protocol_name(AppProtocol protocol) {
  switch (protocol) {
    case AppProtocol::kHttp:
      return "http";
    case AppProtocol::kHttp2:
      return "http2";
    case AppProtocol::kTcp:
      return "tcp";
    case AppProtocol::kUnknown:
      break;
  }
  return "unknown";
}

json::object source_json(const Workload& source) {
  json::object out{{"pod", source.ns + "/" + source.name},
                   {"workload", to_json(source.metadata)},
                   {"mode", source.local ? "local" : "capture"}};
  if (source.locality.ByteSizeLong() != 0) out["locality"] = to_json(source.locality);
  return out;
}

json::object destination_json(const ServicePort& sp) {
  return {{"service", sp.ns + "/" + sp.service},
          {"port", sp.port},
          {"port_name", sp.port_name},
          {"protocol", protocol_name(sp.protocol)},
          {"cluster_ip", sp.cluster_ip},
          {"authority", sp.domains.empty() ? "" : sp.domains.front()}};
}

// Everything the answer collects on the way.
struct Answer {
  json::object root;
  json::array problems;
  // Each object on the path ("HTTPRoute default/reviews", ...) and what it
  // does there.
  std::map<std::string, std::string> roles;
  std::set<std::string> backend_clusters;  // the clusters of "backends"

  void problem(std::string_view text) { problems.emplace_back(text); }
  void object(const std::string& name, std::string role) {
    auto& known = roles[name];
    if (known.empty()) {
      known = std::move(role);
    } else if (known.find(role) == std::string::npos) {
      known += "; " + role;
    }
  }
};

// Which listener takes the connection and how it is handled: "http" (routed
// by the route table returned), "tcp" (to the Service's cluster as bytes)
// or "none" (passed through or refused; the answer says why).
struct Delivery {
  std::string kind = "none";
  const proxy::router::RouteTable* table = nullptr;
};

Delivery deliver(const proxy::config::Snapshot& snapshot, const Workload& source,
                 const ServicePort& sp, Answer& answer) {
  const proxy::config::Listener* outbound = nullptr;
  for (const auto& listener : snapshot.listeners) {
    if (listener.direction == proxy::config::Direction::kOutbound) outbound = &listener;
  }
  Delivery out;
  if (outbound == nullptr) {
    answer.problem("the source's sidecar has no outbound listener");
    return out;
  }
  const auto listener_text =
      fmt::format("{} {}", outbound->name, proxy::config::address_text(outbound->address));
  if (source.local) {
    // Directory mode: the application's HTTP proxy, routing by authority.
    answer.root["listener"] = listener_text + " (the application's HTTP proxy: http_proxy=http://" +
                              proxy::config::address_text(outbound->address) + ")";
    if (sp.protocol == AppProtocol::kTcp || !outbound->route_table) {
      answer.problem(
          "directory mode routes HTTP only (the outbound listener is the application's HTTP "
          "proxy), so a TCP Service is not reachable through the mesh");
      return out;
    }
    out.kind = "http";
    out.table = &snapshot.route_tables[*outbound->route_table];
    return out;
  }
  if (sp.cluster_ip.empty()) {
    answer.root["listener"] = listener_text;
    answer.problem(fmt::format(
        "Service {}/{} is headless (no cluster IP): the application connects to Pod addresses, "
        "which the sidecar passes through unrouted, so no route or policy applies",
        sp.ns, sp.service));
    return out;
  }
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(sp.cluster_ip, ec);
  const auto* destination =
      ec ? nullptr : outbound->destination_for({address, static_cast<std::uint16_t>(sp.port)});
  answer.root["listener"] =
      fmt::format("{} (captured connections to {}:{})", listener_text, sp.cluster_ip, sp.port);
  if (destination == nullptr) {
    answer.problem(
        fmt::format("the sidecar has no destination {}:{}: it passes the connection "
                    "through unrouted",
                    sp.cluster_ip, sp.port));
    return out;
  }
  if (destination->route_table) {
    out.kind = "http";
    out.table = &snapshot.route_tables[*destination->route_table];
    if (destination->tcp_cluster) {
      answer.root["sniffed"] =
          "the port declares no protocol: the sidecar reads the first bytes, routes HTTP as "
          "below and forwards anything else to the cluster as TCP";
    }
    return out;
  }
  if (destination->tcp_cluster) out.kind = "tcp";
  return out;
}

// "default/reviews.rule1.match0" -> HTTPRoute default/reviews, 1, 0; the
// Service's default route has no HTTPRoute.
struct RouteOrigin {
  std::string object;
  int rule = -1, match = -1;
};

RouteOrigin origin_of(const std::string& route_name) {
  auto at = route_name.rfind(".rule");
  if (at == std::string::npos) return {};
  RouteOrigin out{"HTTPRoute " + route_name.substr(0, at)};
  if (std::sscanf(route_name.c_str() + at, ".rule%d.match%d", &out.rule, &out.match) != 2) {
    return {};
  }
  return out;
}

const mesh::v1::Cluster* config_cluster(const mesh::v1::ProxyConfig& config,
                                        const std::string& name) {
  for (const auto& cluster : config.clusters()) {
    if (cluster.name() == name) return &cluster;
  }
  return nullptr;
}

// A backend of the path: its settings (as /config shows a cluster, less the
// endpoint lists) and how many endpoints it has.
json::object backend_json(const mesh::v1::Cluster& cluster, double share, Answer& answer) {
  auto settings = cluster;
  settings.clear_endpoints();
  settings.clear_not_ready_endpoints();
  json::object out{{"cluster", to_json(settings)},
                   {"share_percent", share},
                   {"endpoints_ready", cluster.endpoints_size()},
                   {"endpoints_not_ready", cluster.not_ready_endpoints_size()}};
  answer.backend_clusters.insert(cluster.name());
  if (!cluster.policy().empty()) {
    // "TrafficPolicy default/reviews (inherited through Service ...)".
    auto object = cluster.policy().substr(0, cluster.policy().find(" ("));
    answer.object(object, "settings of " + cluster.name());
  }
  if (cluster.endpoints_size() == 0) {
    answer.problem(fmt::format(
        "{} has no ready endpoints{}: its requests are answered 503 (no_healthy_upstream){}",
        cluster.name(),
        cluster.not_ready_endpoints_size() > 0
            ? fmt::format(" ({} not ready)", cluster.not_ready_endpoints_size())
            : "",
        cluster.failover_size() > 0 ? " unless a failover backup has some" : ""));
  }
  return out;
}

// The route table's routes for the request, in the order the sidecar tries
// them, and the backends of the one it picks.
void follow_http(const proxy::config::Snapshot& snapshot, const mesh::v1::ProxyConfig& config,
                 const proxy::router::RouteTable& table, const ServicePort& sp,
                 const Request& request, Answer& answer) {
  const SyntheticRequest view(request, sp.domains.empty() ? "" : sp.domains.front());
  const auto* vhost = table.host_for(view.authority());
  if (vhost == nullptr) {
    answer.problem(fmt::format("no virtual host serves {}", view.authority()));
    return;
  }
  // The proto routes, by name, for what the snapshot no longer says
  // (where a timeout came from, an unresolved backend's reason).
  std::map<std::string, const mesh::v1::Route*> protos;
  for (const auto& t : config.route_tables()) {
    for (const auto& v : t.virtual_hosts()) {
      if (v.name() != vhost->name) continue;
      for (const auto& r : v.routes()) protos.emplace(r.name(), &r);
    }
  }
  json::array routes;
  const proxy::router::Route* picked = nullptr;
  for (const auto& route : vhost->routes) {
    const bool matches = route.match.matches(view);
    const char* result = matches ? (picked == nullptr ? "picked" : "shadowed") : "no match";
    if (matches && picked == nullptr) picked = &route;
    auto origin = origin_of(route.name);
    json::object entry{{"name", route.name}, {"result", result}};
    if (auto it = protos.find(route.name); it != protos.end())
      entry["route"] = to_json(*it->second);
    if (!origin.object.empty()) {
      entry["object"] = origin.object;
      entry["rule"] = origin.rule;
      answer.object(origin.object, "routes " + sp.cluster.name());
    }
    routes.push_back(std::move(entry));
  }
  answer.root["routes"] = std::move(routes);
  if (picked == nullptr) {
    answer.problem(fmt::format("no route matches {} {}: the sidecar answers 404 (route_not_found)",
                               request.method, request.target));
    return;
  }
  if (auto origin = origin_of(picked->name); !origin.object.empty()) {
    answer.object(origin.object, fmt::format("rule {} decides this request", origin.rule));
  }
  const auto* forward = std::get_if<proxy::router::Forward>(&picked->action);
  if (forward == nullptr) return;  // a redirect or direct response: no backend
  const auto* proto = protos.count(picked->name) ? protos[picked->name] : nullptr;
  double total = 0;
  for (const auto& c : forward->clusters) total += c.weight;
  json::array backends;
  for (std::size_t i = 0; i < forward->clusters.size(); ++i) {
    const auto& c = forward->clusters[i];
    const double share = total > 0 ? 100.0 * c.weight / total : 0;
    if (c.cluster == proxy::router::kUnresolvedBackend) {
      auto reason =
          proto != nullptr && i < static_cast<std::size_t>(proto->forward().clusters_size())
              ? proto->forward().clusters(static_cast<int>(i)).unresolved()
              : std::string("unresolved");
      backends.push_back(json::object{{"unresolved", reason}, {"share_percent", share}});
      answer.problem(
          fmt::format("{:g}% of these requests go to a backend that does not resolve "
                      "and are answered 500 (backend_not_found): {}",
                      share, reason));
      continue;
    }
    const auto* cluster = config_cluster(config, snapshot.clusters[c.cluster].name);
    if (cluster != nullptr) backends.push_back(backend_json(*cluster, share, answer));
  }
  answer.root["backends"] = std::move(backends);
}

bool names_port(const k8s::ParentReference& parent, const std::string& route_ns,
                const ServicePort& sp) {
  const bool service =
      (parent.group().empty() || parent.group() == "core") && parent.kind() == "Service";
  const auto& ns = parent.namespace_().empty() ? route_ns : parent.namespace_();
  return service && ns == sp.ns && parent.name() == sp.service &&
         (parent.port() == 0 || parent.port() == sp.port);
}

// Routes and policies that name the destination but are not in the path
// (rejected, or another port's), so their conditions say why.
void add_named_objects(const Mesh& mesh, const Sources& sources, const ServicePort& sp,
                       Answer& answer) {
  std::set<std::string> backend_services;  // "namespace/name"
  for (const auto& backend : mesh.service_ports) {
    if (answer.backend_clusters.count(backend.cluster.name()) > 0) {
      backend_services.insert(backend.ns + "/" + backend.service);
    }
  }
  for (const auto& [key, route] : sources.store.http_routes) {
    for (const auto& parent : route->spec().parent_refs()) {
      if (!names_port(parent, key.first, sp)) continue;
      // One that routes is listed already; this one is not in force.
      auto name = fmt::format("HTTPRoute {}/{}", key.first, key.second);
      if (answer.roles.count(name) == 0) {
        answer.object(name, "names " + sp.cluster.name() + " as its parent but is not in force");
      }
      break;
    }
  }
  for (const auto& [key, policy] : sources.store.traffic_policies) {
    const auto& target = policy->spec().target_ref();
    auto service = fmt::format("{}/{}", key.first, target.name());
    if (target.kind() != "Service") continue;
    if (service == sp.ns + "/" + sp.service && (target.port() == 0 || target.port() == sp.port)) {
      answer.object(fmt::format("TrafficPolicy {}/{}", key.first, key.second),
                    "targets Service " + service);
    } else if (backend_services.count(service) > 0) {
      answer.object(fmt::format("TrafficPolicy {}/{}", key.first, key.second),
                    "targets backend Service " + service);
    }
  }
}

json::array objects_json(const Mesh& mesh, const Sources& sources, Answer& answer) {
  json::array out;
  for (const auto& [name, role] : answer.roles) {
    json::array conditions;
    for (const auto& c : mesh.conditions) {
      if (c.object != name) continue;
      conditions.push_back(json::object{{"type", c.type},
                                        {"status", c.ok ? "True" : "False"},
                                        {"reason", c.reason},
                                        {"message", c.message}});
      if (!c.ok)
        answer.problem(fmt::format("{} {}=False {}: {}", name, c.type, c.reason, c.message));
    }
    json::object entry{{"object", name}, {"role", role}, {"conditions", conditions}};
    if (auto at = sources.locations.find(name); at != sources.locations.end()) {
      entry["source"] = at->second;
    }
    out.push_back(std::move(entry));
  }
  return out;
}

// The mesh-wide settings the sidecar runs with, and the MeshConfig they
// came from.
json::object mesh_json(const Mesh& mesh, const Sources& sources, Answer& answer) {
  json::object out;
  bool first = true;
  for (const auto& [key, config] : sources.store.mesh_configs) {
    auto name = "MeshConfig " + key.second;
    answer.object(name, first ? "mesh-wide settings" : "not applied: one MeshConfig applies");
    if (first) out["object"] = name;
    first = false;
  }
  if (mesh.drain_timeout) out["drain_timeout"] = to_json(*mesh.drain_timeout);
  out["istio_metric_names"] = mesh.istio_metric_names;
  if (mesh.tracing) out["tracing"] = to_json(*mesh.tracing);
  if (mesh.access_log) out["access_log"] = to_json(*mesh.access_log);
  return out;
}

// "NAMESPACE/NAME" -> its two halves; no slash: the default namespace.
std::pair<std::string, std::string> split_name(const std::string& text) {
  auto slash = text.find('/');
  if (slash == std::string::npos) return {"default", text};
  return {text.substr(0, slash), text.substr(slash + 1)};
}

}  // namespace

std::string query_string(const Query& query) {
  using admin::percent_encode;
  auto out =
      fmt::format("source={}&service={}&port={}&method={}&target={}",
                  percent_encode(query.source_ns + "/" + query.source),
                  percent_encode(query.service_ns + "/" + query.service), query.port,
                  percent_encode(query.request.method), percent_encode(query.request.target));
  for (const auto& [name, value] : query.request.headers) {
    out += "&header=";
    out += percent_encode(fmt::format("{}:{}", name, value));
  }
  return out;
}

Query parse_query_string(std::string_view text) {
  Query query;
  std::tie(query.source_ns, query.source) = split_name(admin::query_value(text, "source"));
  std::tie(query.service_ns, query.service) = split_name(admin::query_value(text, "service"));
  auto port = admin::query_value(text, "port");
  std::uint32_t number = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (ec == std::errc() && end == port.data() + port.size() && number <= 65535) query.port = number;
  if (auto method = admin::query_value(text, "method"); !method.empty()) {
    query.request.method = method;
  }
  if (auto target = admin::query_value(text, "target"); !target.empty()) {
    query.request.target = target;
  }
  for (const auto& header : admin::query_values(text, "header")) {
    auto colon = header.find(':');
    if (colon == std::string::npos) continue;
    auto value = std::string_view(header).substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    query.request.headers.emplace_back(header.substr(0, colon), std::string(value));
  }
  return query;
}

Result<json::object> why(const Mesh& mesh, const Sources& sources, const Query& query) {
  auto source = find_source(mesh, query);
  if (!source) return tl::unexpected(source.error());
  auto port = find_port(mesh, query);
  if (!port) return tl::unexpected(port.error());
  const auto& sp = **port;
  Answer answer;
  answer.root["source"] = source_json(**source);
  answer.root["destination"] = destination_json(sp);
  json::array headers;
  for (const auto& [name, value] : query.request.headers) {
    headers.push_back(json::array{json::string(name), json::string(value)});
  }
  answer.root["request"] = json::object{
      {"method", query.request.method}, {"target", query.request.target}, {"headers", headers}};
  const auto pod = fmt::format("Pod {}/{}", (*source)->ns, (*source)->name);
  for (const auto& c : mesh.conditions) {
    if (c.object == pod) answer.object(pod, "the source");
  }

  auto config = translate::translate(mesh, {(*source)->name, (*source)->ns});
  if (!config) return tl::unexpected(config.error());
  auto snapshot = proxy::config::translate(*config);
  if (!snapshot) {
    answer.problem("the source's sidecar rejects this configuration: " + snapshot.error().message);
  } else {
    auto delivery = deliver(**snapshot, **source, sp, answer);
    answer.root["delivery"] = delivery.kind;
    if (delivery.kind == "http") {
      follow_http(**snapshot, *config, *delivery.table, sp, query.request, answer);
    } else if (delivery.kind == "tcp") {
      json::array backends;
      backends.push_back(backend_json(sp.cluster, 100, answer));
      answer.root["backends"] = std::move(backends);
    }
  }
  add_named_objects(mesh, sources, sp, answer);
  answer.root["mesh"] = mesh_json(mesh, sources, answer);
  answer.root["objects"] = objects_json(mesh, sources, answer);
  answer.root["authorization"] =
      "not enforced: Weft does not read AuthorizationPolicy yet, so every caller may send this "
      "request";
  answer.root["problems"] = std::move(answer.problems);
  return std::move(answer.root);
}

}  // namespace weft::cp::explain
