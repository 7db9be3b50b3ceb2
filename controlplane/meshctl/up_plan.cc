#include "controlplane/meshctl/up_plan.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>

#include "controlplane/translate/mesh.h"

namespace weft::meshctl {
namespace {

bool selects(const google::protobuf::Map<std::string, std::string>& selector,
             const google::protobuf::Map<std::string, std::string>& labels) {
  if (selector.empty()) return false;  // a Service without selector has manual endpoints
  for (const auto& [key, value] : selector) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

std::string to_json(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

// The declared container port a Service port sends to: targetPort by
// number, by container port name, or the Service port itself.
std::optional<std::uint32_t> target_port(const k8s::ServicePort& port,
                                         const k8s::Container& container) {
  const auto& target = port.target_port();
  if (target.empty()) return port.port();
  if (std::all_of(target.begin(), target.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return static_cast<std::uint32_t>(std::stoul(target));
  }
  for (const auto& p : container.ports()) {
    if (p.name() == target) return p.container_port();
  }
  return std::nullopt;
}

// The ports a workload had in the previous plan, reused; new ones from
// the allocator.
class Ports {
 public:
  Ports(const LocalWorkload* before, const PortAllocator& next_port)
      : before_(before), next_port_(next_port) {}

  std::uint32_t app(std::uint32_t declared) {
    return reuse(before_ ? &before_->app_ports : nullptr, declared);
  }
  std::uint32_t inbound(std::uint32_t app_port) {
    return reuse(before_ ? &before_->inbound : nullptr, app_port);
  }
  std::uint32_t outbound() { return before_ ? before_->outbound : next_port_(); }
  std::uint32_t admin() { return before_ ? before_->admin : next_port_(); }
  std::uint32_t metrics() { return before_ ? before_->metrics : next_port_(); }

 private:
  std::uint32_t reuse(const std::map<std::uint32_t, std::uint32_t>* ports, std::uint32_t key) {
    if (ports != nullptr) {
      if (auto it = ports->find(key); it != ports->end()) return it->second;
    }
    return next_port_();
  }

  const LocalWorkload* before_;
  const PortAllocator& next_port_;
};

const LocalWorkload* find(const UpPlan* plan, const std::string& name) {
  if (plan == nullptr) return nullptr;
  for (const auto& w : plan->workloads) {
    if (w.name == name) return &w;
  }
  return nullptr;
}

Result<LocalWorkload> workload_for(const k8s::Deployment& deployment, int replica,
                                   const PortAllocator& next_port, const UpPlan* previous) {
  const auto& spec = deployment.spec().template_().spec();
  auto object = fmt::format("Deployment {}/{}", deployment.metadata().namespace_(),
                            deployment.metadata().name());
  if (spec.containers_size() != 1) {
    return fail(ErrorCode::kInvalidArgument,
                "{}: meshctl up runs Deployments with exactly one container, not {}", object,
                spec.containers_size());
  }
  const auto& container = spec.containers(0);
  if (container.command_size() == 0) {
    return fail(ErrorCode::kInvalidArgument,
                "{}: container {} has no command (images cannot run locally; give the command)",
                object, container.name());
  }
  LocalWorkload w;
  w.name = fmt::format("{}-{}", deployment.metadata().name(), replica);
  w.ns = deployment.metadata().namespace_();
  w.service_account = spec.service_account_name().empty() ? "default" : spec.service_account_name();
  Ports ports(find(previous, w.name), next_port);
  for (const auto& port : container.ports()) {
    auto app = ports.app(port.container_port());
    w.app_ports[port.container_port()] = app;
    w.inbound[app] = ports.inbound(app);
  }
  w.outbound = ports.outbound();
  w.admin = ports.admin();
  w.metrics = ports.metrics();
  for (const auto& e : container.env()) w.env[e.name()] = e.value();
  // The first port is PORT, as platforms that assign ports do.
  if (!w.app_ports.empty()) {
    w.env["PORT"] = std::to_string(w.app_ports.at(container.ports(0).container_port()));
  }
  w.env["POD_NAME"] = w.name;
  w.env["POD_NAMESPACE"] = w.ns;
  // Outbound calls go through the sidecar, addressed by Service name.
  w.env["http_proxy"] = w.env["HTTP_PROXY"] = fmt::format("http://127.0.0.1:{}", w.outbound);
  w.env["no_proxy"] = w.env["NO_PROXY"] = "";
  for (const auto& part : container.command()) w.command.push_back(expand(part, w.env));
  for (const auto& part : container.args()) w.command.push_back(expand(part, w.env));
  return w;
}

// The Node the scheduler would give a Deployment's `replica`, when the
// manifests declare Nodes: its nodeName, else the replica's turn over the
// Nodes matching its nodeSelector (all Nodes without one), spreading the
// replicas as a zone topology spread would. Empty without Nodes.
Result<std::string> place(const cp::model::Store& store, const k8s::Deployment& deployment,
                          int replica) {
  const auto& spec = deployment.spec().template_().spec();
  auto object = fmt::format("Deployment {}/{}", deployment.metadata().namespace_(),
                            deployment.metadata().name());
  if (!spec.node_name().empty()) {
    if (!store.nodes.contains({"", spec.node_name()})) {
      return fail(ErrorCode::kInvalidArgument, "{}: nodeName {}: no such Node in the manifests",
                  object, spec.node_name());
    }
    return spec.node_name();
  }
  if (store.nodes.empty() && spec.node_selector().empty()) return std::string();
  std::vector<std::string> fits;  // by name: the map's order
  for (const auto& [key, node] : store.nodes) {
    // Unlike a Service's, an empty nodeSelector selects every Node.
    if (spec.node_selector().empty() || selects(spec.node_selector(), node->metadata().labels())) {
      fits.push_back(key.second);
    }
  }
  if (fits.empty()) {
    std::vector<std::string> wanted;
    for (const auto& [label, value] : spec.node_selector()) {
      wanted.push_back(fmt::format("{}={}", label, value));
    }
    std::sort(wanted.begin(), wanted.end());
    return fail(ErrorCode::kInvalidArgument,
                "{}: no Node in the manifests matches nodeSelector {} (a Pod would stay Pending)",
                object, fmt::join(wanted, ","));
  }
  return fits[static_cast<std::size_t>(replica) % fits.size()];
}

// A pod-template-hash as the Deployment controller would write one: ten
// characters of its alphabet. From the Deployment's name, so that it is
// stable across re-plans (the controller hashes the template instead).
std::string template_hash(const k8s::Deployment& deployment) {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::uint64_t hash = 14695981039346656037ull;  // FNV-1a
  for (char c : deployment.metadata().namespace_() + "/" + deployment.metadata().name()) {
    hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  }
  std::string out;
  for (int i = 0; i < 10; ++i, hash /= kAlphabet.size()) out += kAlphabet[hash % kAlphabet.size()];
  return out;
}

k8s::Pod pod_for(const k8s::Deployment& deployment, const LocalWorkload& w) {
  k8s::Pod pod;
  pod.set_api_version("v1");
  pod.set_kind("Pod");
  auto& meta = *pod.mutable_metadata();
  meta.set_name(w.name);
  meta.set_namespace_(w.ns);
  *meta.mutable_labels() = deployment.spec().template_().metadata().labels();
  // Owned by its Deployment's ReplicaSet, as in a cluster: the request
  // metrics name the workload after the Deployment.
  const auto hash = template_hash(deployment);
  (*meta.mutable_labels())["pod-template-hash"] = hash;
  auto& owner = *meta.add_owner_references();
  owner.set_api_version("apps/v1");
  owner.set_kind("ReplicaSet");
  owner.set_name(fmt::format("{}-{}", deployment.metadata().name(), hash));
  owner.set_controller(true);
  std::string ports =
      fmt::format("outbound={},admin={},metrics={}", w.outbound, w.admin, w.metrics);
  for (const auto& [app, sidecar] : w.inbound) ports += fmt::format(",inbound.{}={}", app, sidecar);
  (*meta.mutable_annotations())[std::string(cp::translate::kLocalPortsAnnotation)] = ports;
  *pod.mutable_spec() = deployment.spec().template_().spec();
  pod.mutable_spec()->set_node_name(w.node);
  for (auto& port : *pod.mutable_spec()->mutable_containers(0)->mutable_ports()) {
    port.set_container_port(w.app_ports.at(port.container_port()));
  }
  pod.mutable_status()->set_pod_ip("127.0.0.1");
  return pod;
}

}  // namespace

std::string expand(std::string_view text, const std::map<std::string, std::string>& env) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out.push_back(text[i]);
      continue;
    }
    if (text[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    auto close = text.find(')', i);
    if (text[i + 1] == '(' && close != std::string_view::npos) {
      auto it = env.find(std::string(text.substr(i + 2, close - i - 2)));
      if (it != env.end()) {
        out += it->second;
        i = close;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

Result<UpPlan> plan_up(const cp::model::Store& store, const PortAllocator& next_port,
                       const UpPlan* previous) {
  UpPlan plan;
  for (const auto& [key, deployment_ptr] : store.deployments) {
    const auto& deployment = *deployment_ptr;
    int replicas = deployment.spec().has_replicas() ? deployment.spec().replicas() : 1;
    for (int replica = 0; replica < replicas; ++replica) {
      auto w = workload_for(deployment, replica, next_port, previous);
      if (!w) return tl::unexpected(w.error());
      auto node = place(store, deployment, replica);
      if (!node) return tl::unexpected(node.error());
      w->node = *node;
      auto pod = pod_for(deployment, *w);
      plan.manifests += "---\n" + to_json(pod) + "\n";
      const auto& container = deployment.spec().template_().spec().containers(0);
      for (const auto& [skey, service] : store.services) {
        if (skey.first != w->ns || !selects(service->spec().selector(), pod.metadata().labels())) {
          continue;
        }
        k8s::EndpointSlice slice;
        slice.set_api_version("discovery.k8s.io/v1");
        slice.set_kind("EndpointSlice");
        slice.mutable_metadata()->set_name(fmt::format("{}-{}", skey.second, w->name));
        slice.mutable_metadata()->set_namespace_(w->ns);
        (*slice.mutable_metadata()->mutable_labels())["kubernetes.io/service-name"] = skey.second;
        slice.set_address_type("IPv4");
        for (const auto& port : service->spec().ports()) {
          auto declared = target_port(port, container);
          if (!declared || !w->app_ports.contains(*declared)) continue;
          auto* out = slice.add_ports();
          out->set_name(port.name());
          out->set_port(w->app_ports.at(*declared));
        }
        auto* endpoint = slice.add_endpoints();
        endpoint->add_addresses("127.0.0.1");
        endpoint->mutable_conditions()->set_ready(true);
        // As the EndpointSlice controller writes them: the Node, and its
        // zone as the slice's hint.
        endpoint->set_node_name(w->node);
        if (!w->node.empty()) {
          const auto& labels = store.nodes.at({"", w->node})->metadata().labels();
          if (auto zone = labels.find(std::string(cp::translate::kZoneLabel));
              zone != labels.end()) {
            endpoint->set_zone(zone->second);
          }
        }
        endpoint->mutable_target_ref()->set_kind("Pod");
        endpoint->mutable_target_ref()->set_name(w->name);
        endpoint->mutable_target_ref()->set_namespace_(w->ns);
        plan.manifests += "---\n" + to_json(slice) + "\n";
      }
      plan.workloads.push_back(std::move(*w));
    }
  }
  return plan;
}

}  // namespace weft::meshctl
