#include "controlplane/status/object_status.h"

#include <fmt/format.h>

#include <boost/json.hpp>

namespace weft::cp::status {
namespace {

namespace json = boost::json;

struct Target {
  std::string path;
  std::int64_t generation = 0;
  const k8s::HTTPRoute* route = nullptr;  // routes report per parent
};

// The objects that get status: routes and our kinds, by the name their
// conditions carry (ObjectKey::text(), as translate/mesh.cc names them).
std::map<std::string, Target> targets(const model::Store& store) {
  std::map<std::string, Target> out;
  for (const auto& [key, route] : store.http_routes) {
    out[model::ObjectKey{"HTTPRoute", key.first, key.second}.text()] = {
        fmt::format("/apis/gateway.networking.k8s.io/v1/namespaces/{}/httproutes/{}/status",
                    key.first, key.second),
        route->metadata().generation(), route.get()};
  }
  for (const auto& [key, policy] : store.traffic_policies) {
    out[model::ObjectKey{"TrafficPolicy", key.first, key.second}.text()] = {
        fmt::format("/apis/mesh.weft.io/v1alpha1/namespaces/{}/trafficpolicies/{}/status",
                    key.first, key.second),
        policy->metadata().generation()};
  }
  for (const auto& [key, policy] : store.authorization_policies) {
    out[model::ObjectKey{"AuthorizationPolicy", key.first, key.second}.text()] = {
        fmt::format("/apis/mesh.weft.io/v1alpha1/namespaces/{}/authorizationpolicies/{}/status",
                    key.first, key.second),
        policy->metadata().generation()};
  }
  for (const auto& [key, config] : store.mesh_configs) {
    out[model::ObjectKey{"MeshConfig", key.first, key.second}.text()] = {
        fmt::format("/apis/mesh.weft.io/v1alpha1/meshconfigs/{}/status", key.second),
        config->metadata().generation()};
  }
  return out;
}

json::object status_body(const Target& target, const json::array& conditions) {
  if (target.route == nullptr) return {{"status", {{"conditions", conditions}}}};
  json::array parents;
  for (const auto& ref : target.route->spec().parent_refs()) {
    if (ref.kind() != "Service") continue;
    json::object parent_ref{{"group", ref.group()}, {"kind", ref.kind()}, {"name", ref.name()}};
    if (ref.port() != 0) parent_ref["port"] = ref.port();
    parents.push_back(json::object{{"parentRef", std::move(parent_ref)},
                                   {"controllerName", kControllerName},
                                   {"conditions", conditions}});
  }
  return {{"status", {{"parents", std::move(parents)}}}};
}

}  // namespace

std::vector<StatusPatch> status_patches(const translate::Mesh& mesh, const model::Store& store,
                                        std::string_view now, WrittenState& written) {
  std::map<std::string, std::vector<const translate::Condition*>> by_object;
  for (const auto& c : mesh.conditions) by_object[c.object].push_back(&c);
  std::vector<StatusPatch> out;
  WrittenState next;
  for (const auto& [object, target] : targets(store)) {
    auto& previous = written[object];
    auto& state = next[object];
    json::array conditions;
    for (const auto* c : by_object[object]) {
      std::string status = c->ok ? "True" : "False";
      auto [old_status, old_time] = previous.conditions[c->type];
      auto time = old_status == status ? old_time : std::string(now);
      state.conditions[c->type] = {status, time};
      conditions.push_back(json::object{{"type", c->type},
                                        {"status", status},
                                        {"reason", c->reason},
                                        {"message", c->message},
                                        {"observedGeneration", target.generation},
                                        {"lastTransitionTime", time}});
    }
    state.body = json::serialize(status_body(target, conditions));
    if (state.body != previous.body) out.push_back({object, target.path, state.body});
  }
  written = std::move(next);  // objects that are gone are forgotten
  return out;
}

}  // namespace weft::cp::status
