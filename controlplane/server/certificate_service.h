// mesh.v1.CertificateService/Sign (proto/mesh/v1/identity.proto): a proxy
// sends a certificate request and the token that proves its Pod; the mesh's
// authority signs a certificate naming that Pod's service account, and only
// it. Served on the TLS port (15012) only: a token sent in the clear could
// be replayed by whoever saw it.
#pragma once

#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <memory>

#include "controlplane/ca/workload_certificates.h"
#include "controlplane/server/proxy_auth.h"
#include "controlplane/server/registry.h"
#include "mesh/v1/identity.grpc.pb.h"

namespace weft::cp::server {

class CertificateService final : public mesh::v1::CertificateService::CallbackService {
 public:
  CertificateService(std::shared_ptr<const ca::SigningAuthority> authority, ca::TtlPolicy ttl,
                     Registry& registry, ProxyAuthenticator& authenticator,
                     prometheus::Registry& metrics);

  grpc::ServerUnaryReactor* Sign(grpc::CallbackServerContext* context,
                                 const mesh::v1::SignRequest* request,
                                 mesh::v1::SignResponse* response) override;

 private:
  // mesh_controlplane_certificate_requests_total{result}: issued,
  // unauthenticated, denied, unavailable, invalid, unknown_pod, not_tls.
  prometheus::Counter& requests(const std::string& result);
  // Finishes `reactor` once `decision` is known.
  void answer(grpc::ServerUnaryReactor* reactor, const AuthDecision& decision,
              const mesh::v1::SignRequest& request, mesh::v1::SignResponse& response);

  std::shared_ptr<const ca::SigningAuthority> authority_;
  ca::TtlPolicy ttl_;
  Registry& registry_;
  ProxyAuthenticator& authenticator_;
  prometheus::Family<prometheus::Counter>& requests_;
};

}  // namespace weft::cp::server
