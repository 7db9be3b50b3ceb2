// The authorization layer's decision (docs/tasks/authorization.md): whether
// a caller may make a request of this workload, under the
// AuthorizationPolicies the control plane compiled for it. Pure: both HTTP
// codecs ask it once per request on an inbound listener, the TCP path once
// per connection, and its table test is the policy semantics.
//
// Order: any DENY policy that matches denies; else, when any ALLOW policy
// covers the request's port, the request must match one; else it is
// allowed.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace weft::proxy::layers::authorization {

// Exact values, prefixes ("/api/*" is "/api/") and `any` ("*"). An
// identity pattern matches only a verified identity: "*" is any caller
// with one.
struct Patterns {
  std::vector<std::string> exact;
  std::vector<std::string> prefixes;
  bool any = false;

  static Patterns parse(std::span<const std::string> patterns);
  bool empty() const { return exact.empty() && prefixes.empty() && !any; }
  bool matches(std::string_view value) const;
};

// One `from` entry: every non-empty field must match.
struct Peer {
  Patterns principals, not_principals;
  Patterns namespaces, not_namespaces;
  bool unauthenticated = false;  // plaintext callers only
};

// One `to` entry: every non-empty field must match.
struct Operation {
  std::vector<std::string> methods, not_methods;
  Patterns paths, not_paths;
  std::vector<std::uint32_t> ports, not_ports;

  bool uses_http_fields() const {
    return !methods.empty() || !not_methods.empty() || !paths.empty() || !not_paths.empty();
  }
};

struct Rule {
  std::vector<Peer> from;     // none: any caller
  std::vector<Operation> to;  // none: any request
};

struct Policy {
  std::string name;  // "namespace/name"
  bool deny = false;
  std::vector<std::uint32_t> ports;  // the workload's ports it covers; none: all
  std::vector<Rule> rules;           // none: matches nothing
};

// What is known of one request (or, over opaque TCP, one connection).
struct Request {
  std::string_view identity;  // the caller's verified SPIFFE ID; empty: plaintext
  std::uint32_t port = 0;     // the workload's port it came to
  bool http = true;           // false: opaque TCP, no method or path
  std::string_view method;
  std::string_view target;  // the request target; the query is ignored
};

struct Verdict {
  bool allowed = true;
  // The DENY policy that matched, or, when no ALLOW policy matched, the
  // first ALLOW policy covering the port: the mesh_authz_denied_total
  // label and the access log's authz_policy. Null when allowed.
  const Policy* policy = nullptr;
};

Verdict decide(std::span<const Policy> policies, const Request& request);

// The path a policy matches: `target` without its query, unreserved
// characters percent-decoded, repeated slashes merged and dot segments
// removed (RFC 3986 §5.2.4), so /api/../admin is /admin.
std::string normalize_path(std::string_view target);

}  // namespace weft::proxy::layers::authorization
