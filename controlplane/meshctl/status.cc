// meshctl status, check and proxy-config: views of the status endpoint.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <boost/json.hpp>
#include <iostream>
#include <optional>
#include <set>

#include "common/spelling.h"
#include "controlplane/meshctl/commands.h"
#include "controlplane/meshctl/http_get.h"
#include "controlplane/meshctl/identity_view.h"
#include "controlplane/meshctl/proxy_config_view.h"

namespace weft::meshctl {
namespace {

namespace json = boost::json;

void print(const json::value& value, Format format) {
  if (format == Format::kYaml) {
    std::cout << to_yaml(value);
  } else {
    std::cout << pretty_json(value);
  }
}

int unreachable(const Target& target, const Error& error) {
  std::cerr << "meshctl: control plane status at " << target.status
            << " is not reachable: " << error.message << "\n";
  return 1;
}

}  // namespace

int status(const Target& target, Format format) {
  auto value = get_json(target.status, "/status");
  if (!value) return unreachable(target, value.error());
  if (format != Format::kTable) {
    print(*value, format);
    return 0;
  }
  std::vector<std::vector<std::string>> rows{{"NAMESPACE", "NAME", "STATUS", "ACKED", "DESIRED",
                                              "PUSHES", "NACKS", "CONNECTED", "DETAIL"}};
  for (const auto& p : value->at("proxies").as_array()) {
    const auto& o = p.as_object();
    std::string detail = text_of(o, "error");
    if (detail.empty() && o.contains("last_nack")) {
      detail = "last NACK: " + text_of(o.at("last_nack").as_object(), "error");
    }
    std::string state = "PENDING";
    const auto* nack = o.if_contains("last_nack");
    if (!text_of(o, "error").empty()) {
      state = "ERROR";
    } else if (o.at("in_sync").as_bool()) {
      state = "SYNCED";
    } else if (nack != nullptr &&
               text_of(nack->as_object(), "version") == text_of(o, "version_desired")) {
      state = "NACKED";
    }
    rows.push_back({text_of(o, "namespace"), text_of(o, "name"), state, text_of(o, "version_acked"),
                    text_of(o, "version_desired"), text_of(o, "pushes"), text_of(o, "nacks"),
                    text_of(o, "connected_since"), detail});
  }
  std::cout << table(rows);
  const auto& manifests = value->at("manifests").as_object();
  auto errors = manifests.at("errors").as_array().size();
  // Objects that parsed but were not applied (Accepted or ResolvedRefs
  // False): as much a problem as a parse error.
  std::set<std::string> rejected;
  for (const auto& c : value->at("conditions").as_array()) {
    const auto& o = c.as_object();
    if (text_of(o, "status") != "True") rejected.insert(text_of(o, "object"));
  }
  std::cout << fmt::format("\nmanifests: {} objects, {} parse errors, {} rejected objects{}\n",
                           text_of(manifests, "objects"), errors, rejected.size(),
                           errors + rejected.size() > 0 ? " (meshctl check shows why)" : "");
  return 0;
}

namespace {

// Each reachable proxy's workload certificate (its admin /identity): a line
// for each one missing, expired or overdue for renewal, and one for those
// that could not be asked. Returns the problems (an overdue renewal is a
// warning, not one).
int check_certificates(const Target& target, const json::array& proxies) {
  int problems = 0;
  std::size_t checked = 0, unreachable = 0;
  const auto now = std::chrono::system_clock::now();
  for (const auto& p : proxies) {
    const auto& o = p.as_object();
    const auto name = text_of(o, "namespace") + "/" + text_of(o, "name");
    const auto config = get_json(target.status, "/config?proxy=" + name);
    auto answer = config ? http_get(admin_address(*config), "/identity", std::chrono::seconds(2))
                         : Result<HttpResponse>(tl::unexpected(config.error()));
    if (!answer) {
      ++unreachable;
      continue;
    }
    if (answer->status == 404) continue;  // a proxy without a workload identity
    boost::system::error_code ec;
    auto identity = json::parse(answer->body, ec);
    if (ec || !identity.is_object()) {
      ++unreachable;
      continue;
    }
    ++checked;
    auto finding = check_certificate(identity.as_object(), now);
    if (!finding) continue;
    std::cout << fmt::format("{}proxy {} {}\n", finding->problem ? "" : "warning: ", name,
                             finding->message);
    if (finding->problem) ++problems;
  }
  if (checked > 0)
    std::cout << fmt::format("workload certificates of {} proxies checked\n", checked);
  if (unreachable > 0) {
    std::cout << fmt::format(
        "workload certificates of {} proxies not checked: their admin ports cannot be reached "
        "from here\n",
        unreachable);
  }
  return problems;
}

}  // namespace

int check(const Target& target) {
  auto ready = http_get(target.status, "/ready");
  if (!ready) return unreachable(target, ready.error());
  std::cout << "control plane at " << target.status << ": "
            << (ready->status == 200 ? "reachable, ready" : "reachable, NOT ready") << "\n";
  auto value = get_json(target.status, "/status");
  if (!value) return unreachable(target, value.error());
  int problems = ready->status == 200 ? 0 : 1;
  const auto& manifests = value->at("manifests").as_object();
  for (const auto& e : manifests.at("errors").as_array()) {
    const auto& o = e.as_object();
    std::cout << "manifest error: " << text_of(o, "message")
              << (text_of(o, "object").empty() ? "" : " [" + text_of(o, "object") + "]") << "\n";
    ++problems;
  }
  for (const auto& c : value->at("conditions").as_array()) {
    const auto& o = c.as_object();
    if (text_of(o, "status") == "True") continue;
    auto source = text_of(o, "source");
    std::cout << fmt::format("{}{}: {}=False {}: {}\n", source.empty() ? "" : source + ": ",
                             text_of(o, "object"), text_of(o, "type"), text_of(o, "reason"),
                             text_of(o, "message"));
    ++problems;
  }
  for (const auto& p : value->at("proxies").as_array()) {
    const auto& o = p.as_object();
    if (o.at("in_sync").as_bool()) continue;
    std::cout << fmt::format("proxy {}/{} not in sync{}\n", text_of(o, "namespace"),
                             text_of(o, "name"),
                             text_of(o, "error").empty() ? "" : ": " + text_of(o, "error"));
    ++problems;
  }
  problems += check_certificates(target, value->at("proxies").as_array());
  std::cout << fmt::format("{} objects, {} proxies: {}\n", text_of(manifests, "objects"),
                           value->at("proxies").as_array().size(),
                           problems == 0 ? "ok" : fmt::format("{} problem(s)", problems));
  return problems == 0 ? 0 : 1;
}

namespace {

// "no connected proxy default/clinet-0", and the closest connected name.
std::string not_found(const Target& target, const ProxyRef& ref, const std::string& error) {
  auto status = get_json(target.status, "/status");
  if (!status) return error;
  std::vector<std::string> names;
  for (const auto& p : status->at("proxies").as_array()) {
    const auto& o = p.as_object();
    names.push_back(text_of(o, "namespace") + "/" + text_of(o, "name"));
  }
  auto wanted = ref.ns + "/" + ref.name;
  auto best = spelling::closest(wanted, names, std::max<std::size_t>(3, wanted.size() / 3));
  if (best) return fmt::format("{} (did you mean {}?)", error, *best);
  if (names.empty()) return error + " (no proxy is connected)";
  return fmt::format("{} (connected: {})", error, fmt::join(names, ", "));
}

// The proxy's live view of its endpoints, from its own admin endpoint, or
// why there is none.
Result<json::value> live_endpoints(const json::value& config, const ProxyRef& ref) {
  const auto admin = admin_address(config);
  auto response = http_get(admin, "/endpoints", std::chrono::seconds(2));
  if (!response) {
    return fail(ErrorCode::kUnavailable, "admin {}: {}", admin, response.error().message);
  }
  boost::system::error_code ec;
  auto live = json::parse(response->body, ec);
  if (ec || response->status != 200) live = json::value();
  if (auto mismatch = live_view_mismatch(live, ref)) {
    return fail(ErrorCode::kUnavailable, "admin {}: {}", admin, *mismatch);
  }
  return live;
}

}  // namespace

int proxy_config(const Target& target, const ProxyConfigArgs& args, Format format) {
  auto ref = parse_proxy_ref(args.proxy, args.ns);
  if (!ref) {
    std::cerr << "meshctl: " << ref.error() << "\n";
    return 2;
  }
  auto value = get_json(target.status, "/config?proxy=" + ref->ns + "/" + ref->name);
  if (!value) {
    std::cerr << "meshctl: " << not_found(target, *ref, value.error().message) << "\n";
    return 1;
  }
  const auto& section = args.section;
  // Endpoints as the proxy sees them now, when meshctl can reach its admin
  // port (under meshctl up); else as configured.
  std::optional<json::value> live;
  if (section.empty() || section == "endpoints") {
    auto got = live_endpoints(*value, *ref);
    if (got) {
      live = std::move(*got);
    } else {
      std::cerr << "meshctl: endpoints as configured, without live state (" << got.error().message
                << ")\n";
    }
  }
  if (format != Format::kTable) {
    json::value selected = *value;
    const auto* o = value->if_object();
    auto part = [&](std::string_view key) {
      const auto* v = o == nullptr ? nullptr : o->if_contains(key);
      return v != nullptr ? *v : json::value(json::array{});
    };
    if (section == "listeners") selected = part("listeners");
    if (section == "routes") selected = part("route_tables");
    if (section == "clusters") selected = part("clusters");
    if (section == "endpoints") selected = live ? *live : part("clusters");
    print(selected, format);
    return 0;
  }
  std::vector<Rows> tables;
  if (section.empty() || section == "listeners") tables.push_back(listener_rows(*value));
  if (section.empty() || section == "routes") tables.push_back(route_rows(*value));
  if (section.empty() || section == "clusters") tables.push_back(cluster_rows(*value));
  if (section.empty() || section == "endpoints") {
    tables.push_back(live ? live_endpoint_rows(*live) : endpoint_rows(*value));
  }
  for (std::size_t i = 0; i < tables.size(); ++i) {
    std::cout << (i == 0 ? "" : "\n") << table(tables[i]);
  }
  return 0;
}

}  // namespace weft::meshctl
