// Writes status back to Kubernetes from the replica that holds the Lease
// mesh-system/mesh-controlplane (coordination.k8s.io/v1). Every replica
// serves configuration; only the leader writes, so replicas do not fight
// over status. The Lease is renewed every few seconds and taken over when
// its holder has not renewed it for leaseDurationSeconds.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "controlplane/sources/kubernetes/client.h"
#include "controlplane/status/object_status.h"

namespace weft::cp::kubernetes {

struct LeaseOptions {
  std::string ns = "mesh-system";
  std::string name = "mesh-controlplane";
  std::string identity;  // this replica: its Pod name
  std::chrono::seconds duration{15};
  std::chrono::seconds renew_every{5};
};

class StatusWriter {
 public:
  StatusWriter(boost::asio::io_context& io, ApiClient& client, LeaseOptions lease,
               prometheus::Registry& metrics);

  void start();
  // A newly compiled mesh (any thread): written if this replica leads.
  void publish(std::shared_ptr<const translate::Mesh> mesh,
               std::shared_ptr<const model::Store> store);
  bool leader() const { return leader_; }

 private:
  boost::asio::awaitable<void> elect();
  boost::asio::awaitable<bool> try_acquire_or_renew();
  boost::asio::awaitable<void> write();

  boost::asio::io_context& io_;
  ApiClient& client_;
  LeaseOptions lease_;
  prometheus::Gauge& leader_gauge_;
  prometheus::Counter& writes_;
  prometheus::Counter& write_errors_;
  bool leader_ = false;
  bool writing_ = false, again_ = false;
  std::shared_ptr<const translate::Mesh> mesh_;
  std::shared_ptr<const model::Store> store_;
  status::WrittenState written_;
};

}  // namespace weft::cp::kubernetes
