#include "proxy/layers/authorization.h"

#include <algorithm>
#include <optional>

namespace weft::proxy::layers::authorization {
namespace {

bool unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes unreserved characters only: %2F stays an encoded slash,
// which is not a path separator.
std::string decode_unreserved(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%' && i + 2 < path.size()) {
      int high = hex_value(path[i + 1]);
      int low = hex_value(path[i + 2]);
      if (high >= 0 && low >= 0) {
        auto c = static_cast<char>(high * 16 + low);
        if (unreserved(c)) {
          out += c;
          i += 2;
          continue;
        }
      }
    }
    out += path[i];
  }
  return out;
}

template <class T>
bool contains(const std::vector<T>& list, const T& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// Lazily normalized: most policies never look at the path.
class PathOf {
 public:
  explicit PathOf(std::string_view target) : target_(target) {}
  const std::string& get() {
    if (!path_) path_ = normalize_path(target_);
    return *path_;
  }

 private:
  std::string_view target_;
  std::optional<std::string> path_;
};

bool matches(const Peer& peer, std::string_view identity) {
  if (peer.unauthenticated && !identity.empty()) return false;
  if (!peer.principals.empty() && !peer.principals.matches(identity)) return false;
  if (!peer.not_principals.empty() && peer.not_principals.matches(identity)) return false;
  if (!peer.namespaces.empty() && !peer.namespaces.matches(identity)) return false;
  if (!peer.not_namespaces.empty() && peer.not_namespaces.matches(identity)) return false;
  return true;
}

// Over opaque TCP the HTTP fields cannot be checked: an ALLOW entry using
// them matches nothing (fails closed), a DENY entry is matched on its other
// fields alone (denies more rather than less), as Istio does.
bool matches(const Operation& op, const Request& request, bool deny, PathOf& path) {
  if (!op.ports.empty() && !contains(op.ports, request.port)) return false;
  if (!op.not_ports.empty() && contains(op.not_ports, request.port)) return false;
  if (!request.http) return deny || !op.uses_http_fields();
  if (!op.methods.empty() && !contains(op.methods, request.method)) return false;
  if (!op.not_methods.empty() && contains(op.not_methods, request.method)) return false;
  if (!op.paths.empty() && !op.paths.matches(path.get())) return false;
  if (!op.not_paths.empty() && op.not_paths.matches(path.get())) return false;
  return true;
}

bool matches(const Rule& rule, const Request& request, bool deny, PathOf& path) {
  auto caller = [&](const Peer& peer) { return matches(peer, request.identity); };
  auto operation = [&](const Operation& op) { return matches(op, request, deny, path); };
  return (rule.from.empty() || std::any_of(rule.from.begin(), rule.from.end(), caller)) &&
         (rule.to.empty() || std::any_of(rule.to.begin(), rule.to.end(), operation));
}

bool covers(const Policy& policy, std::uint32_t port) {
  return policy.ports.empty() || contains(policy.ports, port);
}

bool matches(const Policy& policy, const Request& request, PathOf& path) {
  return std::any_of(policy.rules.begin(), policy.rules.end(),
                     [&](const Rule& rule) { return matches(rule, request, policy.deny, path); });
}

}  // namespace

Patterns Patterns::parse(std::span<const std::string> patterns) {
  Patterns out;
  for (const auto& pattern : patterns) {
    if (pattern == "*") {
      out.any = true;
    } else if (pattern.ends_with('*')) {
      out.prefixes.push_back(pattern.substr(0, pattern.size() - 1));
    } else {
      out.exact.push_back(pattern);
    }
  }
  return out;
}

bool Patterns::matches(std::string_view value) const {
  if (value.empty()) return false;  // no verified identity matches no pattern
  if (any || contains(exact, value)) return true;
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& prefix) { return value.starts_with(prefix); });
}

Verdict decide(std::span<const Policy> policies, const Request& request) {
  PathOf path(request.target);
  const Policy* first_allow = nullptr;
  for (const auto& policy : policies) {
    if (!covers(policy, request.port)) continue;
    if (!policy.deny) {
      if (first_allow == nullptr) first_allow = &policy;
      continue;
    }
    if (matches(policy, request, path)) return {false, &policy};
  }
  if (first_allow == nullptr) return {};
  for (const auto& policy : policies) {
    if (!policy.deny && covers(policy, request.port) && matches(policy, request, path)) return {};
  }
  return {false, first_allow};
}

std::string normalize_path(std::string_view target) {
  auto path = decode_unreserved(target.substr(0, target.find('?')));
  // Segments between slashes: empty ones (repeated slashes) and "." are
  // dropped, ".." drops the one before it and never climbs above the root.
  std::vector<std::string_view> kept;
  bool directory = false;  // the path ends in a slash
  std::string_view rest = path;
  while (!rest.empty()) {
    auto slash = rest.find('/');
    const bool last = slash == std::string_view::npos;
    auto segment = rest.substr(0, slash);
    rest.remove_prefix(last ? rest.size() : slash + 1);
    if (segment.empty()) continue;
    if (segment == "." || segment == "..") {
      if (segment == ".." && !kept.empty()) kept.pop_back();
      directory = true;
      continue;
    }
    kept.push_back(segment);
    directory = !last;
  }
  std::string out;
  for (auto segment : kept) {
    out += '/';
    out += segment;
  }
  if (out.empty() || directory) out += '/';
  return out;
}

}  // namespace weft::proxy::layers::authorization
