// Routes as the request path sees them: compiled once per snapshot (regexes
// built, clusters resolved to indexes), then immutable.
#pragma once

#include <re2/re2.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace weft::proxy::router {

// What a route needs to know about a request, independent of HTTP version.
class RequestView {
 public:
  virtual ~RequestView() = default;
  virtual std::string_view method() const = 0;
  virtual std::string_view path() const = 0;   // without the query
  virtual std::string_view query() const = 0;  // after '?', possibly empty
  virtual std::string_view authority() const = 0;
  // The first value of a header (names are case-insensitive).
  virtual std::optional<std::string_view> header(std::string_view name) const = 0;
};

struct ValueMatch {
  enum class Kind { kExact, kRegex, kPresent };
  Kind kind = Kind::kPresent;
  std::string exact;
  std::shared_ptr<const RE2> regex;
  bool present = true;  // kPresent: whether the value must be there or absent

  bool matches(std::optional<std::string_view> value) const;
};

struct HeaderMatch {
  std::string name;
  ValueMatch value;
  bool invert = false;
};

struct QueryParamMatch {
  std::string name;
  ValueMatch value;
};

struct PathMatch {
  enum class Kind { kAny, kExact, kPrefix, kRegex };
  Kind kind = Kind::kAny;
  std::string value;
  std::shared_ptr<const RE2> regex;

  bool matches(std::string_view path) const;
};

struct RouteMatch {
  PathMatch path;
  std::string method;  // empty: any
  std::vector<HeaderMatch> headers;
  std::vector<QueryParamMatch> query_params;

  bool matches(const RequestView& request) const;
};

struct WeightedCluster {
  std::size_t cluster = 0;  // index into Snapshot::clusters
  std::uint32_t weight = 1;
};

struct Forward {
  std::vector<WeightedCluster> clusters;
  std::uint64_t total_weight = 0;

  // Picks a cluster for `draw`, a uniform number in [0, total_weight).
  std::size_t pick(std::uint64_t draw) const;
  // The cluster for one request: the only one, or a weighted draw from `rng`.
  template <class Rng>
  std::size_t choose(Rng& rng) const {
    return clusters.size() == 1 ? clusters.front().cluster : pick(rng() % total_weight);
  }
};

struct DirectResponse {
  unsigned status = 200;
  std::string body;
};

struct Redirect {
  std::string scheme, host, path;
  unsigned port = 0;
  unsigned status = 302;

  // The Location for a request, keeping whatever the redirect does not set.
  std::string location(const RequestView& request) const;
};

struct Header {
  std::string name, value;
};

struct HeaderEdits {
  std::vector<Header> set, add;
  std::vector<std::string> remove;

  bool empty() const { return set.empty() && add.empty() && remove.empty(); }
};

struct Route {
  std::string name;
  RouteMatch match;
  std::variant<Forward, DirectResponse, Redirect> action;
  HeaderEdits request_headers, response_headers;
  std::chrono::milliseconds timeout{15'000};
};

struct VirtualHost {
  std::string name;
  std::vector<std::string> domains;
  std::vector<Route> routes;

  const Route* route_for(const RequestView& request) const;
};

struct RouteTable {
  std::string name;
  std::vector<VirtualHost> virtual_hosts;

  // Exact authority, then host without port, then longest "*." suffix, then
  // "*". Null when nothing serves the authority.
  const VirtualHost* host_for(std::string_view authority) const;
  const Route* route_for(const RequestView& request) const;
};

// Finds `name` in a query string ("a=1&b=2"); values are not percent-decoded.
std::optional<std::string_view> query_param(std::string_view query, std::string_view name);

}  // namespace weft::proxy::router
