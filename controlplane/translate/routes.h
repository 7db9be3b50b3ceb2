// Gateway API HTTPRoute rules -> the proxy's routes, with the precedence
// the Gateway API defines across every route attached to one Service.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <tl/expected.hpp>
#include <tuple>
#include <vector>

#include "k8s/resources.pb.h"
#include "mesh/v1/config.pb.h"

namespace weft::cp::translate {

// Why a route is not applied, as a status condition's type and reason.
struct Rejected {
  std::string type;  // Accepted or ResolvedRefs
  std::string reason;
  std::string message;
};

// Gateway API precedence (GEP-1426 / HTTPRoute spec): exact path, then the
// longest prefix, then a method match, then more header matches, then more
// query matches; ties keep the oldest route, then namespace/name, then rule
// order. Smaller sorts first.
struct Rank {
  int path_kind = 0;          // 0 exact, 1 prefix, 2 regex
  int neg_prefix_length = 0;  // longer prefix first
  int no_method = 0;
  int neg_headers = 0;
  int neg_queries = 0;
  std::string created;  // creationTimestamp (RFC 3339 sorts as text)
  std::string route;    // namespace/name
  int rule = 0;
  int match = 0;

  bool operator<(const Rank& o) const {
    return std::tie(path_kind, neg_prefix_length, no_method, neg_headers, neg_queries, created,
                    route, rule, match) < std::tie(o.path_kind, o.neg_prefix_length, o.no_method,
                                                   o.neg_headers, o.neg_queries, o.created, o.route,
                                                   o.rule, o.match);
  }
};

struct RankedRoute {
  Rank rank;
  mesh::v1::Route route;
};

// Resolves a backendRef (namespace, Service name, port) to a cluster name.
using BackendResolver = std::function<std::optional<std::string>(
    const std::string&, const std::string&, std::uint32_t)>;

// A route's rules, in precedence order, and its backendRefs that did not
// resolve (ResolvedRefs=False): each keeps its share of the traffic, which
// the proxy answers 500 (mesh.v1.WeightedCluster.unresolved), while the
// route's other backends and rules keep working, as Gateway API requires.
struct TranslatedRoute {
  std::vector<RankedRoute> rules;
  std::vector<Rejected> unresolved;
};

// Translates every rule of `route`. An unsupported field or value (a
// filter, a negative weight, a bad regex) rejects the whole route, so a
// half-applied route never routes; the caller keeps its last accepted
// version instead.
tl::expected<TranslatedRoute, Rejected> translate_rules(const k8s::HTTPRoute& route,
                                                        const BackendResolver& resolve);

// "/foo" -> the RE2 pattern a segment-aware Gateway API PathPrefix means.
std::string path_prefix_regex(std::string_view prefix);

}  // namespace weft::cp::translate
