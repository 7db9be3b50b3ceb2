#include "controlplane/translate/routes.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>

#include "common/duration.h"

namespace weft::cp::translate {
namespace {

using tl::unexpected;

Rejected unsupported(std::string message) {
  return {"Accepted", "UnsupportedValue", std::move(message)};
}

tl::expected<void, Rejected> header_edits(const k8s::HTTPHeaderFilter& filter,
                                          mesh::v1::HeaderEdits& out) {
  for (const auto& h : filter.set()) {
    auto* set = out.add_set();
    set->set_name(h.name());
    set->set_value(h.value());
  }
  for (const auto& h : filter.add()) {
    auto* add = out.add_add();
    add->set_name(h.name());
    add->set_value(h.value());
  }
  for (const auto& name : filter.remove()) out.add_remove(name);
  return {};
}

tl::expected<void, Rejected> redirect(const k8s::HTTPRequestRedirectFilter& filter,
                                      mesh::v1::Route& route) {
  auto* out = route.mutable_redirect();
  out->set_scheme(filter.scheme());
  out->set_host(filter.hostname());
  out->set_port(filter.port());
  out->set_status(filter.status_code() == 0 ? 302 : filter.status_code());
  if (filter.has_path()) {
    if (filter.path().type() != "ReplaceFullPath") {
      return unexpected(unsupported(
          fmt::format("requestRedirect.path.type {} is not supported (ReplaceFullPath is)",
                      filter.path().type())));
    }
    out->set_path(filter.path().replace_full_path());
  }
  return {};
}

tl::expected<void, Rejected> apply_filter(const k8s::HTTPRouteFilter& filter,
                                          mesh::v1::Route& route) {
  if (filter.type() == "RequestHeaderModifier") {
    return header_edits(filter.request_header_modifier(), *route.mutable_request_headers());
  }
  if (filter.type() == "ResponseHeaderModifier") {
    return header_edits(filter.response_header_modifier(), *route.mutable_response_headers());
  }
  if (filter.type() == "RequestRedirect") return redirect(filter.request_redirect(), route);
  return unexpected(unsupported(fmt::format(
      "filter type {} is not supported (RequestHeaderModifier, ResponseHeaderModifier and "
      "RequestRedirect are)",
      filter.type())));
}

// A header or query parameter match: Exact (the default) or
// RegularExpression, the same for both in the Gateway API and in ours.
template <class GatewayMatch, class ProxyMatch>
tl::expected<void, Rejected> value_match(const GatewayMatch& in, ProxyMatch& out,
                                         std::string_view what) {
  out.set_name(in.name());
  if (in.type().empty() || in.type() == "Exact") {
    out.set_exact(in.value());
  } else if (in.type() == "RegularExpression") {
    out.set_regex(in.value());
  } else {
    return unexpected(
        unsupported(fmt::format("{} match type {} is not supported", what, in.type())));
  }
  return {};
}

tl::expected<Rank, Rejected> match(const k8s::HTTPRouteMatch& in, mesh::v1::RouteMatch& out) {
  Rank rank;
  const auto& path = in.path();
  const auto& type = path.type().empty() ? std::string("PathPrefix") : path.type();
  const auto& value = path.value().empty() ? std::string("/") : path.value();
  if (!value.starts_with('/') && type != "RegularExpression") {
    return unexpected(unsupported(fmt::format("path '{}' must start with /", value)));
  }
  if (type == "Exact") {
    out.set_exact(value);
  } else if (type == "PathPrefix") {
    rank.path_kind = 1;
    rank.neg_prefix_length = -static_cast<int>(value.size());
    if (value == "/") {
      out.set_prefix("/");
    } else {
      out.set_regex(path_prefix_regex(value));
    }
  } else if (type == "RegularExpression") {
    rank.path_kind = 2;
    if (RE2 re(value, RE2::Quiet); !re.ok()) {
      return unexpected(unsupported(fmt::format("path regex '{}': {}", value, re.error())));
    }
    out.set_regex(value);
  } else {
    return unexpected(unsupported(fmt::format("path type {} is not supported", type)));
  }
  if (!in.method().empty()) out.set_method(in.method());
  rank.no_method = in.method().empty() ? 1 : 0;
  for (const auto& h : in.headers()) {
    if (auto set = value_match(h, *out.add_headers(), "header"); !set)
      return unexpected(set.error());
  }
  for (const auto& q : in.query_params()) {
    if (auto set = value_match(q, *out.add_query_params(), "query"); !set) {
      return unexpected(set.error());
    }
  }
  rank.neg_headers = -in.headers_size();
  rank.neg_queries = -in.query_params_size();
  return rank;
}

// Why a backendRef cannot be resolved to a cluster, or nullopt with the
// cluster's name in `cluster`.
std::optional<Rejected> resolve_ref(const k8s::HTTPRoute& route, const k8s::HTTPBackendRef& ref,
                                    const BackendResolver& resolve, std::string& cluster) {
  if (!ref.kind().empty() && ref.kind() != "Service") {
    return Rejected{"ResolvedRefs", "InvalidKind",
                    fmt::format("backendRef kind {} is not supported (Service is)", ref.kind())};
  }
  const auto& ns = ref.namespace_().empty() ? route.metadata().namespace_() : ref.namespace_();
  if (ns != route.metadata().namespace_()) {
    return Rejected{"ResolvedRefs", "RefNotPermitted",
                    fmt::format("backendRef Service {}/{} is in another namespace, which needs a "
                                "ReferenceGrant (not supported yet)",
                                ns, ref.name())};
  }
  if (ref.port() == 0) {
    return Rejected{"ResolvedRefs", "BackendNotFound",
                    fmt::format("backendRef {} needs a port", ref.name())};
  }
  auto found = resolve(ns, ref.name(), ref.port());
  if (!found) {
    return Rejected{
        "ResolvedRefs", "BackendNotFound",
        fmt::format("backendRef Service {}/{} port {} does not exist", ns, ref.name(), ref.port())};
  }
  cluster = *found;
  return std::nullopt;
}

// The action of a rule: its backends, weighted; or its redirect. A
// backendRef that cannot be resolved keeps its share of the traffic, which
// the proxy answers 500 (Gateway API), and is added to `unresolved`; the
// other backends and rules keep working.
tl::expected<void, Rejected> action(const k8s::HTTPRoute& route, const k8s::HTTPRouteRule& rule,
                                    const BackendResolver& resolve, mesh::v1::Route& out,
                                    std::vector<Rejected>& unresolved) {
  if (out.has_redirect()) {
    if (rule.backend_refs_size() > 0) {
      return unexpected(unsupported("a rule with requestRedirect cannot have backendRefs"));
    }
    return {};
  }
  if (rule.backend_refs_size() == 0) {
    // The Gateway API answers 500 for a rule with nowhere to send traffic.
    out.mutable_direct_response()->set_status(500);
    return {};
  }
  std::uint64_t total = 0;
  for (const auto& ref : rule.backend_refs()) {
    if (ref.filters_size() > 0)
      return unexpected(unsupported("backendRef filters are not supported"));
    auto weight = ref.has_weight() ? ref.weight() : 1;
    if (weight < 0) return unexpected(unsupported("backendRef weight must not be negative"));
    std::string cluster;
    auto problem = resolve_ref(route, ref, resolve, cluster);
    if (problem) unresolved.push_back(*problem);
    total += static_cast<std::uint64_t>(weight);
    if (weight == 0) continue;
    auto* entry = out.mutable_forward()->add_clusters();
    entry->set_weight(static_cast<std::uint32_t>(weight));
    if (problem) {
      entry->set_unresolved(fmt::format("{}: {}", problem->reason, problem->message));
    } else {
      entry->set_name(cluster);
    }
  }
  if (total == 0) {
    return unexpected(unsupported("backendRef weights sum to 0; nothing could receive traffic"));
  }
  return {};
}

// `request` is the request timeout, `backendRequest` the per-try timeout
// (GEP-1742), and the second may not exceed the first. `0s` disables: the
// route then carries an explicit zero, which a TrafficPolicy's or the
// MeshConfig's default does not replace and the proxy reads as none.
tl::expected<void, Rejected> timeouts(const k8s::HTTPRouteTimeouts& in, mesh::v1::Route& out) {
  std::optional<std::chrono::nanoseconds> request, backend_request;
  for (auto [name, text, parsed] :
       {std::tuple{"request", &in.request(), &request},
        std::tuple{"backendRequest", &in.backend_request(), &backend_request}}) {
    if (text->empty()) continue;
    *parsed = parse_duration(*text);
    if (!*parsed) {
      return unexpected(
          unsupported(fmt::format("timeouts.{} '{}' is not a duration", name, *text)));
    }
  }
  if (request && backend_request && request->count() > 0 && *backend_request > *request) {
    return unexpected(unsupported(
        fmt::format("timeouts.backendRequest '{}' cannot be longer than timeouts.request '{}'",
                    in.backend_request(), in.request())));
  }
  if (request) {
    *out.mutable_timeout() = to_proto(*request);
    out.mutable_timeout_origins()->set_request("route");
  }
  if (backend_request) {
    *out.mutable_per_try_timeout() = to_proto(*backend_request);
    out.mutable_timeout_origins()->set_per_try("route");
  }
  return {};
}

// GEP-1731: `attempts` retries (default 2) on the listed status codes (else
// 502, 503, 504), and always on failures to reach the backend; `backoff` is
// the base of an exponential backoff with full jitter.
tl::expected<void, Rejected> retry(const k8s::HTTPRouteRetry& in, mesh::v1::Route& out) {
  auto& policy = *out.mutable_retry();
  const int retries = in.has_attempts() ? in.attempts() : 2;
  if (retries < 0 || retries > 9) {
    return unexpected(unsupported(fmt::format("retry.attempts {} is not 0 to 9", retries)));
  }
  policy.set_attempts(static_cast<std::uint32_t>(retries) + 1);
  for (const char* condition : {"connect-failure", "refused-stream", "reset"}) {
    policy.add_retry_on(condition);
  }
  if (in.codes().empty()) policy.add_retry_on("gateway-error");
  for (auto code : in.codes()) {
    if (code < 400 || code > 599) {
      return unexpected(unsupported(fmt::format("retry.codes {} is not 400 to 599", code)));
    }
    policy.add_retriable_status_codes(static_cast<std::uint32_t>(code));
  }
  if (!in.codes().empty()) policy.add_retry_on("retriable-status-codes");
  if (!in.backoff().empty()) {
    auto parsed = parse_duration(in.backoff());
    if (!parsed) {
      return unexpected(
          unsupported(fmt::format("retry.backoff '{}' is not a duration", in.backoff())));
    }
    *policy.mutable_base_interval() = to_proto(*parsed);
    *policy.mutable_max_interval() = to_proto(std::max(*parsed * 10, *parsed));
  }
  policy.set_origin("route");
  return {};
}

}  // namespace

std::string path_prefix_regex(std::string_view prefix) {
  while (prefix.size() > 1 && prefix.ends_with('/')) prefix.remove_suffix(1);
  return RE2::QuoteMeta(std::string(prefix)) + "(/.*)?";
}

tl::expected<TranslatedRoute, Rejected> translate_rules(const k8s::HTTPRoute& route,
                                                        const BackendResolver& resolve) {
  TranslatedRoute translated;
  auto& out = translated.rules;
  const auto& meta = route.metadata();
  auto route_name = fmt::format("{}/{}", meta.namespace_(), meta.name());
  for (int r = 0; r < route.spec().rules_size(); ++r) {
    const auto& rule = route.spec().rules(r);
    mesh::v1::Route base;
    for (const auto& filter : rule.filters()) {
      if (auto applied = apply_filter(filter, base); !applied) return unexpected(applied.error());
    }
    if (auto acted = action(route, rule, resolve, base, translated.unresolved); !acted) {
      return unexpected(acted.error());
    }
    if (auto timed = timeouts(rule.timeouts(), base); !timed) return unexpected(timed.error());
    if (rule.has_retry()) {
      if (auto retried = retry(rule.retry(), base); !retried) return unexpected(retried.error());
    }

    // Each match is an alternative: one proxy route per match.
    std::vector<k8s::HTTPRouteMatch> matches(rule.matches().begin(), rule.matches().end());
    if (matches.empty()) matches.emplace_back();  // matches every request
    for (int m = 0; m < static_cast<int>(matches.size()); ++m) {
      RankedRoute ranked{{}, base};
      auto rank = match(matches[m], *ranked.route.mutable_match());
      if (!rank) return unexpected(rank.error());
      ranked.rank = *rank;
      ranked.rank.created = meta.creation_timestamp();
      ranked.rank.route = route_name;
      ranked.rank.rule = r;
      ranked.rank.match = m;
      ranked.route.set_name(fmt::format("{}.rule{}.match{}", route_name, r, m));
      out.push_back(std::move(ranked));
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.rank < b.rank; });
  return translated;
}

}  // namespace weft::cp::translate
