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

std::shared_ptr<const mesh::v1::ConfigDelta> ConfigCache::delta(const ConfigPtr& from,
                                                                const ConfigPtr& to) {
  std::lock_guard lock(mutex_);
  auto& slot = deltas_[{from->version(), to->version()}];
  if (!slot) slot = std::make_shared<const mesh::v1::ConfigDelta>(config::make_delta(*from, *to));
  return slot;
}

std::size_t ConfigCache::translations() const {
  std::lock_guard lock(mutex_);
  return configs_.size();
}

}  // namespace weft::cp::server
