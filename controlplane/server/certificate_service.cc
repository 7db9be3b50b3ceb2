#include "controlplane/server/certificate_service.h"

#include <fmt/chrono.h>
#include <spdlog/spdlog.h>

namespace weft::cp::server {
namespace {

grpc::StatusCode status_of(Verdict verdict) {
  switch (verdict) {
    case Verdict::kAccepted:
      return grpc::StatusCode::OK;
    case Verdict::kUnauthenticated:
      return grpc::StatusCode::UNAUTHENTICATED;
    case Verdict::kPermissionDenied:
      return grpc::StatusCode::PERMISSION_DENIED;
    case Verdict::kUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
  }
  return grpc::StatusCode::UNAVAILABLE;
}

// Whether the call came over TLS: gRPC's auth context names the transport.
bool over_tls(const grpc::CallbackServerContext& context) {
  auto auth = context.auth_context();
  if (!auth) return false;
  for (const auto& value : auth->FindPropertyValues("transport_security_type")) {
    if (std::string_view(value.data(), value.size()) == "ssl") return true;
  }
  return false;
}

std::chrono::seconds requested_ttl(const mesh::v1::SignRequest& request) {
  return std::chrono::seconds(request.has_ttl() ? request.ttl().seconds() : 0);
}

}  // namespace

CertificateService::CertificateService(std::shared_ptr<const ca::SigningAuthority> authority,
                                       ca::TtlPolicy ttl, Registry& registry,
                                       ProxyAuthenticator& authenticator,
                                       prometheus::Registry& metrics)
    : authority_(std::move(authority)),
      ttl_(ttl),
      registry_(registry),
      authenticator_(authenticator),
      requests_(prometheus::BuildCounter()
                    .Name("mesh_controlplane_certificate_requests_total")
                    .Help("Workload certificate requests (Sign) by result: issued, "
                          "unauthenticated, denied, unavailable, invalid, unknown_pod, not_tls")
                    .Register(metrics)) {}

prometheus::Counter& CertificateService::requests(const std::string& result) {
  return requests_.Add({{"result", result}});
}

grpc::ServerUnaryReactor* CertificateService::Sign(grpc::CallbackServerContext* context,
                                                   const mesh::v1::SignRequest* request,
                                                   mesh::v1::SignResponse* response) {
  auto* reactor = context->DefaultReactor();
  if (!over_tls(*context)) {
    requests("not_tls").Increment();
    reactor->Finish({grpc::StatusCode::FAILED_PRECONDITION,
                     "Sign is served over TLS only (the control plane's port 15012)"});
    return reactor;
  }
  if (request->pod().empty() || request->namespace_().empty()) {
    requests("invalid").Increment();
    reactor->Finish({grpc::StatusCode::INVALID_ARGUMENT, "pod and namespace are required"});
    return reactor;
  }
  std::string token;
  const auto& metadata = context->client_metadata();
  if (auto found = metadata.find("authorization"); found != metadata.end()) {
    token = bearer_token({found->second.data(), found->second.size()});
  }
  // The request and response outlive this call: gRPC keeps them until Finish.
  authenticator_.verify(std::move(token), context->peer(), {request->pod(), request->namespace_()},
                        [this, reactor, request, response](const AuthDecision& decision) {
                          answer(reactor, decision, *request, *response);
                        });
  return reactor;
}

void CertificateService::answer(grpc::ServerUnaryReactor* reactor, const AuthDecision& decision,
                                const mesh::v1::SignRequest& request,
                                mesh::v1::SignResponse& response) {
  const translate::ProxyIdentity pod{request.pod(), request.namespace_()};
  if (decision.verdict != Verdict::kAccepted) {
    requests(std::string(verdict_label(decision.verdict))).Increment();
    spdlog::warn("certificate for {}/{} refused: {}", pod.ns, pod.name, decision.message);
    reactor->Finish({status_of(decision.verdict), decision.message});
    return;
  }
  auto mesh = registry_.mesh();
  auto account = service_account_of(decision, *mesh, pod);
  if (account.empty()) {
    requests("unknown_pod").Increment();
    reactor->Finish({grpc::StatusCode::FAILED_PRECONDITION,
                     fmt::format("Pod {}/{} is not in the mesh", pod.ns, pod.name)});
    return;
  }
  auto identity = ca::spiffe_id(mesh->trust_domain, pod.ns, account);
  auto issued = ca::issue_workload(*authority_, request.csr_pem(), identity,
                                   ca::granted_ttl(requested_ttl(request), ttl_),
                                   std::chrono::system_clock::now());
  if (!issued) {
    requests(issued.error().code == ErrorCode::kInvalidArgument ? "invalid" : "unavailable")
        .Increment();
    spdlog::warn("certificate for {}/{} not issued: {}", pod.ns, pod.name, issued.error().message);
    reactor->Finish({issued.error().code == ErrorCode::kInvalidArgument
                         ? grpc::StatusCode::INVALID_ARGUMENT
                         : grpc::StatusCode::UNAVAILABLE,
                     issued.error().message});
    return;
  }
  requests("issued").Increment();
  spdlog::info("certificate for {}/{}: {} until {:%FT%TZ}", pod.ns, pod.name, identity,
               std::chrono::floor<std::chrono::seconds>(issued->not_after));
  response.set_certificate_chain_pem(std::move(issued->chain_pem));
  response.set_trust_bundle_pem(authority_->trust_bundle_pem);
  response.set_spiffe_id(identity);
  reactor->Finish(grpc::Status::OK);
}

}  // namespace weft::cp::server
