#include "controlplane/server/proxy_auth.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <boost/json.hpp>
#include <boost/json/serialize.hpp>

#include "common/json_access.h"

namespace weft::cp::server {
namespace {

namespace json = boost::json;
using json_access::array_at;
using json_access::object_at;
using json_access::string_at;

constexpr std::string_view kServiceAccountPrefix = "system:serviceaccount:";
constexpr std::string_view kPodNameExtra = "authentication.kubernetes.io/pod-name";

std::string name_of(const translate::ProxyIdentity& proxy) {
  return fmt::format("{}/{}", proxy.ns, proxy.name);
}

AuthDecision refuse(Verdict verdict, std::string message) {
  return {verdict, std::move(message), {}};
}

bool contains(const json::array* strings, std::string_view wanted) {
  if (strings == nullptr) return false;
  for (const auto& s : *strings) {
    if (s.is_string() && s.get_string() == wanted) return true;
  }
  return false;
}

// The one string a single-valued extra carries; empty when absent.
std::string_view first_string(const json::array* strings) {
  if (strings == nullptr || strings->empty() || !strings->front().is_string()) return {};
  return strings->front().get_string();
}

class LocalOnly final : public ProxyAuthenticator {
 public:
  void verify(std::string /*token*/, std::string peer, translate::ProxyIdentity claimed,
              Done done) override {
    if (is_local_peer(peer)) return done(AuthDecision::accepted());
    done(refuse(Verdict::kUnauthenticated,
                fmt::format("{} connected from {}: without --bootstrap-key only proxies on the "
                            "control plane's host are served",
                            name_of(claimed), peer)));
  }
  std::string describe() const override { return "proxies on this host only (no --bootstrap-key)"; }
};

class Bootstrap final : public ProxyAuthenticator {
 public:
  explicit Bootstrap(std::string key) : key_(std::move(key)) {}
  void verify(std::string token, std::string /*peer*/, translate::ProxyIdentity claimed,
              Done done) override {
    done(check_bootstrap_token(key_, token, claimed));
  }
  std::string describe() const override { return "bootstrap tokens (--bootstrap-key)"; }

 private:
  std::string key_;
};

}  // namespace

std::string_view verdict_label(Verdict verdict) {
  switch (verdict) {
    case Verdict::kAccepted:
      return "accepted";
    case Verdict::kUnauthenticated:
      return "unauthenticated";
    case Verdict::kPermissionDenied:
      return "denied";
    case Verdict::kUnavailable:
      return "unavailable";
  }
  return "unavailable";
}

std::string_view bearer_token(std::string_view authorization) {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size()) return {};
  // The scheme is case-insensitive (RFC 9110 §11.1).
  for (std::size_t i = 0; i < kBearer.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(kBearer[i]))) {
      return {};
    }
  }
  auto token = authorization.substr(kBearer.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

bool is_local_peer(std::string_view peer) {
  if (peer.starts_with("unix:")) return true;
  if (peer.starts_with("ipv4:127.")) return true;
  return peer.starts_with("ipv6:[::1]:") || peer.starts_with("ipv6:%5B::1%5D:");
}

std::string bootstrap_token(std::string_view key, const translate::ProxyIdentity& proxy) {
  const auto message = name_of(proxy);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest.data(),
       &length);
  std::string hex;
  hex.reserve(std::size_t{length} * 2);
  for (unsigned i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

AuthDecision check_bootstrap_token(std::string_view key, std::string_view token,
                                   const translate::ProxyIdentity& claimed) {
  if (token.empty()) {
    return refuse(Verdict::kUnauthenticated,
                  fmt::format("{} sent no token (mesh-proxy --token-file)", name_of(claimed)));
  }
  const auto expected = bootstrap_token(key, claimed);
  // Compared in constant time: the comparison must not tell how much matched.
  if (token.size() != expected.size() ||
      CRYPTO_memcmp(token.data(), expected.data(), expected.size()) != 0) {
    return refuse(Verdict::kUnauthenticated,
                  fmt::format("the token is not {}'s bootstrap token", name_of(claimed)));
  }
  return AuthDecision::accepted();
}

std::string token_review_request(std::string_view token) {
  json::object spec{{"token", json::string(token)},
                    {"audiences", json::array{json::string(kTokenAudience)}}};
  json::object review{{"apiVersion", "authentication.k8s.io/v1"},
                      {"kind", "TokenReview"},
                      {"spec", std::move(spec)}};
  return json::serialize(review);
}

AuthDecision judge_token_review(unsigned http_status, std::string_view body,
                                const translate::ProxyIdentity& claimed) {
  if (http_status != 200 && http_status != 201) {
    return refuse(Verdict::kUnavailable,
                  fmt::format("TokenReview: HTTP {}{}", http_status,
                              http_status == 403 ? " (the control plane's ClusterRole must allow "
                                                   "create on tokenreviews)"
                                                 : ""));
  }
  boost::system::error_code ec;
  auto parsed = json::parse(body, ec);
  const auto* review = parsed.if_object();
  if (ec || review == nullptr) {
    return refuse(Verdict::kUnavailable, "TokenReview: the answer is not a JSON object");
  }
  const auto* status = object_at(review, "status");
  const auto* authenticated = status != nullptr ? status->if_contains("authenticated") : nullptr;
  if (authenticated == nullptr || !authenticated->is_bool() || !authenticated->get_bool()) {
    auto why = string_at(status, "error");
    return refuse(Verdict::kUnauthenticated,
                  fmt::format("the token is not valid{}{}", why.empty() ? "" : ": ", why));
  }
  if (!contains(array_at(status, "audiences"), kTokenAudience)) {
    return refuse(Verdict::kUnauthenticated,
                  fmt::format("the token is not for audience {}", kTokenAudience));
  }
  const auto* user = object_at(status, "user");
  auto username = string_at(user, "username");
  if (!username.starts_with(kServiceAccountPrefix)) {
    return refuse(Verdict::kUnauthenticated,
                  fmt::format("{} is not a service account", username.empty() ? "?" : username));
  }
  auto account = username.substr(kServiceAccountPrefix.size());  // NS:NAME
  auto ns = account.substr(0, account.find(':'));
  auto pod = first_string(array_at(object_at(user, "extra"), kPodNameExtra));
  if (pod.empty()) {
    return refuse(Verdict::kUnauthenticated,
                  "the token is not bound to a Pod (the injector projects one that is)");
  }
  if (ns != claimed.ns || pod != claimed.name) {
    return refuse(Verdict::kPermissionDenied,
                  fmt::format("the token is {}/{}'s, not {}'s", ns, pod, name_of(claimed)));
  }
  auto accepted = AuthDecision::accepted();
  accepted.service_account = account.substr(ns.size() + 1);
  return accepted;
}

std::string service_account_of(const AuthDecision& decision, const translate::Mesh& mesh,
                               const translate::ProxyIdentity& pod) {
  if (!decision.service_account.empty()) return decision.service_account;
  auto found = mesh.workloads.find({pod.ns, pod.name});
  if (found == mesh.workloads.end()) return {};
  const auto& account = found->second.metadata.service_account();
  return account.empty() ? "default" : account;
}

std::unique_ptr<ProxyAuthenticator> local_only_authenticator() {
  return std::make_unique<LocalOnly>();
}

std::unique_ptr<ProxyAuthenticator> bootstrap_authenticator(std::string key) {
  return std::make_unique<Bootstrap>(std::move(key));
}

}  // namespace weft::cp::server
