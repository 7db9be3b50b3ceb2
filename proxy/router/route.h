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

#include "proxy/upstream/lb/round_robin.h"

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
  // The `index`-th field of that name (0: the first), for a field sent as
  // several: HTTP/2 clients split Cookie into one field per cookie (RFC
  // 9113 §8.2.3).
  virtual std::optional<std::string_view> nth_header(std::string_view name,
                                                     std::size_t index) const {
    return index == 0 ? header(name) : std::nullopt;
  }
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

// Forward::choose's answer for a backend the control plane could not
// resolve: its share of the traffic is answered 500 (Gateway API).
inline constexpr std::size_t kUnresolvedBackend = static_cast<std::size_t>(-1);

struct WeightedCluster {
  std::size_t cluster = 0;  // index into Snapshot::clusters, or kUnresolvedBackend
  std::uint32_t weight = 1;
};

// A traffic split's position, one per worker: splits are smooth weighted
// round robins rather than random draws, so a 90/10 canary gets exactly 10 of
// every 100 requests a worker routes, not 10 on average.
using Splits = std::vector<upstream::lb::RoundRobin>;

struct Forward {
  std::vector<WeightedCluster> clusters;
  // With more than one cluster: this route's entry in Splits, numbered in
  // snapshot order (config::Snapshot::split_weights).
  std::size_t split = 0;

  std::vector<std::uint32_t> weights() const;
  // The cluster for one request: the only one, or the split's next turn.
  // May be kUnresolvedBackend.
  std::size_t choose(Splits& splits) const {
    return clusters.size() == 1 ? clusters.front().cluster : clusters[splits[split].next()].cluster;
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

// A route's timeouts (layers/timeout.h says what each bounds). None is set
// unless configured; `0s` in the configuration is none too.
struct Timeouts {
  std::optional<std::chrono::milliseconds> request, per_try, idle;
};

// When and how often a route's requests are tried again (layers/retry.h
// decides). `attempts` counts every try, the first included: 1 is none.
struct RetryPolicy {
  // Conditions, as bits of `on`.
  enum On : std::uint16_t {
    kConnectFailure = 1 << 0,         // connect failure or timeout, TLS failure
    kRefusedStream = 1 << 1,          // HTTP/2 REFUSED_STREAM / GOAWAY
    kReset = 1 << 2,                  // reset or protocol error before the head
    k5xx = 1 << 3,                    // any 5xx, and the three above, and per-try timeouts
    kGatewayError = 1 << 4,           // 502, 503, 504, and per-try timeouts
    kRetriableStatusCodes = 1 << 5,   // a status in status_codes
    kGrpcCancelled = 1 << 6,          // grpc-status 1 in a trailers-only answer
    kGrpcDeadlineExceeded = 1 << 7,   // 4
    kGrpcResourceExhausted = 1 << 8,  // 8
    kGrpcUnavailable = 1 << 9,        // 14
  };
  std::uint32_t attempts = 1;
  std::uint16_t on = 0;
  std::vector<unsigned> status_codes;
  std::chrono::milliseconds base_interval{25}, max_interval{250};

  bool active() const { return attempts > 1 && on != 0; }
};

struct Route {
  std::string name;
  RouteMatch match;
  std::variant<Forward, DirectResponse, Redirect> action;
  HeaderEdits request_headers, response_headers;
  Timeouts timeouts;
  RetryPolicy retry;
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
