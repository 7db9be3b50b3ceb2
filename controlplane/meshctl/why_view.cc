#include "controlplane/meshctl/why_view.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <boost/json.hpp>
#include <charconv>

#include "common/json_access.h"
#include "controlplane/meshctl/output.h"
#include "controlplane/meshctl/proxy_config_view.h"

namespace weft::meshctl {
namespace {

namespace json = boost::json;
using json_access::member;

using json_access::items_at;
using json_access::text_at;

// "default/client-0 (workload client, app client, version v1, service
// account default, zone eu-west-1/eu-west-1a)".
std::string source_line(const json::value& source) {
  const auto& w = member(source, "workload");
  auto out = fmt::format("{} (workload {}, app {}, version {}, service account {}",
                         text_at(source, "pod"), text_at(w, "name"), text_at(w, "app"),
                         text_at(w, "version"), text_at(w, "service_account"));
  if (const auto& l = member(source, "locality"); l.is_object()) {
    out += fmt::format(", locality {}/{}", text_at(l, "region"), text_at(l, "zone"));
  }
  return out + ")";
}

std::string request_line(const json::value& request) {
  auto out = fmt::format("{} {}", text_at(request, "method"), text_at(request, "target"));
  for (const auto& h : items_at(request, "headers")) {
    const auto& pair = h.as_array();
    if (pair.size() == 2) {
      out += fmt::format(" -H '{}: {}'", pair[0].as_string().c_str(), pair[1].as_string().c_str());
    }
  }
  return out;
}

// The source's sidecar as the control plane sees it (live answers only):
// whether it runs the configuration this answer was worked out from.
std::string sidecar_line(const json::value& sidecar) {
  if (sidecar.is_string()) return std::string(sidecar.get_string());
  if (text_at(sidecar, "in_sync") == "true") {
    return fmt::format("connected, in sync (version {})", text_at(sidecar, "version_acked"));
  }
  auto error = text_at(member(sidecar, "last_nack"), "error");
  return fmt::format(
      "connected, NOT in sync: it runs version {} of {}{}; what it does may differ from this "
      "answer until it acknowledges",
      text_at(sidecar, "version_acked").empty() ? "none" : text_at(sidecar, "version_acked"),
      text_at(sidecar, "version_desired"), error.empty() ? "" : " (rejected: " + error + ")");
}

std::string routes_section(const json::value& answer) {
  const auto& routes = items_at(answer, "routes");
  if (routes.empty()) return "";
  const auto& destination = member(answer, "destination");
  std::vector<std::vector<std::string>> rows{
      {"RESULT", "ROUTE", "FROM", "MATCH", "ACTION", "TIMEOUT", "PER-TRY", "RETRY"}};
  std::string picked;
  for (const auto& r : routes) {
    const auto& route = member(r, "route");
    auto object = text_at(r, "object");
    rows.push_back({text_at(r, "result"), text_at(r, "name"),
                    object.empty() ? "the Service's default route"
                                   : fmt::format("{} rule {}", object, text_at(r, "rule")),
                    match_text(member(route, "match")), action_text(route),
                    timeout_text(route, "timeout", "request", "none"),
                    timeout_text(route, "per_try_timeout", "per_try", "none"), retry_text(route)});
    if (text_at(r, "result") == "picked") {
      picked = fmt::format("idle timeout {}",
                           timeout_text(route, "idle_timeout", "idle", "the listener's"));
    }
  }
  auto out = fmt::format(
      "\nRoutes for authority {}, in the order the sidecar tries them (the first match is "
      "picked):\n{}",
      text_at(destination, "authority"), table(rows));
  if (!picked.empty()) out += "Picked route: " + picked + "\n";
  return out;
}

std::string backends_section(const json::value& answer) {
  const auto& backends = items_at(answer, "backends");
  if (backends.empty()) return "";
  std::vector<std::vector<std::string>> rows{{"CLUSTER", "SHARE", "ENDPOINTS", "PROTOCOL",
                                              "LOAD BALANCER", "LIMITS", "FAILOVER", "POLICY"}};
  for (const auto& b : backends) {
    const auto share = fmt::format("{:g}%", member(b, "share_percent").to_number<double>());
    if (auto unresolved = text_at(b, "unresolved"); !unresolved.empty()) {
      rows.push_back({"(unresolved: 500)", share, "-", "-", "-", "-", "-", unresolved});
      continue;
    }
    const auto& cluster = member(b, "cluster");
    auto endpoints = fmt::format("{} ready", text_at(b, "endpoints_ready"));
    if (auto not_ready = text_at(b, "endpoints_not_ready"); not_ready != "0") {
      endpoints += fmt::format(", {} not ready", not_ready);
    }
    auto policy = text_at(cluster, "policy");
    // A TCP port's cluster carries bytes, whatever its HTTP protocol says.
    rows.push_back({text_at(cluster, "name"), share, endpoints,
                    text_at(answer, "delivery") == "tcp" ? "tcp" : protocol_text(cluster),
                    balancer_text(cluster), breaker_text(cluster), failover_text(cluster),
                    policy.empty() ? "-" : policy});
  }
  return "\nBackends:\n" + table(rows);
}

std::string objects_section(const json::value& answer) {
  std::string out = "\nObjects on the path:\n";
  const auto& objects = items_at(answer, "objects");
  if (objects.empty()) out += "  none: nothing but the proxy's defaults\n";
  for (const auto& o : objects) {
    auto source = text_at(o, "source");
    out += fmt::format("  {}{}: {}\n", text_at(o, "object"),
                       source.empty() ? "" : fmt::format(" ({})", source), text_at(o, "role"));
    for (const auto& c : items_at(o, "conditions")) {
      auto message = text_at(c, "message");
      out += fmt::format("    {}={} {}{}\n", text_at(c, "type"), text_at(c, "status"),
                         text_at(c, "reason"), message.empty() ? "" : ": " + message);
    }
  }
  return out;
}

std::string mesh_line(const json::value& mesh) {
  auto object = text_at(mesh, "object");
  std::vector<std::string> parts;
  if (const auto& tracing = member(mesh, "tracing"); tracing.is_object()) {
    auto otlp = text_at(tracing, "otlp_endpoint");
    parts.push_back(fmt::format("tracing {}% to {} {}", text_at(tracing, "sampling_percent"),
                                otlp.empty() ? "zipkin" : "otlp",
                                otlp.empty() ? text_at(tracing, "zipkin_endpoint") : otlp));
  } else {
    parts.emplace_back("no tracing");
  }
  if (const auto& log = member(mesh, "access_log"); log.is_object()) {
    parts.push_back(fmt::format("access log {} to {} ({}% of successes)",
                                text_at(log, "format") == "FORMAT_TEXT" ? "text" : "json",
                                text_at(log, "path"), text_at(log, "sampling_percent")));
  } else {
    parts.emplace_back("no access log");
  }
  parts.emplace_back(text_at(mesh, "istio_metric_names") == "true" ? "istio_* metric names"
                                                                   : "mesh_* metric names");
  if (auto drain = text_at(mesh, "drain_timeout"); !drain.empty())
    parts.push_back("drain " + drain);
  return fmt::format("Mesh settings ({}): {}\n",
                     object.empty() ? "no MeshConfig, the defaults" : object,
                     fmt::join(parts, ", "));
}

}  // namespace

tl::expected<ServiceRef, std::string> parse_service_ref(std::string_view arg,
                                                        const std::string& default_ns) {
  ServiceRef ref;
  std::string_view name = arg;
  if (auto colon = arg.rfind(':'); colon != std::string_view::npos) {
    auto port = arg.substr(colon + 1);
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), ref.port);
    if (ec != std::errc() || end != port.data() + port.size() || ref.port == 0 ||
        ref.port > 65535) {
      return tl::unexpected(fmt::format("'{}': '{}' is not a port", arg, port));
    }
    name = arg.substr(0, colon);
  }
  // A slash or dot says a namespace follows (or precedes): it must be there.
  std::optional<std::string> ns;
  if (auto slash = name.find('/'); slash != std::string_view::npos) {
    ns = name.substr(0, slash);
    name.remove_prefix(slash + 1);
  } else if (auto dot = name.find('.'); dot != std::string_view::npos) {
    // reviews.default, reviews.default.svc, reviews.default.svc.cluster.local
    auto rest = name.substr(dot + 1);
    ns = rest.substr(0, rest.find('.'));
    name = name.substr(0, dot);
  }
  auto bad = [](std::string_view part) {
    return part.empty() || part.find_first_of("/.") != std::string_view::npos;
  };
  if (bad(name) || (ns && bad(*ns))) {
    return tl::unexpected(fmt::format("'{}' is not a Service (NAME[.NAMESPACE][:PORT])", arg));
  }
  ref.name = name;
  ref.ns = ns ? *ns : default_ns;
  return ref;
}

tl::expected<std::pair<std::string, std::string>, std::string> parse_header(std::string_view arg) {
  auto colon = arg.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return tl::unexpected(fmt::format("header '{}' is not 'name: value'", arg));
  }
  auto value = arg.substr(colon + 1);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  return std::pair{std::string(arg.substr(0, colon)), std::string(value)};
}

std::string why_text(const json::object& object) {
  // A value, not the object: the accessors below take values, and an
  // object would convert to a temporary they would return references into.
  const json::value answer(object);
  const auto& destination = member(answer, "destination");
  auto out = fmt::format("From {}\n", source_line(member(answer, "source")));
  out += fmt::format("To Service {} port {} ({}{})\n", text_at(destination, "service"),
                     text_at(destination, "port"), text_at(destination, "protocol"),
                     text_at(destination, "port_name").empty()
                         ? ""
                         : fmt::format(", port name {}", text_at(destination, "port_name")));
  if (text_at(answer, "delivery") == "http") {
    out += fmt::format("Request {}\n", request_line(member(answer, "request")));
  }
  if (auto listener = text_at(answer, "listener"); !listener.empty()) {
    out += fmt::format("Sidecar listener: {}\n", listener);
  }
  if (const auto& sidecar = member(answer, "sidecar"); !sidecar.is_null()) {
    out += fmt::format("Sidecar: {}\n", sidecar_line(sidecar));
  }
  if (auto sniffed = text_at(answer, "sniffed"); !sniffed.empty()) out += "Note: " + sniffed + "\n";
  if (text_at(answer, "delivery") == "tcp") {
    out += "Forwarded as TCP: HTTPRoute rules do not apply to this port\n";
  }
  out += routes_section(answer);
  out += backends_section(answer);
  out += objects_section(answer);
  out += "\n" + mesh_line(member(answer, "mesh"));
  out += fmt::format("Authorization: {}\n", text_at(answer, "authorization"));
  const auto& problems = items_at(answer, "problems");
  if (problems.empty()) return out + "\nProblems: none\n";
  out += "\nProblems:\n";
  for (const auto& p : problems) out += fmt::format("  - {}\n", p.as_string().c_str());
  return out;
}

}  // namespace weft::meshctl
