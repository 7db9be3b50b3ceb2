// The configurations and deltas of one mesh generation, shared by every
// proxy session. Proxies whose configuration can only be equal (in
// Kubernetes mode: the same container ports) share one translation, one
// content hash and, from the same previous version, one delta; so a change
// costs a translation per distinct configuration, not per proxy, and a
// proxy's session holds pointers rather than copies.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "common/result.h"
#include "controlplane/translate/proxy.h"
#include "mesh/v1/discovery.pb.h"

namespace weft::cp::server {

// A configuration with its version field set to its content version.
using ConfigPtr = std::shared_ptr<const mesh::v1::ProxyConfig>;

// A DiscoveryResponse without its nonce, serialized once and shared by every
// stream that sends it. A stream appends its own nonce field, which the
// protobuf wire format allows after the others, so a push to 10,000 proxies
// serializes its payload once instead of copying and serializing it 10,000
// times.
using EncodedResponse = std::shared_ptr<const std::string>;

class ConfigCache {
 public:
  explicit ConfigCache(std::shared_ptr<const translate::Mesh> mesh) : mesh_(std::move(mesh)) {}

  Result<ConfigPtr> config_for(const translate::ProxyIdentity& proxy);
  // The whole of `to`, and the changes from `from` to `to`.
  EncodedResponse full_response(const ConfigPtr& to);
  EncodedResponse delta_response(const ConfigPtr& from, const ConfigPtr& to);

  std::size_t translations() const;
  const std::shared_ptr<const translate::Mesh>& mesh() const { return mesh_; }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const translate::Mesh> mesh_;
  std::map<std::string, ConfigPtr> configs_;                               // by translation key
  std::map<std::string, EncodedResponse> full_;                            // by version
  std::map<std::pair<std::string, std::string>, EncodedResponse> deltas_;  // by (from, to) version
};

}  // namespace weft::cp::server
