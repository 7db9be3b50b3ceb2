#include "controlplane/translate/proxy.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>

#include "common/config_delta.h"
#include "common/pod_network.h"

namespace weft::cp::translate {
namespace {

using mesh::v1::Listener;

using pod_network::kAdminPort;
using pod_network::kHealthPort;
using pod_network::kInboundCapturePort;
using pod_network::kMetricsPort;
using pod_network::kOutboundCapturePort;

void set_address(mesh::v1::SocketAddress& out, std::string host, std::uint32_t port) {
  out.set_host(std::move(host));
  out.set_port(port);
}

mesh::v1::VirtualHost virtual_host(const ServicePort& sp) {
  mesh::v1::VirtualHost vhost;
  vhost.set_name(sp.cluster.name());
  for (const auto& domain : sp.domains) vhost.add_domains(domain);
  for (const auto& route : sp.routes) *vhost.add_routes() = route;
  return vhost;
}

// The inbound side: traffic for the workload's own container port, handed to
// the application on loopback. In a pod the proxy dials it from the inbound
// source address, which the capture rules leave alone.
void add_inbound(mesh::v1::ProxyConfig& config, std::uint32_t app_port, bool in_pod) {
  auto name = fmt::format("inbound|{}", app_port);
  auto* cluster = config.add_clusters();
  cluster->set_name(name);
  // The application gets the protocol its client spoke: HTTP/2 (gRPC) in,
  // HTTP/2 out; HTTP/1.1 stays HTTP/1.1.
  cluster->set_protocol(mesh::v1::Cluster::PROTOCOL_SAME_AS_DOWNSTREAM);
  auto* endpoint = cluster->add_endpoints();
  endpoint->set_address("127.0.0.1");
  endpoint->set_port(app_port);
  if (in_pod) cluster->set_source_address(pod_network::kInboundSourceIpv4);
  auto* table = config.add_route_tables();
  table->set_name(name);
  auto* vhost = table->add_virtual_hosts();
  vhost->set_name(name);
  // (A named string: GCC 12 warns falsely on add_domains("*") here.)
  const std::string any_authority = "*";
  *vhost->add_domains() = any_authority;
  auto* route = vhost->add_routes();
  route->set_name("inbound");
  route->mutable_match()->set_prefix("/");
  route->mutable_forward()->add_clusters()->set_name(name);
}

// Directory mode: an explicit outbound listener the application uses as
// its HTTP proxy (http_proxy=http://127.0.0.1:<outbound>), routing by
// authority, and one inbound listener per container port.
void local_listeners(const Mesh& mesh, const Workload& workload, mesh::v1::ProxyConfig& config) {
  const auto& local = *workload.local;
  set_address(*config.mutable_admin()->mutable_address(), "127.0.0.1", local.admin);
  set_address(*config.mutable_admin()->mutable_metrics_address(), "127.0.0.1", local.metrics);

  auto* outbound = config.add_listeners();
  outbound->set_name("outbound");
  outbound->set_direction(Listener::DIRECTION_OUTBOUND);
  set_address(*outbound->mutable_address(), "127.0.0.1", local.outbound);
  outbound->set_route_table("outbound");
  auto* table = config.add_route_tables();
  table->set_name("outbound");
  for (const auto& sp : mesh.service_ports) {
    if (sp.protocol != AppProtocol::kTcp) *table->add_virtual_hosts() = virtual_host(sp);
  }
  for (const auto& [app_port, sidecar_port] : local.inbound) {
    auto* inbound = config.add_listeners();
    inbound->set_name(fmt::format("inbound|{}", app_port));
    inbound->set_direction(Listener::DIRECTION_INBOUND);
    inbound->set_mtls_mode(mesh.mtls_mode);
    set_address(*inbound->mutable_address(), workload.ip.empty() ? "127.0.0.1" : workload.ip,
                sidecar_port);
    inbound->set_route_table(inbound->name());
    inbound->set_application_port(app_port);
    add_inbound(config, app_port, false);
  }
}

// Kubernetes mode: the capture listeners. Outbound traffic is routed by the
// original destination (Service cluster IP and port) to a route table per
// port, or to the Service's cluster as TCP; inbound by destination port.
void capture_listeners(const Mesh& mesh, const Workload& workload, mesh::v1::ProxyConfig& config) {
  set_address(*config.mutable_admin()->mutable_address(), "127.0.0.1", kAdminPort);
  set_address(*config.mutable_admin()->mutable_metrics_address(), "0.0.0.0", kMetricsPort);
  set_address(*config.mutable_admin()->mutable_health_address(), "0.0.0.0", kHealthPort);

  auto* outbound = config.add_listeners();
  outbound->set_name("outbound");
  outbound->set_capture(Listener::CAPTURE_OUTBOUND);
  outbound->set_direction(Listener::DIRECTION_OUTBOUND);
  outbound->set_protocol(Listener::PROTOCOL_AUTO);
  set_address(*outbound->mutable_address(), "0.0.0.0", kOutboundCapturePort);
  std::map<std::uint32_t, mesh::v1::RouteTable> tables;  // per port, like a Service port's DNS
  for (const auto& sp : mesh.service_ports) {
    if (sp.cluster_ip.empty()) continue;
    auto* destination = outbound->add_destinations();
    destination->set_address(sp.cluster_ip);
    destination->set_port(sp.port);
    if (sp.protocol != AppProtocol::kHttp && sp.protocol != AppProtocol::kHttp2) {
      destination->set_tcp_cluster(sp.cluster.name());
    }
    if (sp.protocol == AppProtocol::kTcp) continue;
    auto table_name = fmt::format("outbound|{}", sp.port);
    destination->set_route_table(table_name);
    auto& table = tables[sp.port];
    table.set_name(table_name);
    *table.add_virtual_hosts() = virtual_host(sp);
  }
  for (auto& [port, table] : tables) *config.add_route_tables() = std::move(table);

  if (workload.application_exited) config.mutable_lifecycle()->set_exit(true);

  auto* inbound = config.add_listeners();
  inbound->set_name("inbound");
  inbound->set_capture(Listener::CAPTURE_INBOUND);
  inbound->set_direction(Listener::DIRECTION_INBOUND);
  inbound->set_mtls_mode(mesh.mtls_mode);
  inbound->set_protocol(Listener::PROTOCOL_AUTO);
  set_address(*inbound->mutable_address(), "0.0.0.0", kInboundCapturePort);
  std::set<std::uint32_t> ports(workload.container_ports.begin(), workload.container_ports.end());
  for (auto port : ports) {
    auto* destination = inbound->add_destinations();
    destination->set_port(port);
    destination->set_route_table(fmt::format("inbound|{}", port));
    destination->set_tcp_cluster(fmt::format("inbound|{}", port));
    add_inbound(config, port, true);
  }
}

}  // namespace

namespace {

Result<const Workload*> workload_of(const Mesh& mesh, const ProxyIdentity& proxy) {
  auto it = mesh.workloads.find({proxy.ns, proxy.name});
  if (it == mesh.workloads.end()) {
    return fail(ErrorCode::kNotFound,
                "no Pod {}/{} is known: a sidecar's listeners come from its Pod (directory mode: "
                "a Pod manifest, as `meshctl up` writes)",
                proxy.ns, proxy.name);
  }
  return &it->second;
}

}  // namespace

Result<std::string> translation_key(const Mesh& mesh, const ProxyIdentity& proxy) {
  auto workload = workload_of(mesh, proxy);
  if (!workload) return tl::unexpected(workload.error());
  if ((*workload)->local) return fmt::format("local|{}/{}", proxy.ns, proxy.name);
  std::set<std::uint32_t> ports((*workload)->container_ports.begin(),
                                (*workload)->container_ports.end());
  // Proxies in different zones prefer different endpoints, and each
  // reports its own workload's metrics labels.
  const auto& locality = (*workload)->locality;
  const auto& meta = (*workload)->metadata;
  // Pods with the same metadata may carry different labels, so different
  // AuthorizationPolicies.
  std::vector<std::string> policies;
  for (const auto& policy : (*workload)->authorization) {
    policies.push_back(fmt::format("{}:{}", policy.name(), fmt::join(policy.ports(), ",")));
  }
  return fmt::format("capture|{}{}|{}/{}|{}/{}/{}/{}/{}|{}", fmt::join(ports, ","),
                     (*workload)->application_exited ? "|exit" : "", locality.region(),
                     locality.zone(), meta.namespace_(), meta.name(), meta.app(), meta.version(),
                     meta.service_account(), fmt::join(policies, ";"));
}

Result<mesh::v1::ProxyConfig> translate(const Mesh& mesh, const ProxyIdentity& proxy) {
  auto workload = workload_of(mesh, proxy);
  if (!workload) return tl::unexpected(workload.error());
  auto it = mesh.workloads.find({proxy.ns, proxy.name});
  mesh::v1::ProxyConfig config;
  if (it->second.local) {
    local_listeners(mesh, it->second, config);
  } else {
    capture_listeners(mesh, it->second, config);
  }
  for (const auto& sp : mesh.service_ports) *config.add_clusters() = sp.cluster;
  if (mesh.drain_timeout) *config.mutable_drain()->mutable_timeout() = *mesh.drain_timeout;
  if (it->second.locality.ByteSizeLong() != 0) *config.mutable_locality() = it->second.locality;
  *config.mutable_workload() = it->second.metadata;
  if (mesh.istio_metric_names) config.mutable_metrics()->set_istio_compatible_names(true);
  if (mesh.tracing) *config.mutable_tracing() = *mesh.tracing;
  if (mesh.access_log) *config.mutable_access_log() = *mesh.access_log;
  for (const auto& policy : it->second.authorization)
    *config.mutable_authorization()->add_policies() = policy;
  config::canonicalize(config);
  return config;
}

}  // namespace weft::cp::translate
