// translate(mesh, proxy) -> the ProxyConfig one sidecar needs. Pure: the
// same mesh and identity always give the same configuration, which is what
// the golden-file tests pin down.
#pragma once

#include <string>

#include "common/result.h"
#include "controlplane/translate/mesh.h"
#include "mesh/v1/config.pb.h"

namespace weft::cp::translate {

struct ProxyIdentity {
  std::string name;  // the Pod's name
  std::string ns;
};

// The result is canonical (common/config_delta.h). Errors when the proxy's
// Pod is unknown: a sidecar's listeners depend on
// its Pod, so there is nothing safe to send.
Result<mesh::v1::ProxyConfig> translate(const Mesh& mesh, const ProxyIdentity& proxy);

// Proxies with the same key get the same configuration from the same mesh:
// in Kubernetes mode everything but the inbound ports (and whether the Pod's
// application has exited) is shared, so the key is those; in directory mode
// every sidecar has ports of its own.
// Errors as translate does for an unknown proxy.
Result<std::string> translation_key(const Mesh& mesh, const ProxyIdentity& proxy);

}  // namespace weft::cp::translate
