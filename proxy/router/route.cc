#include "proxy/router/route.h"

#include <boost/beast/core/string.hpp>

namespace weft::proxy::router {
namespace {

bool full_match(const RE2& regex, std::string_view text) {
  return RE2::FullMatch(re2::StringPiece(text.data(), text.size()), regex);
}

// ASCII case-insensitive, like every comparison of HTTP names (no locale).
bool iends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         boost::beast::iequals(text.substr(text.size() - suffix.size()), suffix);
}

std::string_view strip_port(std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {  // [v6]:port
    auto close = authority.find(']');
    return close == std::string_view::npos ? authority : authority.substr(0, close + 1);
  }
  auto colon = authority.rfind(':');
  return colon == std::string_view::npos ? authority : authority.substr(0, colon);
}

}  // namespace

bool ValueMatch::matches(std::optional<std::string_view> value) const {
  switch (kind) {
    case Kind::kPresent:
      return value.has_value() == present;
    case Kind::kExact:
      return value && *value == exact;
    case Kind::kRegex:
      return value && full_match(*regex, *value);
  }
  return false;
}

bool PathMatch::matches(std::string_view path) const {
  switch (kind) {
    case Kind::kAny:
      return true;
    case Kind::kExact:
      return path == value;
    case Kind::kPrefix:
      return path.substr(0, value.size()) == value;
    case Kind::kRegex:
      return full_match(*regex, path);
  }
  return false;
}

bool RouteMatch::matches(const RequestView& request) const {
  if (!method.empty() && request.method() != method) return false;
  if (!path.matches(request.path())) return false;
  for (const auto& h : headers) {
    if (h.value.matches(request.header(h.name)) == h.invert) return false;
  }
  for (const auto& q : query_params) {
    if (!q.value.matches(query_param(request.query(), q.name))) return false;
  }
  return true;
}

std::vector<std::uint32_t> Forward::weights() const {
  std::vector<std::uint32_t> weights;
  weights.reserve(clusters.size());
  for (const auto& candidate : clusters) weights.push_back(candidate.weight);
  return weights;
}

std::string Redirect::location(const RequestView& request) const {
  std::string location = (scheme.empty() ? "http" : scheme) + "://";
  location += host.empty() ? std::string(strip_port(request.authority())) : host;
  if (port != 0) location += ":" + std::to_string(port);
  if (path.empty()) {
    location += request.path();
    if (!request.query().empty()) location += "?" + std::string(request.query());
  } else {
    location += path;
  }
  return location;
}

const Route* VirtualHost::route_for(const RequestView& request) const {
  for (const auto& route : routes) {
    if (route.match.matches(request)) return &route;
  }
  return nullptr;
}

const VirtualHost* RouteTable::host_for(std::string_view authority) const {
  auto host = strip_port(authority);
  const VirtualHost* by_host = nullptr;
  const VirtualHost* by_suffix = nullptr;
  std::size_t suffix_length = 0;
  const VirtualHost* any = nullptr;
  for (const auto& vhost : virtual_hosts) {
    for (const auto& domain : vhost.domains) {
      if (boost::beast::iequals(domain, authority)) return &vhost;
      if (by_host == nullptr && boost::beast::iequals(domain, host)) by_host = &vhost;
      if (domain == "*") {
        if (any == nullptr) any = &vhost;
      } else if (domain.starts_with("*") && domain.size() - 1 > suffix_length &&
                 iends_with(host, std::string_view(domain).substr(1))) {
        by_suffix = &vhost;
        suffix_length = domain.size() - 1;
      }
    }
  }
  if (by_host != nullptr) return by_host;
  return by_suffix != nullptr ? by_suffix : any;
}

const Route* RouteTable::route_for(const RequestView& request) const {
  const auto* vhost = host_for(request.authority());
  return vhost == nullptr ? nullptr : vhost->route_for(request);
}

std::optional<std::string_view> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

}  // namespace weft::proxy::router
