#include "controlplane/translate/policy.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "common/duration.h"
#include "common/retry_on.h"
#include "controlplane/translate/timeouts.h"

namespace weft::cp::translate {
namespace {

// One accepted policy: its settings, parsed once, and where it went.
struct Policy {
  std::string object;  // "TrafficPolicy default/reviews"
  std::optional<std::chrono::nanoseconds> connect, idle;
  TimeoutDefaults timeouts;                    // for the routes of its targets
  std::optional<mesh::v1::RetryPolicy> retry;  // likewise
  std::optional<mesh::v1::RetryBudget> retry_budget;
  std::uint32_t max_idle_per_endpoint = 0;
  mesh::v1::CircuitBreakers circuit_breakers;
  std::optional<mesh::v1::Cluster::LoadBalancer> load_balancer;
  std::optional<std::chrono::nanoseconds> slow_start;
  std::optional<mesh::v1::HashPolicy> hash;
  std::optional<mesh::v1::LocalityBalancing> locality;
  std::optional<mesh::v1::OutlierDetection> outlier;
  std::optional<std::uint32_t> panic_threshold;
  std::optional<mesh::v1::HealthCheck> health_check;
  std::vector<std::size_t> targets;  // service port indexes it names
  // Each target's backups, as `targets` is indexed; its own clusters only:
  // a backup Service is no backup for the backends of the target's routes.
  std::vector<std::vector<mesh::v1::Failover>> failover;
  std::vector<std::string> applied, inherited, shadowed;  // cluster names, for its condition
  bool reported = false;  // its Accepted condition is written (a rejected edit's)

  void apply_to(mesh::v1::Cluster& cluster, const std::string& source) const {
    if (connect) *cluster.mutable_connect_timeout() = to_proto(*connect);
    if (idle) *cluster.mutable_pool()->mutable_idle_timeout() = to_proto(*idle);
    if (max_idle_per_endpoint > 0) {
      cluster.mutable_pool()->set_max_idle_per_endpoint(max_idle_per_endpoint);
    }
    if (retry_budget) *cluster.mutable_retry_budget() = *retry_budget;
    if (circuit_breakers.ByteSizeLong() != 0) {
      *cluster.mutable_circuit_breakers() = circuit_breakers;
    }
    if (load_balancer) cluster.set_load_balancer(*load_balancer);
    if (hash) *cluster.mutable_hash_policy() = *hash;
    if (locality) *cluster.mutable_locality() = *locality;
    if (slow_start) *cluster.mutable_slow_start_window() = to_proto(*slow_start);
    if (outlier) *cluster.mutable_outlier_detection() = *outlier;
    if (panic_threshold) cluster.set_panic_threshold(*panic_threshold);
    if (health_check) *cluster.mutable_health_check() = *health_check;
    cluster.set_policy(source);
  }
  // Sets what `route` does not set itself.
  void apply_to(mesh::v1::Route& route) const {
    timeouts.fill(route);
    if (retry && !route.has_retry()) *route.mutable_retry() = *retry;
  }
};

Rejected invalid(std::string message) {
  return Rejected{"Accepted", "InvalidValue", std::move(message)};
}

// `retries` into the policy's route retry policy, per-try timeout and
// cluster retry budget.
tl::expected<void, Rejected> parse_retries(const mesh::v1alpha1::RetryPolicySpec& in, Policy& out) {
  mesh::v1::RetryPolicy retry;
  const std::uint32_t retries = in.has_attempts() ? in.attempts() : 2;
  if (retries > 9)
    return tl::unexpected(invalid(fmt::format("retries.attempts {} is over 9", retries)));
  retry.set_attempts(retries + 1);
  for (const auto& name : in.retry_on()) {
    if (!retry_on_index(name)) {
      return tl::unexpected(invalid(fmt::format("retries.retryOn '{}' is not one of {}", name,
                                                fmt::join(kRetryOnConditions, ", "))));
    }
    retry.add_retry_on(name);
  }
  if (in.retry_on().empty()) {
    for (const char* name : {"connect-failure", "refused-stream", "reset", "gateway-error"}) {
      retry.add_retry_on(name);
    }
  }
  for (auto code : in.retriable_status_codes()) {
    if (code < 400 || code > 599) {
      return tl::unexpected(
          invalid(fmt::format("retries.retriableStatusCodes {} is not 400 to 599", code)));
    }
    retry.add_retriable_status_codes(code);
  }
  for (auto [name, text, field] : {std::tuple{"backoff.baseInterval", &in.backoff().base_interval(),
                                              retry.mutable_base_interval()},
                                   std::tuple{"backoff.maxInterval", &in.backoff().max_interval(),
                                              retry.mutable_max_interval()}}) {
    if (text->empty()) continue;
    auto parsed = parse_duration(*text);
    if (!parsed) {
      return tl::unexpected(invalid(fmt::format("retries.{} '{}' is not a duration", name, *text)));
    }
    *field = to_proto(*parsed);
  }
  if (!in.per_try_timeout().empty()) {
    auto parsed = parse_duration(in.per_try_timeout());
    if (!parsed) {
      return tl::unexpected(invalid(
          fmt::format("retries.perTryTimeout '{}' is not a duration", in.per_try_timeout())));
    }
    if (!out.timeouts.per_try) out.timeouts.per_try = *parsed;
  }
  retry.set_origin(out.timeouts.origin);
  out.retry = std::move(retry);
  if (in.has_budget()) {
    const auto& budget = in.budget();
    if ((budget.has_percent() && (budget.percent() < 0 || budget.percent() > 1000)) ||
        (budget.has_min_retries_per_second() && budget.min_retries_per_second() < 0)) {
      return tl::unexpected(
          invalid("retries.budget: percent must be 0 to 1000 and minRetriesPerSecond at least 0"));
    }
    mesh::v1::RetryBudget out_budget;
    if (budget.has_percent()) out_budget.set_percent(budget.percent());
    if (budget.has_min_retries_per_second()) {
      out_budget.set_min_retries_per_second(budget.min_retries_per_second());
    }
    out.retry_budget = out_budget;
  }
  return {};
}

// `loadBalancer.hash`: exactly one key.
tl::expected<mesh::v1::HashPolicy, Rejected> parse_hash(const mesh::v1alpha1::HashPolicySpec& in) {
  mesh::v1::HashPolicy out;
  int keys = 0;
  if (!in.header().empty()) {
    out.set_header(in.header());
    ++keys;
  }
  if (in.has_cookie()) {
    const auto& cookie = in.cookie();
    if (cookie.name().empty())
      return tl::unexpected(invalid("loadBalancer.hash.cookie.name is required"));
    auto* c = out.mutable_cookie();
    c->set_name(cookie.name());
    c->set_path(cookie.path());
    if (!cookie.ttl().empty()) {
      auto ttl = parse_duration(cookie.ttl());
      if (!ttl) {
        return tl::unexpected(invalid(
            fmt::format("loadBalancer.hash.cookie.ttl '{}' is not a duration", cookie.ttl())));
      }
      *c->mutable_ttl() = to_proto(*ttl);
    }
    ++keys;
  }
  if (in.source_ip()) {
    out.set_source_ip(true);
    ++keys;
  }
  if (!in.query_parameter().empty()) {
    out.set_query_parameter(in.query_parameter());
    ++keys;
  }
  if (keys != 1) {
    return tl::unexpected(invalid(fmt::format(
        "loadBalancer.hash needs exactly one of header, cookie, sourceIP, queryParameter ({} set)",
        keys)));
  }
  return out;
}

// `loadBalancer` into the cluster's algorithm, hash key and slow-start window.
tl::expected<void, Rejected> parse_load_balancer(const mesh::v1alpha1::LoadBalancerPolicy& in,
                                                 Policy& out) {
  using Cluster = mesh::v1::Cluster;
  static constexpr std::pair<std::string_view, Cluster::LoadBalancer> kTypes[] = {
      {"PeakEWMA", Cluster::LB_PEAK_EWMA}, {"RoundRobin", Cluster::LB_ROUND_ROBIN},
      {"Random", Cluster::LB_RANDOM},      {"LeastRequest", Cluster::LB_LEAST_REQUEST},
      {"RingHash", Cluster::LB_RING_HASH}, {"Maglev", Cluster::LB_MAGLEV}};
  if (!in.type().empty()) {
    for (const auto& [name, value] : kTypes) {
      if (in.type() == name) out.load_balancer = value;
    }
    if (!out.load_balancer) {
      return tl::unexpected(
          invalid(fmt::format("loadBalancer.type '{}' is not one of PeakEWMA, RoundRobin, Random, "
                              "LeastRequest, RingHash, Maglev",
                              in.type())));
    }
  }
  const bool hashing =
      out.load_balancer == Cluster::LB_RING_HASH || out.load_balancer == Cluster::LB_MAGLEV;
  if (in.has_hash() && !hashing) {
    return tl::unexpected(invalid("loadBalancer.hash is for type RingHash or Maglev"));
  }
  if (hashing) {
    auto hash = parse_hash(in.hash());
    if (!hash) return tl::unexpected(hash.error());
    out.hash = std::move(*hash);
  }
  const auto& window = in.slow_start().window();
  if (!window.empty()) {
    out.slow_start = parse_duration(window);
    if (!out.slow_start) {
      return tl::unexpected(
          invalid(fmt::format("loadBalancer.slowStart.window '{}' is not a duration", window)));
    }
  }
  if (in.has_locality()) {
    const auto& locality = in.locality();
    mesh::v1::LocalityBalancing balancing;
    balancing.set_disabled(locality.has_enabled() && !locality.enabled());
    if (locality.has_spillover_threshold()) {
      const auto threshold = locality.spillover_threshold();
      if (threshold < 1 || threshold > 100) {
        return tl::unexpected(invalid(
            fmt::format("loadBalancer.locality.spilloverThreshold {} is not 1 to 100", threshold)));
      }
      balancing.set_spillover_threshold(threshold);
    }
    out.locality = balancing;
  }
  return {};
}

// `outlierDetection` into the cluster's.
tl::expected<void, Rejected> parse_outlier(const mesh::v1alpha1::OutlierDetectionPolicy& in,
                                           Policy& out) {
  mesh::v1::OutlierDetection outlier;
  outlier.set_consecutive_5xx(in.consecutive_5xx());
  outlier.set_consecutive_gateway_errors(in.consecutive_gateway_errors());
  outlier.set_consecutive_local_origin_failures(in.consecutive_local_origin_failures());
  if (in.has_max_ejection_percent()) {
    if (in.max_ejection_percent() > 100) {
      return tl::unexpected(invalid(fmt::format(
          "outlierDetection.maxEjectionPercent {} is over 100", in.max_ejection_percent())));
    }
    outlier.set_max_ejection_percent(in.max_ejection_percent());
  }
  for (auto [name, text, field] :
       {std::tuple{"interval", &in.interval(), outlier.mutable_interval()},
        std::tuple{"baseEjectionTime", &in.base_ejection_time(),
                   outlier.mutable_base_ejection_time()},
        std::tuple{"maxEjectionTime", &in.max_ejection_time(),
                   outlier.mutable_max_ejection_time()}}) {
    if (text->empty()) continue;
    auto parsed = parse_duration(*text);
    if (!parsed) {
      return tl::unexpected(
          invalid(fmt::format("outlierDetection.{} '{}' is not a duration", name, *text)));
    }
    *field = to_proto(*parsed);
  }
  if (in.has_success_rate()) {
    const auto& rate = in.success_rate();
    auto* ejection = outlier.mutable_success_rate();
    ejection->set_minimum_hosts(rate.minimum_hosts() != 0 ? rate.minimum_hosts() : 5);
    ejection->set_request_volume(rate.request_volume() != 0 ? rate.request_volume() : 100);
    double factor = rate.has_stdev_factor() ? rate.stdev_factor() : 1.9;
    // No one means a hundred standard deviations: that is Envoy's
    // thousandths (success_rate_stdev_factor: 1900).
    if (factor >= 100) factor /= 1000;
    if (!(factor >= 0)) {  // negative or NaN
      return tl::unexpected(invalid(fmt::format(
          "outlierDetection.successRate.stdevFactor {} is not a positive number", factor)));
    }
    ejection->set_stdev_factor(factor);
  }
  out.outlier = std::move(outlier);
  return {};
}

// `healthCheck`: exactly one kind, durations, thresholds.
tl::expected<mesh::v1::HealthCheck, Rejected> parse_health_check(
    const mesh::v1alpha1::HealthCheckPolicy& in) {
  mesh::v1::HealthCheck out;
  const int kinds = (in.has_http() ? 1 : 0) + (in.has_grpc() ? 1 : 0) + (in.has_tcp() ? 1 : 0);
  if (kinds != 1) {
    return tl::unexpected(
        invalid(fmt::format("healthCheck needs exactly one of http, grpc, tcp ({} set)", kinds)));
  }
  for (auto [name, text, field] : {std::tuple{"interval", &in.interval(), out.mutable_interval()},
                                   std::tuple{"timeout", &in.timeout(), out.mutable_timeout()}}) {
    if (text->empty()) continue;
    auto parsed = parse_duration(*text);
    if (!parsed || *parsed <= std::chrono::nanoseconds::zero()) {
      return tl::unexpected(
          invalid(fmt::format("healthCheck.{} '{}' is not a positive duration", name, *text)));
    }
    *field = to_proto(*parsed);
  }
  out.set_healthy_threshold(in.healthy_threshold());
  out.set_unhealthy_threshold(in.unhealthy_threshold());
  if (in.has_tcp()) out.mutable_tcp();
  // Any service name: "" asks after the server as a whole.
  if (in.has_grpc()) out.mutable_grpc()->set_service(in.grpc().service());
  if (in.has_http()) {
    const auto& http = in.http();
    if (!http.path().empty() && http.path().front() != '/') {
      return tl::unexpected(
          invalid(fmt::format("healthCheck.http.path '{}' does not start with /", http.path())));
    }
    for (auto status : http.expected_statuses()) {
      if (status < 100 || status > 599) {
        return tl::unexpected(invalid(
            fmt::format("healthCheck.http.expectedStatuses {} is not an HTTP status", status)));
      }
    }
    *out.mutable_http()->mutable_expected_statuses() = http.expected_statuses();
    out.mutable_http()->set_path(http.path());
  }
  return out;
}

// The port of Service `name` in `ns` that backs up `target`: the one with
// the same number, else the Service's only port.
std::optional<std::size_t> backup_port(const Mesh& mesh, const ServicePort& target,
                                       const std::string& name) {
  std::vector<std::size_t> ports;
  for (std::size_t i = 0; i < mesh.service_ports.size(); ++i) {
    const auto& sp = mesh.service_ports[i];
    if (sp.ns != target.ns || sp.service != name) continue;
    if (sp.port == target.port) return i;
    ports.push_back(i);
  }
  if (ports.size() == 1) return ports.front();
  return std::nullopt;
}

// `failover.to` into each target's backups, which must exist.
tl::expected<void, Rejected> parse_failover(const mesh::v1alpha1::FailoverPolicy& in,
                                            const Mesh& mesh, Policy& out) {
  for (auto index : out.targets) {
    const auto& target = mesh.service_ports[index];
    auto& backups = out.failover.emplace_back();
    for (const auto& to : in.to()) {
      if (to.name() == target.service) {
        return tl::unexpected(
            invalid(fmt::format("failover.to names the target Service {} itself", to.name())));
      }
      auto port = backup_port(mesh, target, to.name());
      if (!port) {
        const bool exists = std::any_of(
            mesh.service_ports.begin(), mesh.service_ports.end(),
            [&](const auto& sp) { return sp.ns == target.ns && sp.service == to.name(); });
        return tl::unexpected(Rejected{
            "Accepted", "BackendNotFound",
            exists ? fmt::format("failover Service {}/{} has no port {} (nor a single port)",
                                 target.ns, to.name(), target.port)
                   : fmt::format("failover Service {}/{} does not exist", target.ns, to.name())});
      }
      auto& backup = backups.emplace_back();
      backup.set_cluster(mesh.service_ports[*port].cluster.name());
      backup.set_name(to.name());
    }
  }
  return {};
}

// Parses a policy and finds its targets.
tl::expected<Policy, Rejected> accept(const mesh::v1alpha1::TrafficPolicy& policy,
                                      const Mesh& mesh) {
  const auto& meta = policy.metadata();
  Policy out;
  out.object = model::ObjectKey{"TrafficPolicy", meta.namespace_(), meta.name()}.text();
  const auto& target = policy.spec().target_ref();
  if (!target.group().empty() || target.kind() != "Service") {
    return tl::unexpected(Rejected{
        "Accepted", "InvalidTargetRef",
        fmt::format("targetRef must be a core Service, not {} {}", target.group(), target.kind())});
  }
  const auto& pool = policy.spec().connection_pool();
  auto timeouts = parse_timeouts(policy.spec().timeouts(),
                                 fmt::format("policy {}/{}", meta.namespace_(), meta.name()));
  if (!timeouts) return tl::unexpected(timeouts.error());
  out.timeouts = std::move(*timeouts);
  for (auto [text, parsed] : {std::pair{&pool.connect_timeout(), &out.connect},
                              std::pair{&pool.idle_timeout(), &out.idle}}) {
    if (text->empty()) continue;
    *parsed = parse_duration(*text);
    if (!*parsed) {
      return tl::unexpected(
          Rejected{"Accepted", "InvalidValue", fmt::format("'{}' is not a duration", *text)});
    }
  }
  out.max_idle_per_endpoint = pool.max_idle_per_endpoint();
  out.circuit_breakers.set_max_requests(pool.max_requests());
  out.circuit_breakers.set_max_retries(pool.max_retries());
  out.circuit_breakers.set_max_connections(pool.max_connections());
  out.circuit_breakers.set_max_pending_requests(pool.max_pending_requests());
  if (policy.spec().has_panic_threshold()) {
    if (policy.spec().panic_threshold() > 100) {
      return tl::unexpected(invalid(
          fmt::format("panicThreshold {} is over 100 percent", policy.spec().panic_threshold())));
    }
    out.panic_threshold = policy.spec().panic_threshold();
  }
  if (policy.spec().has_outlier_detection()) {
    auto outlier = parse_outlier(policy.spec().outlier_detection(), out);
    if (!outlier) return tl::unexpected(outlier.error());
  }
  if (policy.spec().has_health_check()) {
    auto check = parse_health_check(policy.spec().health_check());
    if (!check) return tl::unexpected(check.error());
    out.health_check = std::move(*check);
  }
  if (policy.spec().has_load_balancer()) {
    auto balancer = parse_load_balancer(policy.spec().load_balancer(), out);
    if (!balancer) return tl::unexpected(balancer.error());
  }
  if (policy.spec().has_retries()) {
    auto retries = parse_retries(policy.spec().retries(), out);
    if (!retries) return tl::unexpected(retries.error());
  }
  for (std::size_t i = 0; i < mesh.service_ports.size(); ++i) {
    const auto& sp = mesh.service_ports[i];
    if (sp.ns != meta.namespace_() || sp.service != target.name()) continue;
    if (target.port() != 0 && sp.port != target.port()) continue;
    out.targets.push_back(i);
  }
  if (out.targets.empty()) {
    return tl::unexpected(
        Rejected{"Accepted", "TargetNotFound",
                 fmt::format("Service {}/{}{} does not exist", meta.namespace_(), target.name(),
                             target.port() ? fmt::format(" port {}", target.port()) : "")});
  }
  auto failover = parse_failover(policy.spec().failover(), mesh, out);
  if (!failover) return tl::unexpected(failover.error());
  return out;
}

// The policies that apply: each accepted one, or for a rejected one its
// last accepted version (from `previous`) when that still applies.
std::vector<Policy> accepted_policies(const model::Store& store, const Mesh* previous, Mesh& mesh) {
  std::vector<Policy> policies;
  for (const auto& [key, policy] : store.traffic_policies) {
    auto evaluated = evaluate_or_last_accepted(
        model::ObjectKey{"TrafficPolicy", key.first, key.second}.text(), policy,
        previous == nullptr ? nullptr : &previous->accepted.traffic_policies, key, mesh.conditions,
        [&](const mesh::v1alpha1::TrafficPolicy& p) { return accept(p, mesh); });
    if (!evaluated.value) continue;
    evaluated.value->reported = evaluated.used != policy;
    mesh.accepted.traffic_policies[key] = evaluated.used;
    policies.push_back(std::move(*evaluated.value));
  }
  return policies;
}

// The cluster has `p`'s settings already, its own or inherited.
bool carries(const mesh::v1::Cluster& cluster, const Policy& p) {
  return cluster.policy() == p.object || cluster.policy().starts_with(p.object + " (");
}

std::optional<std::size_t> port_of_cluster(const Mesh& mesh, const std::string& cluster) {
  for (std::size_t i = 0; i < mesh.service_ports.size(); ++i) {
    if (mesh.service_ports[i].cluster.name() == cluster) return i;
  }
  return std::nullopt;
}

std::string condition_message(const Policy& p) {
  auto message = fmt::format("applies to {}", fmt::join(p.applied, ", "));
  if (!p.inherited.empty()) {
    message +=
        fmt::format("; inherited by the backends of its routes: {}", fmt::join(p.inherited, ", "));
  }
  if (!p.shadowed.empty()) {
    message += fmt::format("; not inherited by {} (it carries another policy)",
                           fmt::join(p.shadowed, ", "));
  }
  return message;
}

}  // namespace

void apply_policies(const model::Store& store, const Mesh* previous, Mesh& mesh) {
  auto policies = accepted_policies(store, previous, mesh);
  std::set<std::size_t> covered;  // ports whose cluster has a policy (own or inherited)
  // Their own policy first: it wins over any inherited one.
  for (auto& p : policies) {
    for (std::size_t t = 0; t < p.targets.size(); ++t) {
      auto& sp = mesh.service_ports[p.targets[t]];
      p.apply_to(sp.cluster, p.object);
      if (!p.failover[t].empty()) {
        sp.cluster.clear_failover();
        for (const auto& backup : p.failover[t]) *sp.cluster.add_failover() = backup;
      }
      const auto index = p.targets[t];
      p.applied.push_back(sp.cluster.name());
      covered.insert(index);
      for (auto& route : sp.routes) p.apply_to(route);
    }
  }
  for (auto& p : policies) {
    for (auto index : p.targets) {
      const auto& parent = mesh.service_ports[index];
      auto via =
          fmt::format("{} (inherited through Service {}/{})", p.object, parent.ns, parent.service);
      for (const auto& route : parent.routes) {
        for (const auto& backend : route.forward().clusters()) {
          auto found = port_of_cluster(mesh, backend.name());
          if (!found || *found == index) continue;
          auto& cluster = mesh.service_ports[*found].cluster;
          if (cluster.policy() == via) continue;  // another route of the same parent
          if (!covered.insert(*found).second) {
            const bool listed =
                std::find(p.shadowed.begin(), p.shadowed.end(), cluster.name()) != p.shadowed.end();
            if (!carries(cluster, p) && !listed) {
              p.shadowed.push_back(cluster.name());
            }
            continue;
          }
          p.apply_to(cluster, via);
          p.inherited.push_back(cluster.name());
        }
      }
    }
  }
  for (const auto& p : policies) {
    if (p.reported) continue;  // a rejected edit: its condition says the last version serves
    mesh.conditions.push_back({p.object, "Accepted", true, "Accepted", condition_message(p)});
  }
}

}  // namespace weft::cp::translate
