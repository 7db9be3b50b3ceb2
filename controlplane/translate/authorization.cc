#include "controlplane/translate/authorization.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "controlplane/ca/workload_certificates.h"

namespace weft::cp::translate {
namespace {

using Policy = mesh::v1::AuthorizationPolicy;

Rejected invalid(std::string message) {
  return Rejected{"Accepted", "InvalidValue", std::move(message)};
}

// A pattern the sidecar matches: exact, "prefix*", or "*". A '*' anywhere
// else would read as a glob the sidecar does not have.
bool valid_pattern(std::string_view pattern) {
  auto star = pattern.find('*');
  return !pattern.empty() && (star == std::string_view::npos || star == pattern.size() - 1);
}

bool valid_name(std::string_view name) {
  return !name.empty() && name.size() <= 253 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
}

// The caller fields of one `from` entry. `at` is its field path.
tl::expected<mesh::v1::AuthorizationPeer, Rejected> compile_source(
    const mesh::v1alpha1::AuthorizationSource& source, std::string_view trust_domain,
    const std::string& at) {
  mesh::v1::AuthorizationPeer peer;
  auto accounts =
      [&](const auto& list, std::string_view field,
          google::protobuf::RepeatedPtrField<std::string>& out) -> std::optional<Rejected> {
    for (int i = 0; i < list.size(); ++i) {
      const std::string& text = list[i];
      auto slash = text.find('/');
      if (slash == std::string::npos || !valid_name(text.substr(0, slash)) ||
          !valid_name(text.substr(slash + 1))) {
        return invalid(fmt::format("{}.{}[{}]: '{}' is not namespace/name", at, field, i, text));
      }
      *out.Add() = ca::spiffe_id(trust_domain, text.substr(0, slash), text.substr(slash + 1));
    }
    return std::nullopt;
  };
  auto namespaces =
      [&](const auto& list, std::string_view field,
          google::protobuf::RepeatedPtrField<std::string>& out) -> std::optional<Rejected> {
    for (int i = 0; i < list.size(); ++i) {
      if (!valid_name(list[i])) {
        return invalid(fmt::format("{}.{}[{}]: '{}' is not a namespace", at, field, i, list[i]));
      }
      *out.Add() = fmt::format("spiffe://{}/ns/{}/sa/*", trust_domain, list[i]);
    }
    return std::nullopt;
  };
  auto identities =
      [&](const auto& list, std::string_view field,
          google::protobuf::RepeatedPtrField<std::string>& out) -> std::optional<Rejected> {
    for (int i = 0; i < list.size(); ++i) {
      const std::string& text = list[i];
      if (!valid_pattern(text) || (text != "*" && !text.starts_with("spiffe://"))) {
        return invalid(fmt::format(
            "{}.{}[{}]: '{}' is not a SPIFFE ID pattern (spiffe://..., a prefix ending in *, or *)",
            at, field, i, text));
      }
      *out.Add() = text;
    }
    return std::nullopt;
  };
  std::optional<Rejected> wrong;
  if (!wrong)
    wrong = accounts(source.service_accounts(), "serviceAccounts", *peer.mutable_principals());
  if (!wrong) {
    wrong = accounts(source.not_service_accounts(), "notServiceAccounts",
                     *peer.mutable_not_principals());
  }
  if (!wrong) wrong = identities(source.identities(), "identities", *peer.mutable_principals());
  if (!wrong) {
    wrong = identities(source.not_identities(), "notIdentities", *peer.mutable_not_principals());
  }
  if (!wrong) wrong = namespaces(source.namespaces(), "namespaces", *peer.mutable_namespaces());
  if (!wrong) {
    wrong = namespaces(source.not_namespaces(), "notNamespaces", *peer.mutable_not_namespaces());
  }
  if (wrong) return tl::unexpected(*wrong);
  if (source.unauthenticated()) {
    if (peer.principals_size() > 0 || peer.namespaces_size() > 0) {
      return tl::unexpected(invalid(fmt::format(
          "{}: unauthenticated matches plaintext callers, which have no service account, "
          "namespace or identity: put those in another entry",
          at)));
    }
    peer.set_unauthenticated(true);
  }
  return peer;
}

bool valid_method(std::string_view method) {
  return !method.empty() && std::all_of(method.begin(), method.end(), [](char c) {
    return std::isupper(static_cast<unsigned char>(c));
  });
}

tl::expected<mesh::v1::AuthorizationOperation, Rejected> compile_operation(
    const mesh::v1alpha1::AuthorizationOperationSpec& spec, const std::string& at) {
  mesh::v1::AuthorizationOperation out;
  auto methods =
      [&](const auto& list, std::string_view field,
          google::protobuf::RepeatedPtrField<std::string>& to) -> std::optional<Rejected> {
    for (int i = 0; i < list.size(); ++i) {
      if (!valid_method(list[i])) {
        return invalid(fmt::format("{}.{}[{}]: '{}' is not an HTTP method in upper case", at, field,
                                   i, list[i]));
      }
      *to.Add() = list[i];
    }
    return std::nullopt;
  };
  auto paths = [&](const auto& list, std::string_view field,
                   google::protobuf::RepeatedPtrField<std::string>& to) -> std::optional<Rejected> {
    for (int i = 0; i < list.size(); ++i) {
      const std::string& text = list[i];
      if (!valid_pattern(text) || (text != "*" && !text.starts_with('/')) ||
          text.find('?') != std::string::npos) {
        return invalid(
            fmt::format("{}.{}[{}]: '{}' is not a path pattern (/exact, /prefix/*, or *; no query)",
                        at, field, i, text));
      }
      *to.Add() = text;
    }
    return std::nullopt;
  };
  auto ports = [&](const auto& list, std::string_view field,
                   google::protobuf::RepeatedField<std::uint32_t>& to) -> std::optional<Rejected> {
    for (int i = 0; i < list.size(); ++i) {
      if (list[i] == 0 || list[i] > 65535) {
        return invalid(fmt::format("{}.{}[{}]: {} is not a port", at, field, i, list[i]));
      }
      to.Add(list[i]);
    }
    return std::nullopt;
  };
  std::optional<Rejected> wrong = methods(spec.methods(), "methods", *out.mutable_methods());
  if (!wrong) wrong = methods(spec.not_methods(), "notMethods", *out.mutable_not_methods());
  if (!wrong) wrong = paths(spec.paths(), "paths", *out.mutable_paths());
  if (!wrong) wrong = paths(spec.not_paths(), "notPaths", *out.mutable_not_paths());
  if (!wrong) wrong = ports(spec.ports(), "ports", *out.mutable_ports());
  if (!wrong) wrong = ports(spec.not_ports(), "notPorts", *out.mutable_not_ports());
  if (wrong) return tl::unexpected(*wrong);
  return out;
}

// The container port a Service port leads to on `workload`: its targetPort
// by number or by the name of a container port, else the port itself.
std::optional<std::uint32_t> target_port(const k8s::ServicePort& port, const Workload& workload) {
  const auto& target = port.target_port();
  if (target.empty()) return port.port();
  std::uint32_t number = 0;
  auto [end, ec] = std::from_chars(target.data(), target.data() + target.size(), number);
  if (ec == std::errc() && end == target.data() + target.size()) return number;
  auto it = workload.named_ports.find(target);
  if (it == workload.named_ports.end()) return std::nullopt;
  return it->second;
}

bool selects(const k8s::Service& service, const Workload& workload) {
  const auto& selector = service.spec().selector();
  if (selector.empty()) return false;  // endpoints kept by hand: no Pods of its own
  return std::all_of(selector.begin(), selector.end(), [&](const auto& label) {
    auto it = workload.labels.find(label.first);
    return it != workload.labels.end() && it->second == label.second;
  });
}

// Who the policy covers: a Pod's key and the ports (none: every port).
struct Covered {
  std::pair<std::string, std::string> workload;
  std::vector<std::uint32_t> ports;
};

tl::expected<std::vector<Covered>, Rejected> covered_by(
    const mesh::v1alpha1::AuthorizationPolicy& policy, const model::Store& store,
    const Mesh& mesh) {
  const auto& ref = policy.spec().target_ref();
  const auto& ns = policy.metadata().namespace_();
  std::vector<Covered> out;
  if (ref.kind() == "Namespace") {
    for (const auto& [key, workload] : mesh.workloads) {
      if (key.first == ns) out.push_back({key, {}});
    }
    return out;
  }
  auto it = store.services.find({ns, ref.name()});
  if (it == store.services.end()) {
    return tl::unexpected(Rejected{"Accepted", "TargetNotFound",
                                   fmt::format("no Service {}/{}: the policy covers no workload "
                                               "until it exists",
                                               ns, ref.name())});
  }
  const auto& service = *it->second;
  std::vector<const k8s::ServicePort*> ports;
  for (const auto& port : service.spec().ports()) {
    if (ref.port() == 0 || port.port() == ref.port()) ports.push_back(&port);
  }
  if (ports.empty()) {
    return tl::unexpected(
        invalid(fmt::format("Service {}/{} has no port {}", ns, ref.name(), ref.port())));
  }
  for (const auto& [key, workload] : mesh.workloads) {
    if (key.first != ns || !selects(service, workload)) continue;
    Covered covered{key, {}};
    for (const auto* port : ports) {
      if (auto number = target_port(*port, workload)) covered.ports.push_back(*number);
    }
    std::sort(covered.ports.begin(), covered.ports.end());
    covered.ports.erase(std::unique(covered.ports.begin(), covered.ports.end()),
                        covered.ports.end());
    if (!covered.ports.empty()) out.push_back(std::move(covered));
  }
  return out;
}

std::string accepted_message(const std::vector<Covered>& covered) {
  if (covered.empty()) return "covers no workload yet";
  std::vector<std::string> names;
  for (const auto& c : covered) {
    if (names.size() == 5) break;
    names.push_back(fmt::format("{}/{}", c.workload.first, c.workload.second));
  }
  auto more = covered.size() > names.size()
                  ? fmt::format(" and {} more", covered.size() - names.size())
                  : std::string();
  return fmt::format("covers {} workload{}: {}{}", covered.size(), covered.size() == 1 ? "" : "s",
                     fmt::join(names, ", "), more);
}

}  // namespace

tl::expected<Policy, Rejected> compile_authorization(
    const mesh::v1alpha1::AuthorizationPolicy& policy, std::string_view trust_domain) {
  const auto& spec = policy.spec();
  const auto& ref = spec.target_ref();
  const auto& ns = policy.metadata().namespace_();
  if (!ref.group().empty() || (ref.kind() != "Service" && ref.kind() != "Namespace")) {
    return tl::unexpected(invalid(
        fmt::format("spec.targetRef: {}{}{} is not a target (a Service, or the policy's Namespace)",
                    ref.group(), ref.group().empty() ? "" : "/",
                    ref.kind().empty() ? "(no kind)" : ref.kind())));
  }
  if (ref.name().empty()) return tl::unexpected(invalid("spec.targetRef.name is required"));
  if (ref.kind() == "Namespace" && (ref.name() != ns || ref.port() != 0)) {
    return tl::unexpected(invalid(fmt::format(
        "spec.targetRef: a Namespace target is the policy's own namespace ({}), without a port",
        ns)));
  }
  Policy out;
  out.set_name(fmt::format("{}/{}", ns, policy.metadata().name()));
  if (spec.action() == "DENY") {
    out.set_action(Policy::ACTION_DENY);
  } else if (!spec.action().empty() && spec.action() != "ALLOW") {
    return tl::unexpected(
        invalid(fmt::format("spec.action: '{}' is not ALLOW or DENY", spec.action())));
  }
  for (int r = 0; r < spec.rules_size(); ++r) {
    const auto& rule = spec.rules(r);
    auto* compiled = out.add_rules();
    for (int f = 0; f < rule.from_size(); ++f) {
      auto peer =
          compile_source(rule.from(f), trust_domain, fmt::format("spec.rules[{}].from[{}]", r, f));
      if (!peer) return tl::unexpected(peer.error());
      *compiled->add_from() = std::move(*peer);
    }
    for (int t = 0; t < rule.to_size(); ++t) {
      auto operation = compile_operation(rule.to(t), fmt::format("spec.rules[{}].to[{}]", r, t));
      if (!operation) return tl::unexpected(operation.error());
      *compiled->add_to() = std::move(*operation);
    }
  }
  return out;
}

void apply_authorization(const model::Store& store, const Mesh* previous, Mesh& mesh) {
  for (const auto& [key, policy_ptr] : store.authorization_policies) {
    auto object = model::ObjectKey{"AuthorizationPolicy", key.first, key.second}.text();
    auto evaluated = evaluate_or_last_accepted(
        object, policy_ptr,
        previous == nullptr ? nullptr : &previous->accepted.authorization_policies, key,
        mesh.conditions, [&](const mesh::v1alpha1::AuthorizationPolicy& policy) {
          return compile_authorization(policy, mesh.trust_domain);
        });
    if (!evaluated.value) continue;
    mesh.accepted.authorization_policies[key] = evaluated.used;
    auto covered = covered_by(*evaluated.used, store, mesh);
    if (!covered) {
      if (evaluated.used != policy_ptr) continue;  // its rejection is its condition already
      mesh.conditions.push_back(
          {object, covered.error().type, false, covered.error().reason, covered.error().message});
      continue;
    }
    if (evaluated.used == policy_ptr) {
      mesh.conditions.push_back({object, "Accepted", true, "Accepted", accepted_message(*covered)});
    }
    for (auto& c : *covered) {
      auto& enforced = mesh.workloads[c.workload].authorization.emplace_back(*evaluated.value);
      for (auto port : c.ports) enforced.add_ports(port);
    }
  }
}

}  // namespace weft::cp::translate
