#include "controlplane/status/status.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <boost/json.hpp>

#include "common/rfc3339.h"
#include "controlplane/explain/why.h"

namespace weft::cp::status {
namespace {

namespace json = boost::json;

json::object proxy_json(const server::SessionStatus& s) {
  json::object o;
  o["name"] = s.name;
  o["namespace"] = s.ns;
  o["proxy_version"] = s.proxy_version;
  o["connected_since"] = rfc3339(s.connected_since);
  o["version_desired"] = s.version_desired;
  o["version_sent"] = s.version_sent;
  o["version_acked"] = s.version_acked;
  o["in_sync"] = s.in_sync();
  o["pushes"] = s.pushes;
  o["acks"] = s.acks;
  o["nacks"] = s.nacks;
  if (!s.last_nack_error.empty()) {
    o["last_nack"] = json::object{{"version", s.last_nack_version}, {"error", s.last_nack_error}};
  }
  if (!s.translate_error.empty()) o["error"] = s.translate_error;
  return o;
}

// An object as Kubernetes would show it (JSON field names).
json::value object_json(const google::protobuf::Message& object) {
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(object, &out).ok()) return nullptr;
  return json::parse(out);
}

// Every object of one kind: namespace, name and, unless `names_only`, the
// object itself.
template <class T>
json::array objects_json(const model::Store::ByName<T>& objects, bool names_only = false) {
  json::array out;
  for (const auto& [key, object] : objects) {
    json::object entry{{"namespace", key.first}, {"name", key.second}};
    if (!names_only) entry["object"] = object_json(*object);
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace

StatusService::StatusService(server::Registry& registry, prometheus::Registry& metrics,
                             bool debug_remote)
    : registry_(registry),
      metrics_(metrics),
      debug_remote_(debug_remote),
      debug_refused_(prometheus::BuildCounter()
                         .Name("mesh_controlplane_debug_refused_total")
                         .Help("Requests for /config or /debug/* refused because they came "
                               "from off the host (see --debug-remote)")
                         .Register(metrics)
                         .Add({})),
      out_of_sync_(prometheus::BuildGauge()
                       .Name("mesh_controlplane_proxies_out_of_sync")
                       .Help("Connected proxies whose acknowledged configuration is not the "
                             "current one: pending, rejected (NACK) or none can be made")
                       .Register(metrics)
                       .Add({})) {}

bool StatusService::may_debug(const admin::Request& request) const {
  auto peer = request.peer;
  if (peer.is_v6() && peer.to_v6().is_v4_mapped()) {
    peer = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, peer.to_v6());
  }
  return debug_remote_ || peer.is_loopback();
}

void StatusService::set_source(SourceState state) {
  std::lock_guard lock(mutex_);
  source_ = std::move(state);
}

std::string StatusService::status_json() const {
  json::object root;
  json::array proxies;
  for (const auto& s : registry_.statuses()) proxies.push_back(proxy_json(s));
  root["proxies"] = std::move(proxies);
  std::lock_guard lock(mutex_);
  json::array errors;
  for (const auto& e : source_.errors) {
    errors.push_back(json::object{{"file", e.file}, {"object", e.object}, {"message", e.message}});
  }
  json::array ignored(source_.ignored.begin(), source_.ignored.end());
  root["manifests"] = json::object{{"objects", source_.objects},
                                   {"loads", source_.generation},
                                   {"errors", std::move(errors)},
                                   {"ignored", std::move(ignored)}};
  json::array conditions;
  for (const auto& c : source_.conditions) {
    json::object condition{{"object", c.object},
                           {"type", c.type},
                           {"status", c.ok ? "True" : "False"},
                           {"reason", c.reason},
                           {"message", c.message}};
    if (auto at = source_.locations.find(c.object); at != source_.locations.end()) {
      condition["source"] = at->second;
    }
    conditions.push_back(std::move(condition));
  }
  root["conditions"] = std::move(conditions);
  return json::serialize(root) + "\n";
}

std::string StatusService::store_json() const {
  std::shared_ptr<const model::Store> store;
  {
    std::lock_guard lock(mutex_);
    store = source_.store;
  }
  if (!store) return "{}\n";
  json::object root;
  root["services"] = objects_json(store->services);
  root["endpointSlices"] = objects_json(store->endpoint_slices);
  root["httpRoutes"] = objects_json(store->http_routes);
  root["trafficPolicies"] = objects_json(store->traffic_policies);
  root["meshConfigs"] = objects_json(store->mesh_configs);
  root["authorizationPolicies"] = objects_json(store->authorization_policies);
  root["namespaces"] = objects_json(store->namespaces, true);
  root["nodes"] = objects_json(store->nodes);
  root["deployments"] = objects_json(store->deployments, true);
  // Names only: 10,000 Pods in full would make this page megabytes.
  root["pods"] = objects_json(store->pods, true);
  return json::serialize(root) + "\n";
}

admin::Response StatusService::config(const std::string& query) const {
  auto proxy = admin::query_value(query, "proxy");
  auto slash = proxy.find('/');
  auto ns = slash == std::string::npos ? std::string("default") : proxy.substr(0, slash);
  auto name = slash == std::string::npos ? proxy : proxy.substr(slash + 1);
  auto config = registry_.desired(ns, name);
  if (!config) {
    return {404, "application/json",
            fmt::format("{{\"error\": \"no connected proxy {}/{}\"}}\n", ns, name)};
  }
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(*config, &out, print);
  if (!status.ok()) return {500, "text/plain", std::string(status.message()) + "\n"};
  return {200, "application/json", out + "\n"};
}

admin::Response StatusService::why(const std::string& query) const {
  std::shared_ptr<const model::Store> store;
  std::shared_ptr<const translate::Mesh> mesh;
  std::map<std::string, std::string> locations;
  {
    std::lock_guard lock(mutex_);
    store = source_.store;
    mesh = source_.mesh;
    locations = source_.locations;
  }
  if (!store || !mesh) return {503, "application/json", "{\"error\": \"not loaded yet\"}\n"};
  auto asked = explain::parse_query_string(query);
  auto answer = explain::why(*mesh, {*store, locations}, asked);
  if (!answer) {
    return {answer.error().code == ErrorCode::kNotFound ? 404u : 400u, "application/json",
            json::serialize(json::object{{"error", answer.error().message}}) + "\n"};
  }
  // Whether the source's sidecar runs the configuration the answer was
  // worked out from.
  const auto pod = json::value_to<std::string>(answer->at("source").at("pod"));
  (*answer)["sidecar"] = "not connected: nothing is enforced for this Pod until its sidecar is";
  for (const auto& s : registry_.statuses()) {
    if (s.ns + "/" + s.name == pod) (*answer)["sidecar"] = proxy_json(s);
  }
  return {200, "application/json", json::serialize(*answer) + "\n"};
}

admin::Response StatusService::handle(const admin::Request& request) const {
  // Liveness: the process serves HTTP. Never waits on a source, so a slow
  // first Kubernetes list does not get the control plane restarted.
  if (request.path == "/healthz") return {200, "text/plain", "ALIVE\n"};
  if (request.path == "/ready") {
    std::lock_guard lock(mutex_);
    if (source_.generation == 0) return {503, "text/plain", "LOADING\n"};
    return {200, "text/plain", "READY\n"};
  }
  if (request.path == "/status") return {200, "application/json", status_json()};
  if (request.path == "/config" || request.path.starts_with("/debug/")) {
    if (!may_debug(request)) {
      debug_refused_.Increment();
      return {403, "text/plain",
              request.path +
                  ": only from this host (use kubectl port-forward), or start "
                  "mesh-controlplane with --debug-remote\n"};
    }
  }
  if (request.path == "/config") return config(request.query);
  if (request.path == "/debug/store") return {200, "application/json", store_json()};
  if (request.path == "/debug/why") return why(request.query);
  if (request.path == "/metrics") {
    const auto statuses = registry_.statuses();
    out_of_sync_.Set(static_cast<double>(std::count_if(
        statuses.begin(), statuses.end(), [](const auto& s) { return !s.in_sync(); })));
    return {200, "text/plain; version=0.0.4",
            prometheus::TextSerializer().Serialize(metrics_.Collect())};
  }
  return {404, "text/plain",
          "not found: /healthz /ready /status /config?proxy=NS/NAME /debug/store "
          "/debug/why?source=NS/NAME&service=NS/NAME /metrics\n"};
}

}  // namespace weft::cp::status
