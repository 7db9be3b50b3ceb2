#include "controlplane/server/registry.h"

#include <algorithm>
#include <tuple>

namespace weft::cp::server {
namespace {

prometheus::Counter& counter(prometheus::Registry& registry, const std::string& name,
                             const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

}  // namespace

Metrics::Metrics(prometheus::Registry& registry)
    : connected(prometheus::BuildGauge()
                    .Name("mesh_controlplane_connected_proxies")
                    .Help("Proxies with an open configuration stream")
                    .Register(registry)
                    .Add({})),
      pushes(counter(registry, "mesh_controlplane_pushes_total",
                     "Configuration responses sent to proxies")),
      acks(counter(registry, "mesh_controlplane_acks_total", "Responses proxies accepted")),
      nacks(counter(registry, "mesh_controlplane_nacks_total", "Responses proxies rejected")),
      bad_replies(counter(registry, "mesh_controlplane_bad_requests_total",
                          "Requests ignored: stale nonce or no node name")),
      propagation(
          prometheus::BuildHistogram()
              .Name("mesh_controlplane_propagation_seconds")
              .Help("From a change being seen to the proxy's ACK of it")
              .Register(registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                               0.5, 1, 2.5, 5, 10})),
      mesh_updates(counter(registry, "mesh_controlplane_mesh_updates_total",
                           "Store changes translated and offered to proxies")),
      proxy_auth_family(prometheus::BuildCounter()
                            .Name("mesh_controlplane_proxy_auth_total")
                            .Help("Discovery streams by whether their token proved the Pod they "
                                  "name: accepted, unauthenticated, denied, unavailable")
                            .Register(registry)) {
  for (auto verdict : {Verdict::kAccepted, Verdict::kUnauthenticated, Verdict::kPermissionDenied,
                       Verdict::kUnavailable}) {
    proxy_auth(verdict);  // every label from the start, at 0
  }
}

void Registry::set_mesh(std::shared_ptr<const translate::Mesh> mesh, Clock::time_point seen) {
  std::lock_guard lock(mutex_);
  cache_ = std::make_shared<ConfigCache>(std::move(mesh));
  metrics_.mesh_updates.Increment();
  for (auto* subscriber : subscribers_) subscriber->offer(cache_, seen);
}

std::shared_ptr<const translate::Mesh> Registry::mesh() const {
  std::lock_guard lock(mutex_);
  return cache_->mesh();
}

void Registry::add(Subscriber* subscriber) {
  std::lock_guard lock(mutex_);
  subscribers_.insert(subscriber);
  metrics_.connected.Set(static_cast<double>(subscribers_.size()));
  // Propagation for a new proxy counts from its arrival, not from a
  // change that happened before it existed.
  subscriber->offer(cache_, Clock::now());
}

void Registry::remove(Subscriber* subscriber) {
  std::lock_guard lock(mutex_);
  subscribers_.erase(subscriber);
  metrics_.connected.Set(static_cast<double>(subscribers_.size()));
}

std::vector<SessionStatus> Registry::statuses() const {
  std::lock_guard lock(mutex_);
  std::vector<SessionStatus> out;
  for (const auto* subscriber : subscribers_) out.push_back(subscriber->status());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.ns, a.name) < std::tie(b.ns, b.name);
  });
  return out;
}

std::optional<mesh::v1::ProxyConfig> Registry::desired(const std::string& ns,
                                                       const std::string& name) const {
  std::lock_guard lock(mutex_);
  for (const auto* subscriber : subscribers_) {
    auto status = subscriber->status();
    if (status.ns == ns && status.name == name) {
      auto desired = subscriber->desired();
      if (desired) return *desired;
    }
  }
  return std::nullopt;
}

}  // namespace weft::cp::server
