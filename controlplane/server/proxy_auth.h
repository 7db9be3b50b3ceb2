// Who a proxy on the discovery stream proves to be. A stream names its Pod
// (node.name, node.namespace) and is served that Pod's configuration, which
// lists other workloads' endpoints and policies; so the name is believed
// only together with a token for it, sent as `authorization: Bearer TOKEN`:
// - Kubernetes: the Pod's service-account token projected with audience
//   mesh.weft.io (the injector mounts it), checked with a TokenReview whose
//   pod-name must be the Pod the stream names (kubernetes/token_review.h);
// - directory mode: a bootstrap token, HMAC-SHA256(key, "namespace/name"),
//   which `meshctl up` hands each proxy it starts (--bootstrap-key);
// - directory mode without a key: only proxies on this host (loopback).
// This holds until the identity work authenticates the stream with the
// proxy's certificate.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "controlplane/translate/mesh.h"
#include "controlplane/translate/proxy.h"

namespace weft::cp::server {

// The audience a projected token must be minted for.
inline constexpr std::string_view kTokenAudience = "mesh.weft.io";

enum class Verdict {
  kAccepted,
  kUnauthenticated,   // no token, or one that proves nothing
  kPermissionDenied,  // a valid token for another Pod
  kUnavailable,       // could not be checked now (the API server failed)
};

struct AuthDecision {
  Verdict verdict = Verdict::kUnauthenticated;
  std::string message;  // why, for the gRPC status and the log
  // The Pod's service account when the proof names it (a TokenReview);
  // empty otherwise, and the Pod's spec says.
  std::string service_account;

  static AuthDecision accepted() { return {Verdict::kAccepted, {}, {}}; }
};

// The metric label of a verdict: accepted, unauthenticated, denied, unavailable.
std::string_view verdict_label(Verdict verdict);

// The token of an `authorization` header value; empty unless it is a bearer token.
std::string_view bearer_token(std::string_view authorization);

// Whether a gRPC peer ("ipv4:127.0.0.1:5000", "ipv6:[::1]:5000",
// "unix:...") is on this host.
bool is_local_peer(std::string_view peer);

// A bootstrap token: hex HMAC-SHA256 of "namespace/name" under `key`.
std::string bootstrap_token(std::string_view key, const translate::ProxyIdentity& proxy);
AuthDecision check_bootstrap_token(std::string_view key, std::string_view token,
                                   const translate::ProxyIdentity& claimed);

// The TokenReview to POST for `token`, and what its answer decides for the
// Pod the stream claims to be.
std::string token_review_request(std::string_view token);
AuthDecision judge_token_review(unsigned http_status, std::string_view body,
                                const translate::ProxyIdentity& claimed);

class ProxyAuthenticator {
 public:
  using Done = std::function<void(AuthDecision)>;
  virtual ~ProxyAuthenticator() = default;

  // Calls `done` once, possibly before returning, possibly on another thread.
  virtual void verify(std::string token, std::string peer, translate::ProxyIdentity claimed,
                      Done done) = 0;
  // For the log line at start: how proxies are authenticated.
  virtual std::string describe() const = 0;
};

// The account `decision` names, else the Pod's own spec.serviceAccountName
// from the mesh (directory mode's proofs name only the Pod); empty when the
// mesh does not know the Pod.
std::string service_account_of(const AuthDecision& decision, const translate::Mesh& mesh,
                               const translate::ProxyIdentity& pod);

// Directory mode without a key: any name, but only from this host.
std::unique_ptr<ProxyAuthenticator> local_only_authenticator();
// Directory mode with a key: a bootstrap token for the name, from anywhere.
std::unique_ptr<ProxyAuthenticator> bootstrap_authenticator(std::string key);

}  // namespace weft::cp::server
