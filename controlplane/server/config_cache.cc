#include "controlplane/server/config_cache.h"

#include "common/config_delta.h"

namespace weft::cp::server {

Result<ConfigPtr> ConfigCache::config_for(const translate::ProxyIdentity& proxy) {
  auto key = translate::translation_key(*mesh_, proxy);
  if (!key) return tl::unexpected(key.error());
  std::lock_guard lock(mutex_);
  if (auto it = configs_.find(*key); it != configs_.end()) return it->second;
  auto config = translate::translate(*mesh_, proxy);
  if (!config) return tl::unexpected(config.error());
  config->set_version(config::content_version(*config));
  auto shared = std::make_shared<const mesh::v1::ProxyConfig>(std::move(*config));
  configs_.emplace(*key, shared);
  return shared;
}

EncodedResponse ConfigCache::full_response(const ConfigPtr& to) {
  std::lock_guard lock(mutex_);
  auto& slot = full_[to->version()];
  if (!slot) {
    mesh::v1::DiscoveryResponse response;
    response.set_version(to->version());
    *response.mutable_config() = *to;
    slot = std::make_shared<const std::string>(response.SerializeAsString());
  }
  return slot;
}

EncodedResponse ConfigCache::delta_response(const ConfigPtr& from, const ConfigPtr& to) {
  std::lock_guard lock(mutex_);
  auto& slot = deltas_[{from->version(), to->version()}];
  if (!slot) {
    mesh::v1::DiscoveryResponse response;
    response.set_version(to->version());
    *response.mutable_delta() = config::make_delta(*from, *to);
    slot = std::make_shared<const std::string>(response.SerializeAsString());
  }
  return slot;
}

std::size_t ConfigCache::translations() const {
  std::lock_guard lock(mutex_);
  return configs_.size();
}

}  // namespace weft::cp::server
