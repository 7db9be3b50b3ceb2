
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <map>
#include <variant>

#include "common/retry_on.h"
#include "mesh/v1/config.pb.h"
#include "proxy/config/snapshot.h"

namespace weft::proxy::config {
namespace {

namespace v1 = mesh::v1;
namespace asio = boost::asio;

milliseconds to_ms(const google::protobuf::Duration& d, milliseconds fallback) {
  auto ms = milliseconds(d.seconds() * 1000 + d.nanos() / 1'000'000);
  return ms.count() > 0 ? ms : fallback;
}

Result<TcpEndpoint> to_endpoint(const std::string& host, std::uint32_t port) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) return fail(ErrorCode::kInvalidArgument, "'{}' is not an IP address", host);
  if (port > 65535) return fail(ErrorCode::kInvalidArgument, "port {} is out of range", port);
  return TcpEndpoint(address, static_cast<unsigned short>(port));
}

// Name -> index, rejecting duplicates and empty names.
template <class Items>
Result<std::map<std::string, std::size_t>> index_by_name(const Items& items,
                                                         std::string_view kind) {
  std::map<std::string, std::size_t> index;
  for (int i = 0; i < items.size(); ++i) {
    const auto& name = items[i].name();
    if (name.empty()) return fail(ErrorCode::kInvalidArgument, "{}[{}]: name is required", kind, i);
    if (!index.emplace(name, i).second) {
      return fail(ErrorCode::kInvalidArgument, "{}[{}]: duplicate name '{}'", kind, i, name);
    }
  }
  return index;
}

Result<std::shared_ptr<const RE2>> compile(const std::string& pattern) {
  auto regex = std::make_shared<const RE2>(pattern, RE2::Quiet);
  if (!regex->ok()) {
    return fail(ErrorCode::kInvalidArgument, "bad regex '{}': {}", pattern, regex->error());
  }
  return regex;
}

template <class Proto>
Result<router::ValueMatch> to_value_match(const Proto& match) {
  router::ValueMatch value;
  switch (match.value_case()) {
    case Proto::kExact:
      value.kind = router::ValueMatch::Kind::kExact;
      value.exact = match.exact();
      break;
    case Proto::kRegex: {
      value.kind = router::ValueMatch::Kind::kRegex;
      auto regex = compile(match.regex());
      if (!regex) return tl::unexpected(regex.error());
      value.regex = *regex;
      break;
    }
    case Proto::kPresent:
      value.present = match.present();
      break;
    case Proto::VALUE_NOT_SET:
      break;  // a bare name means "present"
  }
  return value;
}

Result<router::RouteMatch> to_match(const v1::RouteMatch& proto) {
  router::RouteMatch match;
  match.method = proto.method();
  using Kind = router::PathMatch::Kind;
  switch (proto.path_case()) {
    case v1::RouteMatch::kExact:
      match.path = {Kind::kExact, proto.exact(), nullptr};
      break;
    case v1::RouteMatch::kPrefix:
      match.path = {Kind::kPrefix, proto.prefix(), nullptr};
      break;
    case v1::RouteMatch::kRegex: {
      auto regex = compile(proto.regex());
      if (!regex) return tl::unexpected(regex.error());
      match.path = {Kind::kRegex, proto.regex(), *regex};
      break;
    }
    case v1::RouteMatch::PATH_NOT_SET:
      break;
  }
  for (const auto& h : proto.headers()) {
    if (h.name().empty()) return fail(ErrorCode::kInvalidArgument, "header match needs a name");
    auto value = to_value_match(h);
    if (!value) return tl::unexpected(value.error());
    match.headers.push_back({h.name(), *value, h.invert()});
  }
  for (const auto& q : proto.query_params()) {
    if (q.name().empty()) return fail(ErrorCode::kInvalidArgument, "query match needs a name");
    auto value = to_value_match(q);
    if (!value) return tl::unexpected(value.error());
    match.query_params.push_back({q.name(), *value});
  }
  return match;
}

router::HeaderEdits to_edits(const v1::HeaderEdits& proto) {
  router::HeaderEdits edits;
  for (const auto& h : proto.set()) edits.set.push_back({h.name(), h.value()});
  for (const auto& h : proto.add()) edits.add.push_back({h.name(), h.value()});
  edits.remove.assign(proto.remove().begin(), proto.remove().end());
  return edits;
}

Result<router::Forward> to_forward(const v1::ForwardAction& proto,
                                   const std::map<std::string, std::size_t>& clusters) {
  router::Forward forward;
  if (proto.clusters().empty()) return fail(ErrorCode::kInvalidArgument, "forward has no clusters");
  std::uint64_t total_weight = 0;
  for (const auto& wc : proto.clusters()) {
    auto index = router::kUnresolvedBackend;
    if (wc.unresolved().empty()) {
      auto found = clusters.find(wc.name());
      if (found == clusters.end()) {
        return fail(ErrorCode::kInvalidArgument, "cluster '{}' is not defined", wc.name());
      }
      index = found->second;
    }
    std::uint32_t weight = wc.weight();
    if (weight == 0 && proto.clusters_size() == 1) weight = 1;
    forward.clusters.push_back({index, weight});
    total_weight += weight;
  }
  if (total_weight == 0) {
    return fail(ErrorCode::kInvalidArgument, "cluster weights sum to 0");
  }
  return forward;
}

Result<router::RetryPolicy> to_retry(const v1::RetryPolicy& proto) {
  router::RetryPolicy retry;
  retry.attempts = std::max<std::uint32_t>(proto.attempts(), 1);
  if (retry.attempts > 10) {
    return fail(ErrorCode::kInvalidArgument, "retry.attempts {} is over 10", retry.attempts);
  }
  // The bits of RetryPolicy::On follow kRetryOnConditions' order.
  static_assert(router::RetryPolicy::kGrpcUnavailable == 1 << (kRetryOnConditions.size() - 1));
  for (const auto& name : proto.retry_on()) {
    auto index = retry_on_index(name);
    if (!index) {
      return fail(ErrorCode::kInvalidArgument, "retry.retry_on '{}' is not a condition ({})", name,
                  fmt::join(kRetryOnConditions, ", "));
    }
    retry.on |= static_cast<std::uint16_t>(1U << *index);
  }
  for (auto code : proto.retriable_status_codes()) {
    if (code < 100 || code > 599) {
      return fail(ErrorCode::kInvalidArgument, "retry.retriable_status_codes {} is not a status",
                  code);
    }
    retry.status_codes.push_back(code);
  }
  if (!retry.status_codes.empty()) retry.on |= router::RetryPolicy::kRetriableStatusCodes;
  retry.base_interval = to_ms(proto.base_interval(), retry.base_interval);
  retry.max_interval =
      std::max(to_ms(proto.max_interval(), retry.max_interval), retry.base_interval);
  return retry;
}

Result<router::Route> to_route(const v1::Route& proto,
                               const std::map<std::string, std::size_t>& clusters) {
  router::Route route;
  route.name = proto.name();
  auto match = to_match(proto.match());
  if (!match) return tl::unexpected(match.error());
  route.match = std::move(*match);
  switch (proto.action_case()) {
    case v1::Route::kForward: {
      auto forward = to_forward(proto.forward(), clusters);
      if (!forward) return tl::unexpected(forward.error());
      route.action = std::move(*forward);
      break;
    }
    case v1::Route::kDirectResponse: {
      auto status = proto.direct_response().status();
      if (status < 200 || status > 599) {
        return fail(ErrorCode::kInvalidArgument, "direct_response status {} is not 200-599",
                    status);
      }
      route.action = router::DirectResponse{status, proto.direct_response().body()};
      break;
    }
    case v1::Route::kRedirect: {
      const auto& r = proto.redirect();
      unsigned status = r.status() == 0 ? 302 : r.status();
      if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308) {
        return fail(ErrorCode::kInvalidArgument, "redirect status {} is not a redirect", status);
      }
      route.action = router::Redirect{r.scheme(), r.host(), r.path(), r.port(), status};
      break;
    }
    case v1::Route::ACTION_NOT_SET:
      return fail(ErrorCode::kInvalidArgument,
                  "route has no action (forward, direct_response or redirect)");
  }
  route.request_headers = to_edits(proto.request_headers());
  route.response_headers = to_edits(proto.response_headers());
  // 0 (or unset) is no timeout, as Gateway API's "0s".
  auto positive = [](const google::protobuf::Duration& d) -> std::optional<milliseconds> {
    auto ms = to_ms(d, milliseconds(0));
    return ms.count() > 0 ? std::optional(ms) : std::nullopt;
  };
  route.timeouts = {positive(proto.timeout()), positive(proto.per_try_timeout()),
                    positive(proto.idle_timeout())};
  if (proto.has_retry()) {
    auto retry = to_retry(proto.retry());
    if (!retry) return tl::unexpected(retry.error());
    route.retry = std::move(*retry);
  }
  return route;
}

Result<router::RouteTable> to_route_table(const v1::RouteTable& proto,
                                          const std::map<std::string, std::size_t>& clusters) {
  router::RouteTable table{proto.name(), {}};
  for (int h = 0; h < proto.virtual_hosts_size(); ++h) {
    const auto& vh = proto.virtual_hosts(h);
    router::VirtualHost vhost{vh.name(), {vh.domains().begin(), vh.domains().end()}, {}};
    if (vhost.domains.empty()) vhost.domains.push_back("*");
    for (int r = 0; r < vh.routes_size(); ++r) {
      auto route = to_route(vh.routes(r), clusters);
      if (!route) {
        return tl::unexpected(
            with_context(route.error(), fmt::format("virtual_hosts[{}].routes[{}]", h, r)));
      }
      vhost.routes.push_back(std::move(*route));
    }
    table.virtual_hosts.push_back(std::move(vhost));
  }
  return table;
}

Result<upstream::outlier::Policy> outlier_policy(const v1::OutlierDetection& proto) {
  upstream::outlier::Policy policy;
  policy.consecutive_5xx = proto.consecutive_5xx();
  policy.consecutive_gateway_errors = proto.consecutive_gateway_errors();
  policy.consecutive_local_origin_failures = proto.consecutive_local_origin_failures();
  policy.base_ejection_time = to_ms(proto.base_ejection_time(), policy.base_ejection_time);
  policy.max_ejection_time = to_ms(proto.max_ejection_time(), policy.max_ejection_time);
  policy.interval = to_ms(proto.interval(), policy.interval);
  if (proto.has_max_ejection_percent()) {
    if (proto.max_ejection_percent() > 100) {
      return fail(ErrorCode::kInvalidArgument, "max_ejection_percent {} is over 100",
                  proto.max_ejection_percent());
    }
    policy.max_ejection_percent = proto.max_ejection_percent();
  }
  if (proto.has_success_rate()) {
    const auto& rate = proto.success_rate();
    if (!(rate.stdev_factor() >= 0)) {
      return fail(ErrorCode::kInvalidArgument, "success_rate.stdev_factor {} is below 0",
                  rate.stdev_factor());
    }
    policy.success_rate = {.enabled = true,
                           .minimum_hosts = rate.minimum_hosts(),
                           .request_volume = rate.request_volume(),
                           .stdev_factor = rate.stdev_factor()};
  }
  return policy;
}

Result<upstream::lb::Policy> load_balancer(const v1::Cluster& proto) {
  using upstream::lb::Algorithm;
  upstream::lb::Policy policy;
  switch (proto.load_balancer()) {
    case v1::Cluster::LB_PEAK_EWMA:
      policy.algorithm = Algorithm::kPeakEwma;
      break;
    case v1::Cluster::LB_ROUND_ROBIN:
      policy.algorithm = Algorithm::kRoundRobin;
      break;
    case v1::Cluster::LB_RANDOM:
      policy.algorithm = Algorithm::kRandom;
      break;
    case v1::Cluster::LB_LEAST_REQUEST:
      policy.algorithm = Algorithm::kLeastRequest;
      break;
    case v1::Cluster::LB_RING_HASH:
      policy.algorithm = Algorithm::kRingHash;
      break;
    case v1::Cluster::LB_MAGLEV:
      policy.algorithm = Algorithm::kMaglev;
      break;
    default:
      return fail(ErrorCode::kInvalidArgument, "load_balancer {} is not one this proxy knows",
                  static_cast<int>(proto.load_balancer()));
  }
  policy.slow_start = to_ms(proto.slow_start_window(), milliseconds(0));
  if (proto.has_panic_threshold()) {
    if (proto.panic_threshold() > 100) {
      return fail(ErrorCode::kInvalidArgument, "panic_threshold {} is over 100 percent",
                  proto.panic_threshold());
    }
    policy.panic_threshold = proto.panic_threshold();
  }
  return policy;
}

Result<layers::hash_key::Key> hash_key(const v1::HashPolicy& proto) {
  using Source = layers::hash_key::Key::Source;
  layers::hash_key::Key key;
  switch (proto.key_case()) {
    case v1::HashPolicy::kHeader:
      key = {Source::kHeader, proto.header()};
      break;
    case v1::HashPolicy::kCookie:
      key = {Source::kCookie, proto.cookie().name(),
             std::chrono::duration_cast<std::chrono::seconds>(
                 to_ms(proto.cookie().ttl(), milliseconds(0)))};
      if (!proto.cookie().path().empty()) key.cookie_path = proto.cookie().path();
      break;
    case v1::HashPolicy::kSourceIp:
      key.source = Source::kSourceIp;
      break;
    case v1::HashPolicy::kQueryParameter:
      key = {Source::kQueryParameter, proto.query_parameter()};
      break;
    case v1::HashPolicy::KEY_NOT_SET:
      return fail(ErrorCode::kInvalidArgument,
                  "hash_policy: RingHash and Maglev need a header, cookie, source_ip or "
                  "query_parameter");
  }
  if (key.source != Source::kSourceIp && key.name.empty()) {
    return fail(ErrorCode::kInvalidArgument, "hash_policy: the key's name is empty");
  }
  return key;
}

Result<std::optional<upstream::health::Check>> health_check(const v1::Cluster& proto) {
  using Kind = upstream::health::Check::Kind;
  if (!proto.has_health_check()) return std::nullopt;
  const auto& in = proto.health_check();
  upstream::health::Check check;
  switch (in.kind_case()) {
    case v1::HealthCheck::kTcp:
      check.kind = Kind::kTcp;
      break;
    case v1::HealthCheck::kHttp:
      check.kind = Kind::kHttp;
      if (!in.http().path().empty()) check.path = in.http().path();
      if (check.path.front() != '/' || check.path.find_first_of(" \r\n") != std::string::npos) {
        return fail(ErrorCode::kInvalidArgument, "health_check.http.path '{}' is not a path",
                    check.path);
      }
      if (!in.http().expected_statuses().empty()) {
        check.expected_statuses.assign(in.http().expected_statuses().begin(),
                                       in.http().expected_statuses().end());
      }
      break;
    case v1::HealthCheck::kGrpc:
      check.kind = Kind::kGrpc;
      check.grpc_service = in.grpc().service();
      break;
    case v1::HealthCheck::KIND_NOT_SET:
      return fail(ErrorCode::kInvalidArgument, "health_check needs http, grpc or tcp");
  }
  check.interval = to_ms(in.interval(), check.interval);
  check.timeout = to_ms(in.timeout(), check.timeout);
  if (check.interval.count() <= 0 || check.timeout.count() <= 0) {
    return fail(ErrorCode::kInvalidArgument, "health_check: interval and timeout must be positive");
  }
  if (in.healthy_threshold() != 0) check.healthy_threshold = in.healthy_threshold();
  if (in.unhealthy_threshold() != 0) check.unhealthy_threshold = in.unhealthy_threshold();
  return check;
}

// The consistent-hashing table of a cluster's endpoints, by address: all
// of them, or those of one tier.
std::shared_ptr<const upstream::lb::HashTable> hash_table(
    const Cluster& cluster, std::optional<upstream::lb::Tier> only = std::nullopt) {
  std::vector<std::string> names;
  std::vector<std::uint32_t> weights;
  for (const auto& endpoint : cluster.endpoints) {
    if (only && endpoint.tier != *only) continue;
    names.push_back(address_text(endpoint.address));
    weights.push_back(endpoint.weight);
  }
  if (names.empty()) return nullptr;
  return cluster.load_balancer.algorithm == upstream::lb::Algorithm::kMaglev
             ? upstream::lb::make_maglev(names, weights)
             : upstream::lb::make_ring(names, weights);
}

upstream::lb::Locality to_locality(const v1::Locality& proto) {
  return {proto.region(), proto.zone()};
}

// Tiers the cluster's endpoints by their nearness to a proxy at `proxy`
// unless locality is off, unknown, or puts them all in one tier.
Result<void> tier_endpoints(const v1::Cluster& proto, const upstream::lb::Locality& proxy,
                            Cluster& cluster) {
  const auto& settings = proto.locality();
  std::uint32_t threshold = 70;
  if (settings.has_spillover_threshold()) {
    threshold = settings.spillover_threshold();
    if (threshold < 1 || threshold > 100) {
      return fail(ErrorCode::kInvalidArgument, "locality.spillover_threshold {} is not 1 to 100",
                  threshold);
    }
  }
  if (settings.disabled() || !proxy.known()) return {};
  std::array<bool, upstream::lb::kTiers> used{};
  for (auto& endpoint : cluster.endpoints) {
    endpoint.tier = upstream::lb::tier_of(proxy, endpoint.locality);
    used[static_cast<std::size_t>(endpoint.tier)] = true;
  }
  if (std::count(used.begin(), used.end(), true) > 1) cluster.locality_spillover = threshold;
  return {};
}

// A workload's labels, checked as x-weft-peer will check them at the other
// end (metrics/workload.h). None when unset.
Result<std::optional<metrics::Workload>> to_workload(const v1::Workload& proto,
                                                     std::string_view field) {
  if (proto.ByteSizeLong() == 0) return std::nullopt;
  metrics::Workload out{proto.name(), proto.namespace_(), proto.app(), proto.version(),
                        proto.service_account()};
  if (out.name.empty() || out.ns.empty()) {
    return fail(ErrorCode::kInvalidArgument, "{}: name and namespace are required", field);
  }
  for (auto* optional : {&out.app, &out.version, &out.service_account}) {
    if (optional->empty()) *optional = "unknown";
  }
  const std::array values = {&out.name, &out.ns, &out.app, &out.version, &out.service_account};
  const bool valid = std::all_of(values.begin(), values.end(), [](const std::string* value) {
    return metrics::valid_peer_value(*value);
  });
  if (!valid) {
    return fail(ErrorCode::kInvalidArgument,
                "{}: values are at most {} of the characters A-Z a-z 0-9 . _ -", field,
                metrics::kMaxPeerValueBytes);
  }
  return out;
}

Result<std::optional<Tracing>> to_tracing(const v1::Tracing& proto) {
  if (proto.ByteSizeLong() == 0) return std::nullopt;
  Tracing tracing;
  const double percent = proto.sampling_percent();
  if (!(percent >= 0 && percent <= 100)) {
    return fail(ErrorCode::kInvalidArgument, "tracing.sampling_percent {} is not within 0-100",
                percent);
  }
  tracing.settings.sampling_percent = percent;
  const bool otlp = !proto.otlp_endpoint().empty();
  if (otlp == !proto.zipkin_endpoint().empty()) {
    return fail(ErrorCode::kInvalidArgument,
                "tracing: exactly one of otlp_endpoint and zipkin_endpoint is required");
  }
  tracing.format = otlp ? Tracing::Format::kOtlp : Tracing::Format::kZipkin;
  tracing.settings.b3_when_absent = !otlp;
  tracing.endpoint = otlp ? proto.otlp_endpoint() : proto.zipkin_endpoint();
  auto url = parse_http_url(tracing.endpoint, otlp ? "/v1/traces" : "/api/v2/spans");
  if (!url) {
    return fail(ErrorCode::kInvalidArgument, "tracing.{}_endpoint: {}", otlp ? "otlp" : "zipkin",
                url.error().message);
  }
  tracing.collector = std::move(*url);
  return tracing;
}

Result<layers::access_log::Settings> to_access_log(const v1::AccessLog& proto) {
  layers::access_log::Settings out;
  out.format = proto.format() == v1::AccessLog::FORMAT_TEXT ? layers::access_log::Format::kText
                                                            : layers::access_log::Format::kJson;
  if (!proto.path().empty()) out.path = proto.path();
  if (out.path.front() != '/' || out.path.back() == '/') {
    return fail(ErrorCode::kInvalidArgument, "access_log.path '{}' is not an absolute file path",
                out.path);
  }
  if (proto.has_sampling_percent()) out.sampling_percent = proto.sampling_percent();
  if (!(out.sampling_percent >= 0 && out.sampling_percent <= 100)) {
    return fail(ErrorCode::kInvalidArgument, "access_log.sampling_percent {} is not within 0-100",
                out.sampling_percent);
  }
  return out;
}

// Patterns are exact, "prefix*" or "*": a '*' elsewhere is refused rather
// than matched as a literal the user did not mean.
Result<layers::authorization::Patterns> to_patterns(
    const google::protobuf::RepeatedPtrField<std::string>& in, std::string_view field) {
  for (const auto& pattern : in) {
    auto star = pattern.find('*');
    if (pattern.empty() || (star != std::string::npos && star != pattern.size() - 1)) {
      return fail(ErrorCode::kInvalidArgument, "{}: '{}' is not exact, prefix* or *", field,
                  pattern);
    }
  }
  return layers::authorization::Patterns::parse(std::vector<std::string>(in.begin(), in.end()));
}

Result<std::vector<std::uint32_t>> to_ports(
    const google::protobuf::RepeatedField<std::uint32_t>& in, std::string_view field) {
  for (auto port : in) {
    if (port == 0 || port > 65535) {
      return fail(ErrorCode::kInvalidArgument, "{}: {} is not a port", field, port);
    }
  }
  return std::vector<std::uint32_t>(in.begin(), in.end());
}

Result<layers::authorization::Peer> to_authorization_peer(const v1::AuthorizationPeer& in,
                                                          const std::string& at) {
  layers::authorization::Peer out;
  out.unauthenticated = in.unauthenticated();
  auto principals = to_patterns(in.principals(), at + ".principals");
  auto not_principals = to_patterns(in.not_principals(), at + ".not_principals");
  auto namespaces = to_patterns(in.namespaces(), at + ".namespaces");
  auto not_namespaces = to_patterns(in.not_namespaces(), at + ".not_namespaces");
  for (const auto* result : {&principals, &not_principals, &namespaces, &not_namespaces}) {
    if (!*result) return tl::unexpected(result->error());
  }
  out.principals = std::move(*principals);
  out.not_principals = std::move(*not_principals);
  out.namespaces = std::move(*namespaces);
  out.not_namespaces = std::move(*not_namespaces);
  return out;
}

Result<layers::authorization::Operation> to_authorization_operation(
    const v1::AuthorizationOperation& in, const std::string& at) {
  layers::authorization::Operation out;
  out.methods.assign(in.methods().begin(), in.methods().end());
  out.not_methods.assign(in.not_methods().begin(), in.not_methods().end());
  auto paths = to_patterns(in.paths(), at + ".paths");
  if (!paths) return tl::unexpected(paths.error());
  auto not_paths = to_patterns(in.not_paths(), at + ".not_paths");
  if (!not_paths) return tl::unexpected(not_paths.error());
  auto ports = to_ports(in.ports(), at + ".ports");
  if (!ports) return tl::unexpected(ports.error());
  auto not_ports = to_ports(in.not_ports(), at + ".not_ports");
  if (!not_ports) return tl::unexpected(not_ports.error());
  out.paths = std::move(*paths);
  out.not_paths = std::move(*not_paths);
  out.ports = std::move(*ports);
  out.not_ports = std::move(*not_ports);
  return out;
}

Result<std::vector<layers::authorization::Policy>> to_authorization(const v1::Authorization& in) {
  std::vector<layers::authorization::Policy> out;
  for (int p = 0; p < in.policies_size(); ++p) {
    const auto& policy = in.policies(p);
    if (policy.name().empty() || !v1::AuthorizationPolicy::Action_IsValid(policy.action())) {
      return fail(ErrorCode::kInvalidArgument,
                  "authorization.policies[{}]: a name and a known action are required", p);
    }
    layers::authorization::Policy& compiled = out.emplace_back();
    compiled.name = policy.name();
    compiled.deny = policy.action() == v1::AuthorizationPolicy::ACTION_DENY;
    auto ports = to_ports(policy.ports(), fmt::format("authorization {}: ports", policy.name()));
    if (!ports) return tl::unexpected(ports.error());
    compiled.ports = std::move(*ports);
    for (int r = 0; r < policy.rules_size(); ++r) {
      auto& rule = compiled.rules.emplace_back();
      for (int f = 0; f < policy.rules(r).from_size(); ++f) {
        auto peer = to_authorization_peer(
            policy.rules(r).from(f),
            fmt::format("authorization {}: rules[{}].from[{}]", policy.name(), r, f));
        if (!peer) return tl::unexpected(peer.error());
        rule.from.push_back(std::move(*peer));
      }
      for (int t = 0; t < policy.rules(r).to_size(); ++t) {
        auto operation = to_authorization_operation(
            policy.rules(r).to(t),
            fmt::format("authorization {}: rules[{}].to[{}]", policy.name(), r, t));
        if (!operation) return tl::unexpected(operation.error());
        rule.to.push_back(std::move(*operation));
      }
    }
  }
  return out;
}

// `field`'s endpoints into `out`; errors name the endpoint by index.
Result<void> to_endpoints(const google::protobuf::RepeatedPtrField<v1::Endpoint>& in,
                          std::string_view field, std::vector<Endpoint>& out) {
  for (int i = 0; i < in.size(); ++i) {
    const auto& e = in[i];
    auto address = to_endpoint(e.address(), e.port());
    if (!address || e.port() == 0) {
      return fail(ErrorCode::kInvalidArgument, "{}[{}]: {}", field, i,
                  address ? "port is required" : address.error().message);
    }
    auto workload = to_workload(e.workload(), fmt::format("{}[{}].workload", field, i));
    if (!workload) return tl::unexpected(workload.error());
    out.push_back({.address = *address,
                   .text = address_text(*address),
                   .weight = e.weight() == 0 ? 1 : e.weight(),
                   .locality = to_locality(e.locality()),
                   .workload = std::move(*workload),
                   .identity = e.identity()});
  }
  return {};
}

Result<Cluster> to_cluster(const v1::Cluster& proto, const upstream::lb::Locality& proxy) {
  Cluster cluster;
  cluster.name = proto.name();
  cluster.service = proto.service();
  if (!cluster.service.empty() && !metrics::valid_peer_value(cluster.service)) {
    return fail(ErrorCode::kInvalidArgument,
                "service: at most {} of the characters A-Z a-z 0-9 . _ -",
                metrics::kMaxPeerValueBytes);
  }
  if (auto read = to_endpoints(proto.endpoints(), "endpoints", cluster.endpoints); !read) {
    return tl::unexpected(read.error());
  }
  if (auto read =
          to_endpoints(proto.not_ready_endpoints(), "not_ready_endpoints", cluster.not_ready);
      !read) {
    return tl::unexpected(read.error());
  }
  if (auto tiered = tier_endpoints(proto, proxy, cluster); !tiered) {
    return tl::unexpected(tiered.error());
  }
  if (!proto.source_address().empty()) {
    boost::system::error_code ec;
    cluster.source_address = asio::ip::make_address(proto.source_address(), ec);
    if (ec) {
      return fail(ErrorCode::kInvalidArgument, "source_address '{}' is not an IP address",
                  proto.source_address());
    }
  }
  if (proto.has_tls()) {
    const auto& t = proto.tls();
    std::vector<std::string> alpn;
    for (const auto& protocol : t.alpn()) {
      if (protocol != "http/1.1" && protocol != "h2") {
        return fail(ErrorCode::kInvalidArgument,
                    "tls.alpn '{}': upstream connections speak h2 or http/1.1", protocol);
      }
      alpn.push_back(protocol);
    }
    if (alpn.empty()) {
      // Offer what the cluster speaks; "same as downstream" is HTTP/2 here.
      alpn.push_back(proto.protocol() == v1::Cluster::PROTOCOL_HTTP1 ? "http/1.1" : "h2");
    }
    auto context = tls::client_context(
        {t.ca_file(),
         t.cert_file(),
         t.key_file(),
         t.sni(),
         {t.verify_subject_alt_names().begin(), t.verify_subject_alt_names().end()},
         alpn});
    if (!context) return tl::unexpected(with_context(context.error(), "tls"));
    cluster.tls = *context;
    cluster.sni = t.sni();
  }
  switch (proto.protocol()) {
    case v1::Cluster::PROTOCOL_HTTP2:
      cluster.protocol = UpstreamProtocol::kHttp2;
      break;
    case v1::Cluster::PROTOCOL_SAME_AS_DOWNSTREAM:
      cluster.protocol = UpstreamProtocol::kSameAsDownstream;
      break;
    default:
      cluster.protocol = UpstreamProtocol::kHttp1;
  }
  cluster.connect_timeout = to_ms(proto.connect_timeout(), cluster.connect_timeout);
  if (proto.pool().max_idle_per_endpoint() != 0) {
    cluster.max_idle_per_endpoint = proto.pool().max_idle_per_endpoint();
  }
  cluster.idle_timeout = to_ms(proto.pool().idle_timeout(), cluster.idle_timeout);
  const auto& budget = proto.retry_budget();
  if (budget.has_percent()) cluster.retry_budget_percent = budget.percent();
  if (budget.has_min_retries_per_second()) {
    cluster.retry_budget_min_per_second = budget.min_retries_per_second();
  }
  if (cluster.retry_budget_percent < 0 || cluster.retry_budget_percent > 1000 ||
      cluster.retry_budget_min_per_second < 0) {
    return fail(ErrorCode::kInvalidArgument,
                "retry_budget: percent must be 0 to 1000 and min_retries_per_second at least 0");
  }
  auto balancer = load_balancer(proto);
  if (!balancer) return tl::unexpected(balancer.error());
  cluster.load_balancer = *balancer;
  if (upstream::lb::is_hashing(balancer->algorithm)) {
    auto key = hash_key(proto.hash_policy());
    if (!key) return tl::unexpected(key.error());
    cluster.hash_key = *key;
    if (!cluster.endpoints.empty()) cluster.hash_table = hash_table(cluster);
    if (cluster.locality_spillover) {
      for (std::size_t t = 0; t < upstream::lb::kTiers; ++t) {
        cluster.tier_tables[t] = hash_table(cluster, static_cast<upstream::lb::Tier>(t));
      }
    }
  } else if (proto.has_hash_policy()) {
    return fail(ErrorCode::kInvalidArgument, "hash_policy is for RingHash and Maglev only");
  }
  auto outlier = outlier_policy(proto.outlier_detection());
  if (!outlier) return tl::unexpected(with_context(outlier.error(), "outlier_detection"));
  cluster.outlier = *outlier;
  auto check = health_check(proto);
  if (!check) return tl::unexpected(check.error());
  cluster.health_check = std::move(*check);
  cluster.max_requests = proto.circuit_breakers().max_requests();
  cluster.max_retries = proto.circuit_breakers().max_retries();
  cluster.max_connections = proto.circuit_breakers().max_connections();
  cluster.max_pending = proto.circuit_breakers().max_pending_requests();
  return cluster;
}

// The index of the object a reference names; none for an empty reference.
Result<std::optional<std::size_t>> resolve(const std::map<std::string, std::size_t>& index,
                                           const std::string& name, std::string_view field) {
  if (name.empty()) return std::nullopt;
  auto found = index.find(name);
  if (found == index.end()) {
    return fail(ErrorCode::kInvalidArgument, "{} '{}' is not defined", field, name);
  }
  return found->second;
}

Result<Destination> to_destination(const v1::Destination& proto,
                                   const std::map<std::string, std::size_t>& tables,
                                   const std::map<std::string, std::size_t>& clusters) {
  Destination destination;
  if (!proto.address().empty()) {
    boost::system::error_code ec;
    destination.address = asio::ip::make_address(proto.address(), ec);
    if (ec) return fail(ErrorCode::kInvalidArgument, "'{}' is not an IP address", proto.address());
  }
  if (proto.port() == 0 || proto.port() > 65535) {
    return fail(ErrorCode::kInvalidArgument, "port {} is out of range", proto.port());
  }
  destination.port = static_cast<std::uint16_t>(proto.port());
  auto route_table = resolve(tables, proto.route_table(), "route_table");
  if (!route_table) return tl::unexpected(route_table.error());
  auto tcp_cluster = resolve(clusters, proto.tcp_cluster(), "tcp_cluster");
  if (!tcp_cluster) return tl::unexpected(tcp_cluster.error());
  destination.route_table = *route_table;
  destination.tcp_cluster = *tcp_cluster;
  return destination;
}

// Unset (0) fields keep the defaults of http::http2::SessionLimits.
Result<http::http2::SessionLimits> to_http2_limits(const v1::Http2Limits& proto) {
  http::http2::SessionLimits limits;
  auto take = [](std::uint32_t value, auto& field) {
    if (value != 0) field = value;
  };
  take(proto.max_concurrent_streams(), limits.max_concurrent_streams);
  take(proto.max_header_list_bytes(), limits.max_header_list_bytes);
  take(proto.initial_stream_window(), limits.stream_window);
  take(proto.connection_window(), limits.connection_window);
  take(proto.max_queued_control_frames(), limits.max_queued_control_frames);
  take(proto.premature_reset_burst(), limits.abuse.premature_reset_burst);
  take(proto.premature_resets_per_second(), limits.abuse.premature_resets_per_second);
  take(proto.max_continuation_frames(), limits.abuse.max_continuation_frames);
  take(proto.max_consecutive_empty_frames(), limits.abuse.max_consecutive_empty_frames);
  take(proto.control_frame_burst(), limits.abuse.control_frame_burst);
  take(proto.control_frames_per_second(), limits.abuse.control_frames_per_second);
  // RFC 9113 §6.9.1: a window is at most 2^31-1; the connection window
  // starts at 65,535 and can only grow.
  constexpr std::uint32_t kMaxWindow = 0x7fffffff;
  if (limits.stream_window > kMaxWindow) {
    return fail(ErrorCode::kInvalidArgument, "initial_stream_window {} exceeds 2^31-1",
                limits.stream_window);
  }
  if (limits.connection_window > kMaxWindow || limits.connection_window < 65'535) {
    return fail(ErrorCode::kInvalidArgument,
                "connection_window {} must be between 65535 and 2^31-1", limits.connection_window);
  }
  return limits;
}

Result<Listener> to_listener(const v1::Listener& proto,
                             const std::map<std::string, std::size_t>& tables,
                             const std::map<std::string, std::size_t>& clusters) {
  Listener listener;
  listener.name = proto.name();
  auto address = to_endpoint(proto.address().host(), proto.address().port());
  if (!address) return tl::unexpected(address.error());
  listener.address = *address;
  listener.capture = static_cast<Capture>(proto.capture());
  listener.direction = static_cast<Direction>(proto.direction());
  if (!v1::Listener::MtlsMode_IsValid(proto.mtls_mode())) {
    return fail(ErrorCode::kInvalidArgument, "listener {}: unknown mtls_mode {}", proto.name(),
                static_cast<int>(proto.mtls_mode()));
  }
  listener.mtls = static_cast<MtlsMode>(proto.mtls_mode());
  if (proto.application_port() > 65535) {
    return fail(ErrorCode::kInvalidArgument, "listener {}: application_port {} is not a port",
                proto.name(), proto.application_port());
  }
  listener.application_port = static_cast<std::uint16_t>(proto.application_port());
  listener.protocol = static_cast<ListenerProtocol>(proto.protocol());
  listener.idle_timeout = to_ms(proto.idle_timeout(), listener.idle_timeout);
  if (proto.has_tls()) {
    const auto& t = proto.tls();
    if (proto.capture() != v1::Listener::CAPTURE_NONE ||
        proto.protocol() != v1::Listener::PROTOCOL_HTTP) {
      return fail(ErrorCode::kInvalidArgument, "tls termination needs an explicit HTTP listener");
    }
    std::vector<std::string> alpn(t.alpn().begin(), t.alpn().end());
    for (const auto& protocol : alpn) {
      if (protocol != "http/1.1" && protocol != "h2") {
        return fail(ErrorCode::kInvalidArgument,
                    "tls.alpn '{}': downstream TLS speaks h2 or http/1.1", protocol);
      }
    }
    if (alpn.empty()) alpn = {"h2", "http/1.1"};
    auto context = tls::server_context({t.cert_file(), t.key_file(), t.ca_file(), alpn});
    if (!context) return tl::unexpected(with_context(context.error(), "tls"));
    listener.tls = *context;
  }
  listener.sniff_timeout = to_ms(proto.sniff_timeout(), listener.sniff_timeout);
  listener.request_headers_timeout =
      to_ms(proto.request_headers_timeout(), listener.request_headers_timeout);
  listener.max_connections = proto.max_connections();
  auto http2 = to_http2_limits(proto.http2());
  if (!http2) return tl::unexpected(with_context(http2.error(), "http2"));
  listener.http2 = *http2;
  for (auto port : proto.opaque_ports()) {
    if (port == 0 || port > 65535)
      return fail(ErrorCode::kInvalidArgument, "opaque port {} is out of range", port);
    listener.opaque_ports.push_back(static_cast<std::uint16_t>(port));
  }
  for (int i = 0; i < proto.destinations_size(); ++i) {
    auto destination = to_destination(proto.destinations(i), tables, clusters);
    if (!destination) {
      return tl::unexpected(with_context(destination.error(), fmt::format("destinations[{}]", i)));
    }
    listener.destinations.push_back(*destination);
  }
  if (listener.capture != Capture::kNone) {
    if (!proto.route_table().empty() || !proto.tcp_cluster().empty()) {
      return fail(ErrorCode::kInvalidArgument,
                  "a capture listener routes by destinations, not route_table or tcp_cluster");
    }
    return listener;
  }
  if (!listener.destinations.empty()) {
    return fail(ErrorCode::kInvalidArgument, "destinations need a capture listener");
  }
  auto route_table = resolve(tables, proto.route_table(), "route_table");
  if (!route_table) return tl::unexpected(route_table.error());
  auto tcp_cluster = resolve(clusters, proto.tcp_cluster(), "tcp_cluster");
  if (!tcp_cluster) return tl::unexpected(tcp_cluster.error());
  listener.route_table = *route_table;
  listener.tcp_cluster = *tcp_cluster;
  if (listener.protocol == ListenerProtocol::kHttp && !listener.route_table) {
    return fail(ErrorCode::kInvalidArgument, "an HTTP listener needs a route_table");
  }
  if (listener.protocol == ListenerProtocol::kTcp && !listener.tcp_cluster) {
    return fail(ErrorCode::kInvalidArgument, "a TCP listener needs a tcp_cluster");
  }
  if (listener.protocol == ListenerProtocol::kAuto &&
      !(listener.route_table && listener.tcp_cluster)) {
    return fail(ErrorCode::kInvalidArgument,
                "a PROTOCOL_AUTO listener needs a route_table (HTTP) and a tcp_cluster (the rest)");
  }
  return listener;
}

// Translates every item of a repeated field with `translate`; an error names
// the item ("listeners[1] 'web': ...").
template <class Items, class Translate>
auto translate_each(const Items& items, std::string_view kind, Translate translate)
    -> Result<std::vector<typename decltype(translate(items[0]))::value_type>> {
  std::vector<typename decltype(translate(items[0]))::value_type> out;
  out.reserve(items.size());
  for (int i = 0; i < items.size(); ++i) {
    auto item = translate(items[i]);
    if (!item) {
      return tl::unexpected(
          with_context(item.error(), fmt::format("{}[{}] '{}'", kind, i, items[i].name())));
    }
    out.push_back(std::move(*item));
  }
  return out;
}

}  // namespace

const Destination* Listener::destination_for(const TcpEndpoint& original) const {
  const Destination* by_port = nullptr;
  for (const auto& d : destinations) {
    if (d.port != original.port()) continue;
    if (d.address && *d.address == original.address()) return &d;
    if (!d.address && by_port == nullptr) by_port = &d;
  }
  return by_port;
}

bool Listener::is_opaque_port(std::uint16_t port) const {
  return std::find(opaque_ports.begin(), opaque_ports.end(), port) != opaque_ports.end();
}

namespace {

// Gives every forward with more than one cluster its place among the
// snapshot's traffic splits, which each worker keeps a position for.
void number_splits(Snapshot& snapshot) {
  for (auto& table : snapshot.route_tables) {
    for (auto& vhost : table.virtual_hosts) {
      for (auto& route : vhost.routes) {
        auto* forward = std::get_if<router::Forward>(&route.action);
        if (forward == nullptr || forward->clusters.size() < 2) continue;
        forward->split = snapshot.split_weights.size();
        snapshot.split_weights.push_back(forward->weights());
      }
    }
  }
}

// Each cluster's backups, by index; a backup the configuration does not
// hold, or the cluster itself, is an error.
Result<void> resolve_failover(const v1::ProxyConfig& config,
                              const std::map<std::string, std::size_t>& index, Snapshot& snapshot) {
  for (int c = 0; c < config.clusters_size(); ++c) {
    const auto& proto = config.clusters(c);
    for (int f = 0; f < proto.failover_size(); ++f) {
      const auto& backup = proto.failover(f);
      auto found = index.find(backup.cluster());
      if (found == index.end() || found->first == proto.name()) {
        return fail(ErrorCode::kInvalidArgument, "clusters[{}].failover[{}]: cluster '{}' {}", c, f,
                    backup.cluster(),
                    found == index.end() ? "is not in the configuration" : "is the cluster itself");
      }
      snapshot.clusters[c].failover.push_back(
          {found->second, backup.name().empty() ? backup.cluster() : backup.name()});
    }
  }
  return {};
}

// Requests to a meshed Service tell its sidecars who calls (x-weft-peer);
// an endpoint that is not meshed has no sidecar to read it, so a cluster
// without a meshed one does not send it.
void set_peer_field(const Snapshot& snapshot, Cluster& cluster) {
  const bool meshed = std::any_of(cluster.endpoints.begin(), cluster.endpoints.end(),
                                  [](const Endpoint& e) { return e.workload.has_value(); });
  if (!snapshot.workload || cluster.service.empty() || !meshed) return;
  cluster.peer_field = metrics::encode_peer({*snapshot.workload, cluster.service});
}

}  // namespace

Result<std::shared_ptr<const Snapshot>> translate(const v1::ProxyConfig& config) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->version = config.version();

  auto cluster_index = index_by_name(config.clusters(), "clusters");
  if (!cluster_index) return tl::unexpected(cluster_index.error());
  snapshot->locality = to_locality(config.locality());
  auto workload = to_workload(config.workload(), "workload");
  if (!workload) return tl::unexpected(workload.error());
  snapshot->workload = std::move(*workload);
  snapshot->istio_metric_names = config.metrics().istio_compatible_names();
  auto tracing = to_tracing(config.tracing());
  if (!tracing) return tl::unexpected(tracing.error());
  snapshot->tracing = std::move(*tracing);
  if (config.has_access_log()) {
    auto access_log = to_access_log(config.access_log());
    if (!access_log) return tl::unexpected(access_log.error());
    snapshot->access_log = std::move(*access_log);
  }
  auto authorization = to_authorization(config.authorization());
  if (!authorization) return tl::unexpected(authorization.error());
  snapshot->authorization = std::move(*authorization);
  auto clusters = translate_each(config.clusters(), "clusters", [&](const auto& cluster) {
    return to_cluster(cluster, snapshot->locality);
  });
  if (!clusters) return tl::unexpected(clusters.error());
  snapshot->clusters = std::move(*clusters);
  for (auto& cluster : snapshot->clusters) set_peer_field(*snapshot, cluster);
  auto failover = resolve_failover(config, *cluster_index, *snapshot);
  if (!failover) return tl::unexpected(failover.error());

  auto table_index = index_by_name(config.route_tables(), "route_tables");
  if (!table_index) return tl::unexpected(table_index.error());
  auto tables = translate_each(config.route_tables(), "route_tables", [&](const auto& table) {
    return to_route_table(table, *cluster_index);
  });
  if (!tables) return tl::unexpected(tables.error());
  snapshot->route_tables = std::move(*tables);
  number_splits(*snapshot);

  auto listener_index = index_by_name(config.listeners(), "listeners");
  if (!listener_index) return tl::unexpected(listener_index.error());
  auto listeners = translate_each(config.listeners(), "listeners", [&](const auto& listener) {
    return to_listener(listener, *table_index, *cluster_index);
  });
  if (!listeners) return tl::unexpected(listeners.error());
  snapshot->listeners = std::move(*listeners);

  if (config.admin().has_address()) {
    auto admin = to_endpoint(config.admin().address().host(), config.admin().address().port());
    if (!admin) return tl::unexpected(with_context(admin.error(), "admin.address"));
    snapshot->admin_address = *admin;
  }
  if (config.admin().has_metrics_address()) {
    const auto& m = config.admin().metrics_address();
    auto metrics = to_endpoint(m.host(), m.port());
    if (!metrics) return tl::unexpected(with_context(metrics.error(), "admin.metrics_address"));
    snapshot->metrics_address = *metrics;
  }
  if (config.admin().has_health_address()) {
    const auto& h = config.admin().health_address();
    auto health = to_endpoint(h.host(), h.port());
    if (!health) return tl::unexpected(with_context(health.error(), "admin.health_address"));
    snapshot->health_address = *health;
  }
  snapshot->drain_timeout = to_ms(config.drain().timeout(), snapshot->drain_timeout);
  snapshot->exit = config.lifecycle().exit();

  snapshot->source = config;
  return std::shared_ptr<const Snapshot>(std::move(snapshot));
}

}  // namespace weft::proxy::config
