#include "controlplane/model/objects.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "common/yaml_proto.h"

namespace weft::cp::model {
namespace {

namespace pb = google::protobuf;

// Kubernetes core objects carry many fields the mesh has no use for; every
// message of k8s.* except Gateway API routes is read leniently. Metadata
// and route status are written by Kubernetes and controllers, so they are
// lenient too. Everything users write for the mesh is strict.
bool lenient(const pb::Descriptor& type) {
  if (type.file()->package() != "k8s") return false;
  static constexpr std::array<std::string_view, 3> kStrictPrefixes{"HTTP", "ParentReference",
                                                                   "BackendObjectReference"};
  for (auto prefix : kStrictPrefixes) {
    if (type.name().starts_with(prefix)) return false;
  }
  return type.name() != "Fraction" && type.name() != "LocalObjectReference";
}

// Gateway API fields Weft does not implement yet, by the message that
// would hold them: "not supported yet", not "unknown field", so a user
// knows the manifest is right and the mesh is behind.
bool not_supported(const pb::Descriptor& type, std::string_view field) {
  struct Unsupported {
    std::string_view message, field;
  };
  static constexpr std::array<Unsupported, 4> kUnsupported{{
      {"k8s.HTTPRouteRule", "sessionPersistence"},
      {"k8s.HTTPRouteFilter", "cors"},
      {"k8s.HTTPRouteFilter", "externalAuth"},
      {"k8s.HTTPRouteSpec", "useDefaultGateways"},
  }};
  return std::any_of(kUnsupported.begin(), kUnsupported.end(), [&](const Unsupported& u) {
    return u.message == type.full_name() && u.field == field;
  });
}

// The group part of apiVersion ("" for core "v1").
std::string_view group_of(std::string_view api_version) {
  auto slash = api_version.find('/');
  return slash == std::string_view::npos ? std::string_view{} : api_version.substr(0, slash);
}

// Kinds without a namespace; every other kind we read is namespaced.
bool cluster_scoped(std::string_view kind) {
  return kind == "Namespace" || kind == "Node" || kind == "MeshConfig";
}

// apiVersion, kind and metadata only; everything else is skipped here.
Result<k8s::TypeHeader> read_header(const YAML::Node& document, std::string_view source) {
  k8s::TypeHeader header;
  yaml::ParseOptions any;
  any.lenient = [](const pb::Descriptor&) { return true; };
  any.json_names_only = true;
  if (auto parsed = yaml::parse_node(document, source, header, any); !parsed) {
    return tl::unexpected(parsed.error());
  }
  return header;
}

template <class T>
Result<std::variant<Object, Unrecognized>> parse_as(const YAML::Node& document,
                                                    std::string_view source) {
  T object;
  // As the API server reads it: JSON field names only.
  yaml::ParseOptions options;
  options.lenient = lenient;
  options.json_names_only = true;
  options.not_supported = not_supported;
  if (auto parsed = yaml::parse_node(document, source, object, options); !parsed) {
    return tl::unexpected(parsed.error());
  }
  if (object.metadata().name().empty()) {
    return fail(ErrorCode::kInvalidArgument, "{}: {}: metadata.name is required", source,
                object.kind());
  }
  if (!cluster_scoped(object.kind()) && object.metadata().namespace_().empty()) {
    object.mutable_metadata()->set_namespace_("default");
  }
  return Object(std::move(object));
}

}  // namespace

std::string ObjectKey::text() const {
  return ns.empty() ? fmt::format("{} {}", kind, name) : fmt::format("{} {}/{}", kind, ns, name);
}

ObjectKey key_of(const Object& object) {
  return std::visit(
      [](const auto& o) {
        return ObjectKey{o.kind(), o.metadata().namespace_(), o.metadata().name()};
      },
      object);
}

std::optional<ObjectKey> identify(const YAML::Node& document) {
  auto header = read_header(document, "");
  if (!header || header->kind().empty() || header->metadata().name().empty()) return std::nullopt;
  auto ns = header->metadata().namespace_();
  if (ns.empty() && !cluster_scoped(header->kind())) ns = "default";
  return ObjectKey{header->kind(), ns, header->metadata().name()};
}

Result<std::variant<Object, Unrecognized>> parse_object(const YAML::Node& document,
                                                        std::string_view source) {
  auto read = read_header(document, source);
  if (!read) return tl::unexpected(read.error());
  const auto& header = *read;
  const auto& kind = header.kind();
  auto group = group_of(header.api_version());
  if (header.api_version().empty() || kind.empty()) {
    return fail(ErrorCode::kInvalidArgument, "{}: apiVersion and kind are required", source);
  }
  if (group.empty() && kind == "Service") return parse_as<k8s::Service>(document, source);
  if (group.empty() && kind == "Pod") return parse_as<k8s::Pod>(document, source);
  if (group.empty() && kind == "Namespace") {
    return parse_as<k8s::Namespace>(document, source);
  }
  if (group.empty() && kind == "Node") return parse_as<k8s::Node>(document, source);
  if (group == "discovery.k8s.io" && kind == "EndpointSlice") {
    return parse_as<k8s::EndpointSlice>(document, source);
  }
  if (group == "gateway.networking.k8s.io" && kind == "HTTPRoute") {
    return parse_as<k8s::HTTPRoute>(document, source);
  }
  if (group == "gateway.networking.k8s.io" && kind == "GRPCRoute") {
    return fail(ErrorCode::kInvalidArgument,
                "{}: GRPCRoute {}: not supported yet; a gRPC call is an HTTP/2 POST to "
                "/package.Service/Method, so an HTTPRoute with a path match routes it",
                source, header.metadata().name());
  }
  if (group == "apps" && kind == "Deployment") {
    return parse_as<k8s::Deployment>(document, source);
  }
  if (group == "mesh.weft.io") {
    if (kind == "TrafficPolicy") {
      return parse_as<mesh::v1alpha1::TrafficPolicy>(document, source);
    }
    if (kind == "MeshConfig") return parse_as<mesh::v1alpha1::MeshConfig>(document, source);
    if (kind == "AuthorizationPolicy") {
      return parse_as<mesh::v1alpha1::AuthorizationPolicy>(document, source);
    }
    // Our own group: an unknown kind is a user's mistake, not a foreign object.
    return fail(ErrorCode::kInvalidArgument,
                "{}: {} {}: kind is not supported by this control plane (supported: "
                "TrafficPolicy, MeshConfig, AuthorizationPolicy)",
                source, header.api_version(), kind);
  }
  return Unrecognized{header.api_version(), kind};
}

std::string_view hint_for(const Unrecognized& object) {
  struct Hint {
    std::string_view group_prefix, kind, hint;
  };
  static constexpr Hint kHints[] = {
      {"networking.istio.io/", "VirtualService",
       "routes are Gateway API HTTPRoutes attached to the Service (docs/crds.md)"},
      {"networking.istio.io/", "DestinationRule",
       "connection pool and timeout settings are a TrafficPolicy on the Service (docs/crds.md)"},
      {"security.istio.io/", "PeerAuthentication",
       "mutual TLS is the MeshConfig's spec.mtls.mode (docs/tasks/mtls.md)"},
      {"security.istio.io/", "AuthorizationPolicy",
       "authorization is a mesh.weft.io/v1alpha1 AuthorizationPolicy "
       "(docs/tasks/authorization.md)"},
      {"linkerd.io/", "ServiceProfile",
       "routes and timeouts are Gateway API HTTPRoutes attached to the Service (docs/crds.md)"},
  };
  for (const auto& h : kHints) {
    if (object.kind == h.kind && object.api_version.starts_with(h.group_prefix)) return h.hint;
  }
  return {};
}

void Store::put(Object object) { put(std::make_shared<const Object>(std::move(object))); }

void Store::put(const std::shared_ptr<const Object>& object) {
  auto key = key_of(*object);
  auto name = std::make_pair(key.ns, key.name);
  std::visit(
      [&](const auto& o) {
        using T = std::decay_t<decltype(o)>;
        // Shares the object: the pointer keeps the whole variant alive.
        std::shared_ptr<const T> shared(object, &o);
        if constexpr (std::is_same_v<T, k8s::Service>) services[name] = shared;
        if constexpr (std::is_same_v<T, k8s::EndpointSlice>) endpoint_slices[name] = shared;
        if constexpr (std::is_same_v<T, k8s::Pod>) pods[name] = shared;
        if constexpr (std::is_same_v<T, k8s::Namespace>) namespaces[name] = shared;
        if constexpr (std::is_same_v<T, k8s::Node>) nodes[name] = shared;
        if constexpr (std::is_same_v<T, k8s::HTTPRoute>) http_routes[name] = shared;
        if constexpr (std::is_same_v<T, k8s::Deployment>) deployments[name] = shared;
        if constexpr (std::is_same_v<T, mesh::v1alpha1::TrafficPolicy>) {
          traffic_policies[name] = shared;
        }
        if constexpr (std::is_same_v<T, mesh::v1alpha1::MeshConfig>) mesh_configs[name] = shared;
        if constexpr (std::is_same_v<T, mesh::v1alpha1::AuthorizationPolicy>) {
          authorization_policies[name] = shared;
        }
      },
      *object);
}

std::size_t Store::size() const {
  return services.size() + endpoint_slices.size() + pods.size() + namespaces.size() + nodes.size() +
         http_routes.size() + deployments.size() + traffic_policies.size() + mesh_configs.size() +
         authorization_policies.size();
}

}  // namespace weft::cp::model
