// The gRPC side of discovery: mesh.v1.Discovery/StreamConfig on gRPC's
// callback API, one reactor per proxy stream and no thread per stream.
#pragma once

#include "controlplane/server/registry.h"
#include "mesh/v1/discovery.grpc.pb.h"

namespace weft::cp::server {

class DiscoveryService final : public mesh::v1::Discovery::CallbackService {
 public:
  explicit DiscoveryService(Registry& registry) : registry_(registry) {}

  grpc::ServerBidiReactor<mesh::v1::DiscoveryRequest, mesh::v1::DiscoveryResponse>* StreamConfig(
      grpc::CallbackServerContext* context) override;

 private:
  Registry& registry_;
};

}  // namespace weft::cp::server
