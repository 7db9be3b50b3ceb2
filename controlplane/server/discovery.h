// The gRPC side of discovery: mesh.v1.Discovery/StreamConfig on gRPC's
// callback API, one reactor per proxy stream and no thread per stream.
// It is a generic (byte buffer) service so that a response is written as
// the payload every proxy shares, encoded once per mesh generation, plus the
// stream's own nonce (see EncodedResponse), instead of a message copied and
// serialized per proxy.
#pragma once

#include <grpcpp/generic/async_generic_service.h>

#include <string_view>

#include "controlplane/server/proxy_auth.h"
#include "controlplane/server/registry.h"

namespace weft::cp::server {

// The one method this service implements (proto/mesh/v1/discovery.proto).
inline constexpr std::string_view kStreamConfigMethod = "/mesh.v1.Discovery/StreamConfig";

class DiscoveryService final : public grpc::CallbackGenericService {
 public:
  // Each stream is served once `authenticator` accepts the Pod it names
  // (the first request's node) with the token of its authorization header.
  DiscoveryService(Registry& registry, ProxyAuthenticator& authenticator)
      : registry_(registry), authenticator_(authenticator) {}

  // StreamConfig; any other method is UNIMPLEMENTED.
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override;

 private:
  Registry& registry_;
  ProxyAuthenticator& authenticator_;
};

}  // namespace weft::cp::server
