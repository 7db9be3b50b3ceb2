// The Kubernetes source: an informer per watched kind, all on one
// io_context, merged into a Store on demand. Nothing is offered to proxies
// before every kind has been listed once, so a starting control plane never
// pushes a half-known mesh.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <vector>

#include "controlplane/sources/kubernetes/informer.h"

namespace weft::cp::kubernetes {

class KubernetesSource {
 public:
  KubernetesSource(std::unique_ptr<ApiClient> client, prometheus::Registry& metrics);

  // Starts the informers; `changed` runs (on the io_context) after any
  // change to any kind.
  void start(boost::asio::io_context& io, const std::function<void()>& changed);
  bool synced() const;
  sources::Snapshot load() const;
  ApiClient& client() { return *client_; }

 private:
  std::unique_ptr<ApiClient> client_;
  InformerMetrics metrics_;
  std::vector<std::unique_ptr<Informer>> informers_;
};

}  // namespace weft::cp::kubernetes
