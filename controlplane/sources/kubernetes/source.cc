#include "controlplane/sources/kubernetes/source.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

namespace weft::cp::kubernetes {

KubernetesSource::KubernetesSource(std::unique_ptr<ApiClient> client, prometheus::Registry& metrics)
    : client_(std::move(client)), metrics_(metrics) {}

void KubernetesSource::start(boost::asio::io_context& io, const std::function<void()>& changed) {
  for (const auto& kind : watched_kinds()) {
    informers_.push_back(std::make_unique<Informer>(*client_, kind, metrics_, changed));
    boost::asio::co_spawn(io, informers_.back()->run(), boost::asio::detached);
  }
}

bool KubernetesSource::synced() const {
  for (const auto& informer : informers_) {
    if (!informer->synced()) return false;
  }
  return !informers_.empty();
}

sources::Snapshot KubernetesSource::load() const {
  sources::Snapshot out;
  auto store = std::make_shared<model::Store>();
  for (const auto& informer : informers_) informer->collect(*store, out.errors);
  out.store = std::move(store);
  return out;
}

}  // namespace weft::cp::kubernetes
