#include "controlplane/meshctl/proxy_config_view.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <boost/json.hpp>
#include <chrono>

#include "common/duration.h"
#include "common/json_access.h"

namespace weft::meshctl {
namespace {

namespace json = boost::json;

// The proxy's defaults (proxy/config/snapshot.h), for values left unset.
constexpr std::string_view kDefaultConnectTimeout = "1s";
constexpr std::string_view kDefaultMaxIdle = "64";
constexpr std::string_view kDefaultPoolIdleTimeout = "60s";

using json_access::member;

using json_access::items_at;
using json_access::text_at;

// "0.250s" (protobuf JSON) -> "250ms"; "2s" stays.
std::string readable(const std::string& duration) {
  auto parsed = parse_duration(duration);
  if (!parsed) return duration;
  using std::chrono::duration_cast;
  auto ms = duration_cast<std::chrono::milliseconds>(*parsed);
  if (ms.count() % 1000 == 0) return fmt::format("{}s", ms.count() / 1000);
  return fmt::format("{}ms", ms.count());
}

std::string or_default(const std::string& value, std::string_view fallback) {
  return value.empty() ? fmt::format("{} (default)", fallback) : value;
}

std::string address(const json::value& a) {
  if (!a.is_object()) return "";
  return text_at(a, "host") + ":" + text_at(a, "port");
}

}  // namespace

std::string match_text(const json::value& match) {
  std::string out;
  for (std::string_view kind : {"exact", "prefix", "regex"}) {
    if (auto path = text_at(match, kind); !path.empty()) out = fmt::format("{} {}", kind, path);
  }
  if (auto method = text_at(match, "method"); !method.empty()) out += " " + method;
  for (const auto& h : items_at(match, "headers")) {
    out +=
        fmt::format(" {}:{}", text_at(h, "name"),
                    text_at(h, "exact").empty() ? "~" + text_at(h, "regex") : text_at(h, "exact"));
  }
  for (const auto& q : items_at(match, "query_params")) {
    out +=
        fmt::format(" ?{}={}", text_at(q, "name"),
                    text_at(q, "exact").empty() ? "~" + text_at(q, "regex") : text_at(q, "exact"));
  }
  return out.empty() ? "any" : out;
}

std::string action_text(const json::value& route) {
  if (const auto& forward = member(route, "forward"); forward.is_object()) {
    const auto& clusters = items_at(forward, "clusters");
    std::string out;
    for (const auto& c : clusters) {
      auto name = text_at(c, "unresolved").empty() ? text_at(c, "name") : "(unresolved: 500)";
      if (!out.empty()) out += ", ";
      out += clusters.size() > 1 ? fmt::format("{}={}", name, text_at(c, "weight")) : name;
    }
    return "forward " + out;
  }
  if (const auto& redirect = member(route, "redirect"); redirect.is_object()) {
    return "redirect " + or_default(text_at(redirect, "status"), "302");
  }
  return "direct response " + text_at(member(route, "direct_response"), "status");
}

// One of a route's timeouts and where it came from: "2s (route)",
// "none (0s, policy default/api)". Absent is `absent` (none, or for idle the
// listener's).
std::string timeout_text(const json::value& route, std::string_view field,
                         std::string_view origin_field, std::string_view absent) {
  auto timeout = text_at(route, field);
  if (timeout.empty()) return std::string(absent);
  auto origin = text_at(member(route, "timeout_origins"), origin_field);
  auto parsed = parse_duration(timeout);
  if (parsed && parsed->count() == 0) {
    return origin.empty() ? "none (0s)" : fmt::format("none (0s, {})", origin);
  }
  return origin.empty() ? readable(timeout) : fmt::format("{} ({})", readable(timeout), origin);
}

// A route's retry policy: "3 tries on 5xx, reset (policy default/reviews)".
std::string retry_text(const json::value& route) {
  const auto& retry = member(route, "retry");
  if (!retry.is_object()) return "none";
  auto attempts = text_at(retry, "attempts");
  if (attempts.empty() || attempts == "1" || attempts == "0") return "none";
  std::string on;
  for (const auto& condition : items_at(retry, "retry_on")) {
    on += (on.empty() ? "" : ", ") + std::string(condition.as_string());
  }
  auto origin = text_at(retry, "origin");
  return fmt::format("{} tries on {}{}", attempts, on.empty() ? "nothing" : on,
                     origin.empty() ? "" : fmt::format(" ({})", origin));
}

std::string protocol_text(const json::value& cluster) {
  auto protocol = text_at(cluster, "protocol");
  if (protocol == "PROTOCOL_HTTP2") return "http2";
  if (protocol == "PROTOCOL_SAME_AS_DOWNSTREAM") return "same as downstream";
  return "http1";
}

// "LeastRequest, slow start 30s"; PeakEWMA is the default.
std::string balancer_text(const json::value& cluster) {
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"LB_ROUND_ROBIN", "RoundRobin"},
      {"LB_RANDOM", "Random"},
      {"LB_LEAST_REQUEST", "LeastRequest"},
      {"LB_RING_HASH", "RingHash"},
      {"LB_MAGLEV", "Maglev"}};
  std::string out = "PeakEWMA";
  const auto algorithm = text_at(cluster, "load_balancer");
  for (const auto& [proto, name] : kNames) {
    if (algorithm == proto) out = name;
  }
  const auto& hash = member(cluster, "hash_policy");
  if (auto header = text_at(hash, "header"); !header.empty()) out += " on header " + header;
  if (auto query = text_at(hash, "query_parameter"); !query.empty()) {
    out += " on query parameter " + query;
  }
  if (text_at(hash, "source_ip") == "true") out += " on source IP";
  if (auto cookie = text_at(member(hash, "cookie"), "name"); !cookie.empty()) {
    out += " on cookie " + cookie;
  }
  const auto window = text_at(cluster, "slow_start_window");
  if (!window.empty()) out += fmt::format(", slow start {}", readable(window));
  const auto panic = text_at(cluster, "panic_threshold");
  if (!panic.empty()) out += fmt::format(", panic below {}%", panic);
  return out;
}

// The backups in order ("reviews-backup"); "-" without failover.
std::string failover_text(const json::value& cluster) {
  std::vector<std::string> names;
  for (const auto& backup : items_at(cluster, "failover")) names.push_back(text_at(backup, "name"));
  return names.empty() ? "-" : fmt::format("{}", fmt::join(names, ", "));
}

// "100 requests, 3 retries, 10 connections, 50 pending" at most; "-"
// without limits.
std::string breaker_text(const json::value& cluster) {
  const auto& limits = member(cluster, "circuit_breakers");
  std::vector<std::string> parts;
  for (auto [field, noun] : {std::pair{"max_requests", "requests"},
                             {"max_retries", "retries"},
                             {"max_connections", "connections"},
                             {"max_pending_requests", "pending"}}) {
    const auto value = text_at(limits, field);
    if (!value.empty() && value != "0") parts.push_back(fmt::format("{} {}", value, noun));
  }
  return parts.empty() ? "-" : fmt::format("{}", fmt::join(parts, ", "));
}

tl::expected<ProxyRef, std::string> parse_proxy_ref(std::string_view arg,
                                                    const std::string& namespace_flag) {
  ProxyRef ref;
  if (auto slash = arg.find('/'); slash != std::string_view::npos) {
    ref = {std::string(arg.substr(0, slash)), std::string(arg.substr(slash + 1))};
  } else if (!namespace_flag.empty()) {
    ref = {namespace_flag, std::string(arg)};
  } else if (auto dot = arg.rfind('.'); dot != std::string_view::npos) {
    ref = {std::string(arg.substr(dot + 1)), std::string(arg.substr(0, dot))};
  } else {
    ref = {"default", std::string(arg)};
  }
  if (ref.ns.empty() || ref.name.empty()) {
    return tl::unexpected(fmt::format("'{}' is not NAME, NAME.NAMESPACE or NAMESPACE/NAME", arg));
  }
  if (!namespace_flag.empty() && ref.ns != namespace_flag) {
    return tl::unexpected(
        fmt::format("'{}' is in namespace {}, but -n says {}", arg, ref.ns, namespace_flag));
  }
  return ref;
}

Rows listener_rows(const json::value& config) {
  Rows rows{{"LISTENER", "ADDRESS", "CAPTURE", "ROUTE TABLE", "DESTINATIONS"}};
  for (const auto& l : items_at(config, "listeners")) {
    auto capture = text_at(l, "capture");
    rows.push_back({text_at(l, "name"), address(member(l, "address")),
                    capture.empty() ? "-" : capture, text_at(l, "route_table"),
                    std::to_string(items_at(l, "destinations").size())});
  }
  return rows;
}

Rows route_rows(const json::value& config) {
  Rows rows{{"ROUTE TABLE", "VIRTUAL HOST", "ROUTE", "MATCH", "ACTION", "REQUEST TIMEOUT",
             "PER-TRY TIMEOUT", "IDLE TIMEOUT", "RETRY"}};
  for (const auto& t : items_at(config, "route_tables")) {
    for (const auto& v : items_at(t, "virtual_hosts")) {
      for (const auto& r : items_at(v, "routes")) {
        rows.push_back({text_at(t, "name"), text_at(v, "name"), text_at(r, "name"),
                        match_text(member(r, "match")), action_text(r),
                        timeout_text(r, "timeout", "request", "none"),
                        timeout_text(r, "per_try_timeout", "per_try", "none"),
                        timeout_text(r, "idle_timeout", "idle", "listener's"), retry_text(r)});
      }
    }
  }
  return rows;
}

Rows cluster_rows(const json::value& config) {
  Rows rows{{"CLUSTER", "PROTOCOL", "CONNECT TIMEOUT", "POOL (IDLE PER ENDPOINT, IDLE TIMEOUT)",
             "LOAD BALANCER", "MAX IN FLIGHT", "FAILOVER", "ENDPOINTS", "POLICY"}};
  for (const auto& c : items_at(config, "clusters")) {
    const auto& pool = member(c, "pool");
    auto idle = text_at(pool, "idle_timeout");
    auto pool_text =
        fmt::format("{}, {}", or_default(text_at(pool, "max_idle_per_endpoint"), kDefaultMaxIdle),
                    or_default(idle.empty() ? "" : readable(idle), kDefaultPoolIdleTimeout));
    auto connect = text_at(c, "connect_timeout");
    auto policy = text_at(c, "policy");
    rows.push_back({text_at(c, "name"), protocol_text(c),
                    or_default(connect.empty() ? "" : readable(connect), kDefaultConnectTimeout),
                    pool_text, balancer_text(c), breaker_text(c), failover_text(c),
                    std::to_string(items_at(c, "endpoints").size()),
                    policy.empty() ? "-" : policy});
  }
  return rows;
}

// "region/zone", or "-" when neither is known.
std::string locality_text(const json::value& holder) {
  const auto* at = json_access::find(holder.if_object(), "locality");
  if (at == nullptr) return "-";
  auto region = text_at(*at, "region"), zone = text_at(*at, "zone");
  if (region.empty() && zone.empty()) return "-";
  return fmt::format("{}/{}", region.empty() ? "?" : region, zone.empty() ? "?" : zone);
}

Rows endpoint_rows(const json::value& config) {
  Rows rows{{"CLUSTER", "ENDPOINT", "WEIGHT", "LOCALITY"}};
  for (const auto& c : items_at(config, "clusters")) {
    const auto& endpoints = items_at(c, "endpoints");
    if (endpoints.empty()) rows.push_back({text_at(c, "name"), "(none)", "", ""});
    for (const auto& e : endpoints) {
      auto ip = text_at(e, "address");
      if (ip.find(':') != std::string::npos) ip = fmt::format("[{}]", ip);
      auto weight = text_at(e, "weight");
      rows.push_back({text_at(c, "name"), ip + ":" + text_at(e, "port"),
                      weight.empty() ? "1" : weight, locality_text(e)});
    }
  }
  return rows;
}

namespace {

// HOST:PORT of the admin section's `field`, where a client on this machine
// reaches it.
std::string admin_section_address(const json::value& config, std::string_view field,
                                  std::string_view fallback) {
  const auto* admin = json_access::find(config.if_object(), "admin");
  const auto* at = admin != nullptr ? json_access::find(admin->if_object(), field) : nullptr;
  if (at == nullptr) return std::string(fallback);
  auto host = text_at(*at, "host");
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = fmt::format("[{}]", host);
  return host + ":" + text_at(*at, "port");
}

}  // namespace

std::string admin_address(const json::value& config) {
  return admin_section_address(config, "address", "127.0.0.1:15000");
}

std::string metrics_address(const json::value& config) {
  return admin_section_address(config, "metrics_address", "127.0.0.1:15090");
}

std::optional<std::string> live_view_mismatch(const json::value& live, const ProxyRef& ref) {
  if (!live.is_object() || json_access::array_at(live.if_object(), "clusters") == nullptr) {
    return "it did not answer with the proxy's endpoints";
  }
  const auto wanted = ref.ns + "/" + ref.name;
  const auto proxy = text_at(live, "proxy");
  if (proxy != wanted) {
    return fmt::format("it is {}'s, not {}'s", proxy.empty() ? "a proxy without a name" : proxy,
                       wanted);
  }
  return std::nullopt;
}

Rows live_endpoint_rows(const json::value& live) {
  Rows rows{{"CLUSTER", "ENDPOINT", "WEIGHT", "LOCALITY", "HEALTH", "IN FLIGHT", "LATENCY (EWMA)"}};
  for (const auto& c : items_at(live, "clusters")) {
    const auto& endpoints = items_at(c, "endpoints");
    if (endpoints.empty()) rows.push_back({text_at(c, "name"), "(none)", "", "", "", "", ""});
    for (const auto& e : endpoints) {
      auto health = text_at(e, "health");
      if (health == "failing_check") health = "failing check";
      if (health == "not_ready") health = "not ready";
      if (health == "ejected") health = "ejected until " + text_at(e, "ejected_until");
      const auto ejections = text_at(e, "ejections");
      if (!ejections.empty() && ejections != "0") {
        health += fmt::format(" ({} ejection{})", ejections, ejections == "1" ? "" : "s");
      }
      const auto* latency = json_access::find(e.if_object(), "latency_ms");
      const double ms =
          latency != nullptr && latency->is_number() ? latency->to_number<double>() : 0;
      // A tiered cluster's endpoints say how near they are to this proxy.
      auto locality = locality_text(e);
      if (const auto tier = text_at(e, "tier"); !tier.empty()) {
        locality += tier == "zone"     ? " (same zone)"
                    : tier == "region" ? " (same region)"
                                       : " (remote)";
      }
      rows.push_back({text_at(c, "name"), text_at(e, "address"), text_at(e, "weight"), locality,
                      health, text_at(e, "in_flight"), ms > 0 ? fmt::format("{:.1f}ms", ms) : "-"});
    }
  }
  return rows;
}

}  // namespace weft::meshctl
