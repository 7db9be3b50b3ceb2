// GCC 12 reports a false -Wmismatched-new-delete on Asio's coroutine frames.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include "controlplane/sources/kubernetes/webhook_tls.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "common/base64.h"
#include "common/json_access.h"

namespace weft::cp::kubernetes {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
std::optional<json::object> parse_object(const std::string& body) {
  boost::system::error_code ec;
  auto value = json::parse(body, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

// What the Secret holds, if it holds all four parts.
std::optional<ca::ServingSecret> read_secret(const json::object& secret) {
  const auto* data = json_access::object_at(&secret, "data");
  if (data == nullptr) return std::nullopt;
  auto field = [data](const char* key) -> std::optional<std::string> {
    const auto* value = json_access::find(data, key);
    if (value == nullptr || !value->is_string()) return std::nullopt;
    return base64::decode(value->get_string());
  };
  auto ca_cert = field("ca.crt"), ca_key = field("ca.key");
  auto cert = field("tls.crt"), key = field("tls.key");
  if (!ca_cert || !ca_key || !cert || !key) return std::nullopt;
  return ca::ServingSecret{{*ca_cert, *ca_key}, {*cert, *key}};
}

json::object secret_data(const ca::ServingSecret& secret) {
  return {{"ca.crt", base64::encode(secret.authority.cert_pem)},
          {"ca.key", base64::encode(secret.authority.key_pem)},
          {"tls.crt", base64::encode(secret.serving.cert_pem)},
          {"tls.key", base64::encode(secret.serving.key_pem)}};
}

std::string describe(const Result<Response>& response) {
  return response ? fmt::format("HTTP {}: {}", response->status, response->body.substr(0, 200))
                  : response.error().message;
}

}  // namespace

std::vector<std::string> WebhookTlsOptions::dns_names() const {
  return {fmt::format("{}.{}.svc", service, ns),
          fmt::format("{}.{}.svc.cluster.local", service, ns), fmt::format("{}.{}", service, ns)};
}

WebhookTls::WebhookTls(asio::io_context& io, ApiClient& client, const StatusWriter& leader,
                       WebhookTlsOptions options, prometheus::Registry& metrics)
    : io_(io),
      client_(client),
      leader_(leader),
      options_(std::move(options)),
      issued_(prometheus::BuildCounter()
                  .Name("mesh_controlplane_webhook_certificates_issued_total")
                  .Help("Certificates issued for the injection webhook, by kind")
                  .Register(metrics)),
      bundle_updates_(prometheus::BuildCounter()
                          .Name("mesh_controlplane_webhook_ca_bundle_updates_total")
                          .Help("Times the webhook configuration's caBundle was corrected")
                          .Register(metrics)
                          .Add({})),
      errors_(prometheus::BuildCounter()
                  .Name("mesh_controlplane_webhook_tls_errors_total")
                  .Help("Failed passes over the webhook's Secret and configuration (retried)")
                  .Register(metrics)
                  .Add({})),
      expiry_(prometheus::BuildGauge()
                  .Name("mesh_controlplane_webhook_certificate_expiry_seconds")
                  .Help("Seconds until the webhook's serving certificate expires")
                  .Register(metrics)
                  .Add({})) {}

void WebhookTls::start() { asio::co_spawn(io_, run(), asio::detached); }

asio::awaitable<void> WebhookTls::run() {
  asio::steady_timer timer(io_);
  for (;;) {
    if (leader_.leader()) {
      // (if/else, not ?:, around co_await: GCC 12 miscompiles the latter.)
      auto authority = co_await ensure_secret();
      Result<void> bundle = tl::unexpected(Error{});
      if (authority) {
        bundle = co_await ensure_ca_bundle(*authority);
      } else {
        bundle = tl::unexpected(authority.error());
      }
      if (!bundle) {
        errors_.Increment();
        spdlog::warn("webhook TLS: {}", bundle.error().message);
      }
    }
    // Quick passes until the first election settles, then the period.
    timer.expires_after(leader_.leader()
                            ? options_.period
                            : std::min(options_.period, std::chrono::milliseconds(1000)));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<Result<std::string>> WebhookTls::ensure_secret() {
  auto path = fmt::format("/api/v1/namespaces/{}/secrets/{}", options_.ns, options_.secret);
  auto got = co_await client_.request("GET", path);
  if (!got || (got->status != 200 && got->status != 404)) {
    co_return fail(ErrorCode::kUnavailable, "Secret {}/{}: {}", options_.ns, options_.secret,
                   describe(got));
  }
  std::optional<json::object> existing;
  if (got->status == 200) existing = parse_object(got->body);
  auto current = existing ? read_secret(*existing) : std::nullopt;
  auto names = options_.dns_names();
  auto plan = ca::plan_renewal(current, names, std::chrono::system_clock::now(), options_.policy);
  if (plan.reason.empty()) {
    if (auto info = ca::inspect(current->serving.cert_pem)) {
      auto left = info->not_after - std::chrono::system_clock::now();
      expiry_.Set(
          static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(left).count()));
    }
    co_return current->authority.cert_pem;
  }
  auto next = ca::renew(current, plan, names, options_.policy);
  if (!next) co_return tl::unexpected(next.error());
  json::object secret =
      existing.value_or(json::object{{"apiVersion", "v1"},
                                     {"kind", "Secret"},
                                     {"metadata",
                                      {{"name", options_.secret},
                                       {"namespace", options_.ns},
                                       {"labels", {{"app.kubernetes.io/part-of", "weft"}}}}},
                                     {"type", "kubernetes.io/tls"}});
  secret["data"] = secret_data(*next);
  auto body = json::serialize(secret);
  // A PUT carries the resourceVersion read above: a concurrent writer makes
  // it fail with 409 and the next pass starts again from what is stored.
  Result<Response> written = tl::unexpected(Error{});
  if (existing) {
    written = co_await client_.request("PUT", path, body, "application/json");
  } else {
    written =
        co_await client_.request("POST", fmt::format("/api/v1/namespaces/{}/secrets", options_.ns),
                                 body, "application/json");
  }
  if (!written || (written->status != 200 && written->status != 201)) {
    co_return fail(ErrorCode::kUnavailable, "Secret {}/{} not written: {}", options_.ns,
                   options_.secret, describe(written));
  }
  if (plan.authority) issued_.Add({{"kind", "authority"}}).Increment();
  issued_.Add({{"kind", "serving"}}).Increment();
  spdlog::info("webhook TLS: issued a new {} in Secret {}/{} ({})",
               plan.authority ? "authority and serving certificate" : "serving certificate",
               options_.ns, options_.secret, plan.reason);
  co_return next->authority.cert_pem;
}

asio::awaitable<Result<void>> WebhookTls::ensure_ca_bundle(const std::string& authority_pem) {
  auto path = fmt::format("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{}",
                          options_.configuration);
  auto got = co_await client_.request("GET", path);
  if (got && got->status == 404) co_return Result<void>{};  // injection is not installed
  std::optional<json::object> configuration;
  if (got && got->status == 200) configuration = parse_object(got->body);
  if (!configuration) {
    co_return fail(ErrorCode::kUnavailable, "MutatingWebhookConfiguration {}: {}",
                   options_.configuration, describe(got));
  }
  auto bundle = base64::encode(authority_pem);
  bool changed = false;
  if (auto* webhooks = configuration->if_contains("webhooks"); webhooks && webhooks->is_array()) {
    for (auto& webhook : webhooks->as_array()) {
      if (!webhook.is_object()) continue;
      auto& client_config = webhook.as_object()["clientConfig"];
      if (!client_config.is_object()) client_config = json::object();
      auto& current = client_config.as_object()["caBundle"];
      if (current.is_string() && current.as_string() == bundle) continue;
      current = bundle;
      changed = true;
    }
  }
  if (!changed) co_return Result<void>{};
  auto written =
      co_await client_.request("PUT", path, json::serialize(*configuration), "application/json");
  if (!written || written->status != 200) {
    co_return fail(ErrorCode::kUnavailable, "caBundle of {} not written: {}",
                   options_.configuration, describe(written));
  }
  bundle_updates_.Increment();
  spdlog::info("webhook TLS: caBundle of {} set", options_.configuration);
  co_return Result<void>{};
}

}  // namespace weft::cp::kubernetes
