#include "proxy/upstream/endpoint_report.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>

#include "common/rfc3339.h"

namespace weft::proxy::upstream {

namespace json = boost::json;

const char* health_label(EndpointHealthState state) {
  switch (state) {
    case EndpointHealthState::kPassing:
      return "passing";
    case EndpointHealthState::kFailingCheck:
      return "failing_check";
    case EndpointHealthState::kEjected:
      return "ejected";
    case EndpointHealthState::kNotReady:
      return "not_ready";
  }
  return "passing";
}

namespace {

template <class T>
T* find_named(std::vector<T>& items, const std::string& key, std::string T::*field) {
  auto found =
      std::find_if(items.begin(), items.end(), [&](const T& item) { return item.*field == key; });
  return found == items.end() ? nullptr : &*found;
}

}  // namespace

void merge(std::vector<ClusterReport>& total, const std::vector<ClusterReport>& worker) {
  for (const auto& cluster : worker) {
    auto* into = find_named(total, cluster.name, &ClusterReport::name);
    if (into == nullptr) {
      total.push_back(cluster);
      continue;
    }
    for (const auto& endpoint : cluster.endpoints) {
      auto* same = find_named(into->endpoints, endpoint.address, &EndpointReport::address);
      if (same == nullptr) {
        into->endpoints.push_back(endpoint);
        continue;
      }
      same->in_flight += endpoint.in_flight;
      same->latency_ms = std::max(same->latency_ms, endpoint.latency_ms);
    }
  }
}

std::string to_json(const std::vector<ClusterReport>& clusters, const ProxyPlace& proxy,
                    std::chrono::system_clock::time_point now) {
  json::array cluster_list;
  for (const auto& cluster : clusters) {
    json::array endpoints;
    for (const auto& e : cluster.endpoints) {
      json::object o{{"address", e.address},
                     {"weight", e.weight},
                     {"health", health_label(e.health)},
                     {"ejections", e.ejections},
                     {"in_flight", e.in_flight}};
      if (e.latency_ms > 0) o["latency_ms"] = std::round(e.latency_ms * 1000) / 1000;
      if (!e.region.empty() || !e.zone.empty()) {
        o["locality"] = json::object{{"region", e.region}, {"zone", e.zone}};
      }
      if (!e.tier.empty()) o["tier"] = e.tier;
      if (e.health == EndpointHealthState::kEjected) {
        // Rounded up: an endpoint still out is never shown as back already.
        o["ejected_until"] = rfc3339(now + std::chrono::ceil<std::chrono::seconds>(e.ejected_for));
      }
      endpoints.push_back(std::move(o));
    }
    cluster_list.push_back(
        json::object{{"name", cluster.name}, {"endpoints", std::move(endpoints)}});
  }
  json::object out;
  if (!proxy.name.empty()) out["proxy"] = proxy.name;
  if (!proxy.region.empty() || !proxy.zone.empty()) {
    out["locality"] = json::object{{"region", proxy.region}, {"zone", proxy.zone}};
  }
  out["clusters"] = std::move(cluster_list);
  return json::serialize(out) + "\n";
}

}  // namespace weft::proxy::upstream
