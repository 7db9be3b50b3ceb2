// meshctl status, check and proxy-config: views of the status endpoint.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <iostream>
#include <set>

#include "controlplane/meshctl/commands.h"
#include "controlplane/meshctl/http_get.h"

namespace weft::meshctl {
namespace {

namespace json = boost::json;

Result<json::value> get_json(const Target& target, const std::string& path) {
  auto response = http_get(target.status, path);
  if (!response) return tl::unexpected(response.error());
  boost::system::error_code ec;
  auto value = json::parse(response->body, ec);
  if (ec) {
    return fail(ErrorCode::kInternal, "{}{}: HTTP {}: {}", target.status, path, response->status,
                response->body);
  }
  if (response->status != 200) {
    const auto* error = value.is_object() ? value.as_object().if_contains("error") : nullptr;
    return fail(ErrorCode::kNotFound, "{}",
                error ? std::string(error->as_string()) : response->body);
  }
  return value;
}

std::string text(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return "";
  if (v->is_string()) return std::string(v->get_string());
  return json::serialize(*v);
}

void print(const json::value& value, Format format) {
  if (format == Format::kYaml) {
    std::cout << to_yaml(value);
  } else {
    std::cout << json::serialize(value) << "\n";
  }
}

int unreachable(const Target& target, const Error& error) {
  std::cerr << "meshctl: control plane status at " << target.status
            << " is not reachable: " << error.message << "\n";
  return 1;
}

}  // namespace

int status(const Target& target, Format format) {
  auto value = get_json(target, "/status");
  if (!value) return unreachable(target, value.error());
  if (format != Format::kTable) {
    print(*value, format);
    return 0;
  }
  std::vector<std::vector<std::string>> rows{{"NAMESPACE", "NAME", "STATUS", "ACKED", "DESIRED",
                                              "PUSHES", "NACKS", "CONNECTED", "DETAIL"}};
  for (const auto& p : value->at("proxies").as_array()) {
    const auto& o = p.as_object();
    std::string detail = text(o, "error");
    if (detail.empty() && o.contains("last_nack")) {
      detail = "last NACK: " + text(o.at("last_nack").as_object(), "error");
    }
    std::string state = "PENDING";
    const auto* nack = o.if_contains("last_nack");
    if (!text(o, "error").empty()) {
      state = "ERROR";
    } else if (o.at("in_sync").as_bool()) {
      state = "SYNCED";
    } else if (nack != nullptr &&
               text(nack->as_object(), "version") == text(o, "version_desired")) {
      state = "NACKED";
    }
    rows.push_back({text(o, "namespace"), text(o, "name"), state, text(o, "version_acked"),
                    text(o, "version_desired"), text(o, "pushes"), text(o, "nacks"),
                    text(o, "connected_since"), detail});
  }
  std::cout << table(rows);
  const auto& manifests = value->at("manifests").as_object();
  auto errors = manifests.at("errors").as_array().size();
  // Objects that parsed but were not applied (Accepted or ResolvedRefs
  // False): as much a problem as a parse error.
  std::set<std::string> rejected;
  for (const auto& c : value->at("conditions").as_array()) {
    const auto& o = c.as_object();
    if (text(o, "status") != "True") rejected.insert(text(o, "object"));
  }
  std::cout << fmt::format("\nmanifests: {} objects, {} parse errors, {} rejected objects{}\n",
                           text(manifests, "objects"), errors, rejected.size(),
                           errors + rejected.size() > 0 ? " (meshctl check shows why)" : "");
  return 0;
}

int check(const Target& target) {
  auto ready = http_get(target.status, "/ready");
  if (!ready) return unreachable(target, ready.error());
  std::cout << "control plane at " << target.status << ": "
            << (ready->status == 200 ? "reachable, ready" : "reachable, NOT ready") << "\n";
  auto value = get_json(target, "/status");
  if (!value) return unreachable(target, value.error());
  int problems = ready->status == 200 ? 0 : 1;
  const auto& manifests = value->at("manifests").as_object();
  for (const auto& e : manifests.at("errors").as_array()) {
    const auto& o = e.as_object();
    std::cout << "manifest error: " << text(o, "message")
              << (text(o, "object").empty() ? "" : " [" + text(o, "object") + "]") << "\n";
    ++problems;
  }
  for (const auto& c : value->at("conditions").as_array()) {
    const auto& o = c.as_object();
    if (text(o, "status") == "True") continue;
    std::cout << fmt::format("{}: {}=False {}: {}\n", text(o, "object"), text(o, "type"),
                             text(o, "reason"), text(o, "message"));
    ++problems;
  }
  for (const auto& p : value->at("proxies").as_array()) {
    const auto& o = p.as_object();
    if (o.at("in_sync").as_bool()) continue;
    std::cout << fmt::format("proxy {}/{} not in sync{}\n", text(o, "namespace"), text(o, "name"),
                             text(o, "error").empty() ? "" : ": " + text(o, "error"));
    ++problems;
  }
  std::cout << fmt::format("{} objects, {} proxies: {}\n", text(manifests, "objects"),
                           value->at("proxies").as_array().size(),
                           problems == 0 ? "ok" : fmt::format("{} problem(s)", problems));
  return problems == 0 ? 0 : 1;
}

int proxy_config(const Target& target, const std::string& proxy, const std::string& section,
                 Format format) {
  auto value = get_json(target, "/config?proxy=" + proxy);
  if (!value) {
    std::cerr << "meshctl: " << value.error().message << "\n";
    return 1;
  }
  const auto& config = value->as_object();
  auto list = [&](std::string_view key) {
    const auto* v = config.if_contains(key);
    return v != nullptr ? v->as_array() : json::array{};
  };
  json::value selected = *value;
  if (section == "listeners") selected = list("listeners");
  if (section == "routes") selected = list("route_tables");
  if (section == "clusters" || section == "endpoints") selected = list("clusters");
  if (format != Format::kTable) {
    print(selected, format);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  auto address = [](const json::value& a) {
    return a.is_object() ? text(a.as_object(), "host") + ":" + text(a.as_object(), "port") : "";
  };
  if (section.empty() || section == "listeners") {
    rows.push_back({"LISTENER", "ADDRESS", "CAPTURE", "ROUTE TABLE", "DESTINATIONS"});
    for (const auto& l : list("listeners")) {
      const auto& o = l.as_object();
      auto destinations = o.contains("destinations") ? o.at("destinations").as_array().size() : 0;
      rows.push_back({text(o, "name"),
                      address(o.contains("address") ? o.at("address") : json::value{}),
                      text(o, "capture").empty() ? "-" : text(o, "capture"), text(o, "route_table"),
                      std::to_string(destinations)});
    }
  }
  if (section.empty() || section == "routes") {
    if (!rows.empty()) rows.push_back({});
    rows.push_back({"ROUTE TABLE", "VIRTUAL HOST", "ROUTE", "MATCH", "ACTION"});
    for (const auto& t : list("route_tables")) {
      for (const auto& v : t.at("virtual_hosts").as_array()) {
        for (const auto& r : v.at("routes").as_array()) {
          const auto& o = r.as_object();
          std::string action = o.contains("forward")
                                   ? "forward " + json::serialize(o.at("forward").at("clusters"))
                               : o.contains("redirect") ? "redirect"
                                                        : "direct response";
          rows.push_back({text(t.as_object(), "name"), text(v.as_object(), "name"), text(o, "name"),
                          json::serialize(o.at("match")), action});
        }
      }
    }
  }
  if (section.empty() || section == "clusters" || section == "endpoints") {
    if (!rows.empty()) rows.push_back({});
    rows.push_back({"CLUSTER", "ENDPOINT", "WEIGHT", "POLICY"});
    for (const auto& c : list("clusters")) {
      const auto& o = c.as_object();
      const auto policy = text(o, "policy").empty() ? "-" : text(o, "policy");
      const auto* endpoints = o.if_contains("endpoints");
      if (endpoints == nullptr || endpoints->as_array().empty()) {
        rows.push_back({text(o, "name"), "(none)", "", policy});
        continue;
      }
      for (const auto& e : endpoints->as_array()) {
        const auto& eo = e.as_object();
        rows.push_back({text(o, "name"), text(eo, "address") + ":" + text(eo, "port"),
                        text(eo, "weight").empty() ? "1" : text(eo, "weight"), policy});
      }
    }
  }
  std::cout << table(rows);
  return 0;
}

}  // namespace weft::meshctl
