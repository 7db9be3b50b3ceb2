// The proxy's half of the discovery protocol, without sockets: turns each
// DiscoveryResponse into a configuration (whole, or a delta on the last
// ACKed one), checks it against the response's content version, hands it
// to `apply`, and answers with the ACK or NACK to send.
#pragma once

#include <functional>

#include "common/result.h"
#include "mesh/v1/discovery.pb.h"

namespace weft::proxy::discovery {

class Applier {
 public:
  // Validates and installs a configuration; an error becomes the NACK.
  using Apply = std::function<Result<void>(const mesh::v1::ProxyConfig&)>;

  explicit Applier(Apply apply) : apply_(std::move(apply)) {}

  // The request that answers `response`.
  mesh::v1::DiscoveryRequest handle(const mesh::v1::DiscoveryResponse& response);

  // A new stream starts from a whole configuration again, but the last
  // ACKed one stays in force meanwhile.
  void new_stream() { have_base_ = false; }
  const std::string& version() const { return base_.version(); }

 private:
  Result<mesh::v1::ProxyConfig> candidate(const mesh::v1::DiscoveryResponse& response) const;

  Apply apply_;
  mesh::v1::ProxyConfig base_;  // the last ACKed configuration
  bool have_base_ = false;
};

}  // namespace weft::proxy::discovery
