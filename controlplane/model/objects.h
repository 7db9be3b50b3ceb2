// The objects the control plane reads, whatever their source: typed
// Kubernetes and Gateway API objects and our own kinds, parsed from YAML
// documents (directory source) with the kind picked from apiVersion + kind.
#pragma once

#include <yaml-cpp/node/node.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

#include "common/result.h"
#include "k8s/resources.pb.h"
#include "mesh/v1alpha1/policy.pb.h"

namespace weft::cp::model {

using Object = std::variant<k8s::Service, k8s::EndpointSlice, k8s::Pod, k8s::Namespace, k8s::Node,
                            k8s::HTTPRoute, k8s::Deployment, mesh::v1alpha1::TrafficPolicy,
                            mesh::v1alpha1::MeshConfig, mesh::v1alpha1::AuthorizationPolicy>;

// Identity of an object: "HTTPRoute default/reviews". Cluster-scoped
// objects have an empty namespace.
struct ObjectKey {
  std::string kind;
  std::string ns;
  std::string name;

  bool operator<(const ObjectKey& o) const {
    return std::tie(kind, ns, name) < std::tie(o.kind, o.ns, o.name);
  }
  bool operator==(const ObjectKey& o) const = default;
  std::string text() const;
};

ObjectKey key_of(const Object& object);

// A document that is valid YAML but not an object we read.
struct Unrecognized {
  std::string api_version;
  std::string kind;
};

// For another mesh's kinds (Istio's VirtualService, Linkerd's
// ServiceProfile, ...): what to write for Weft instead; empty otherwise.
std::string_view hint_for(const Unrecognized& object);

// The identity a document claims in its apiVersion/kind/metadata, even when
// the rest of it does not parse, so a bad edit can keep the object's last
// good version. Nullopt without a kind or name.
std::optional<ObjectKey> identify(const YAML::Node& document);

// Parses one YAML document. `source` (a file name) prefixes errors, which
// carry line, column and field path. Namespaced objects without a
// namespace get "default", as kubectl would give them.
Result<std::variant<Object, Unrecognized>> parse_object(const YAML::Node& document,
                                                        std::string_view source);

// Every object the sources know, one map per kind, keyed by
// namespace/name. Immutable once built: a change builds a new Store, which
// shares every object it did not change with the previous one (a route
// edit in a mesh of 10,000 Pods copies no Pod).
struct Store {
  template <class T>
  using ByName = std::map<std::pair<std::string, std::string>, std::shared_ptr<const T>>;

  ByName<k8s::Service> services;
  ByName<k8s::EndpointSlice> endpoint_slices;
  ByName<k8s::Pod> pods;
  ByName<k8s::Namespace> namespaces;
  ByName<k8s::Node> nodes;  // cluster scoped: namespace ""
  ByName<k8s::HTTPRoute> http_routes;
  ByName<k8s::Deployment> deployments;
  ByName<mesh::v1alpha1::TrafficPolicy> traffic_policies;
  ByName<mesh::v1alpha1::MeshConfig> mesh_configs;  // cluster scoped: namespace ""
  ByName<mesh::v1alpha1::AuthorizationPolicy> authorization_policies;

  void put(Object object);
  void put(const std::shared_ptr<const Object>& object);
  std::size_t size() const;
};

}  // namespace weft::cp::model
