// One worker's HTTP/2 connections to a cluster's endpoints. A request takes
// a stream slot on the first connection with room (one still connecting
// counts: its waiters share it instead of each opening their own) and a new
// connection is opened only when every one is full.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <variant>
#include <vector>

#include "proxy/upstream/clusters.h"
#include "proxy/upstream/connect.h"
#include "proxy/upstream/http2/connection.h"

namespace weft::proxy::upstream::http2 {

// A reserved stream slot on a connection; released when destroyed.
class Lease {
 public:
  explicit Lease(std::shared_ptr<Connection> connection) : connection_(std::move(connection)) {
    connection_->reserve();
  }
  Lease(Lease&& other) noexcept = default;
  Lease& operator=(Lease&&) = delete;
  ~Lease() {
    if (connection_) connection_->release();
  }
  Connection& operator*() const { return *connection_; }
  Connection* operator->() const { return connection_.get(); }

 private:
  std::shared_ptr<Connection> connection_;
};

class Pool {
 public:
  Pool(std::size_t endpoints, std::chrono::milliseconds idle_timeout)
      : idle_timeout_(idle_timeout) {
    connections_.reserve(endpoints);
    for (std::size_t i = 0; i < endpoints; ++i)
      connections_.push_back(std::make_shared<Endpoint>());
  }

  // A stream slot on a connection to `endpoint`; a new connection waits
  // for a place under the cluster's maxConnections until `wait_limit`.
  boost::asio::awaitable<std::variant<Lease, ConnectFailure>> acquire(
      ClusterState& cluster, std::size_t endpoint, const layers::timeout::Limit& wait_limit);
  std::size_t connections(std::size_t endpoint) const { return connections_[endpoint]->size(); }
  // Makes this pool's `endpoint` share `previous`'s connections to its
  // endpoint `from` (the same address, the same idle timeout): see
  // pool::Pool::carry_over.
  void carry_over(std::size_t endpoint, const Pool& previous, std::size_t from) {
    connections_[endpoint] = previous.connections_[from];
  }

 private:
  using Endpoint = std::vector<std::shared_ptr<Connection>>;
  // Per endpoint; shared with the pools of other snapshots (carry_over).
  std::vector<std::shared_ptr<Endpoint>> connections_;
  std::chrono::milliseconds idle_timeout_;
};

}  // namespace weft::proxy::upstream::http2
