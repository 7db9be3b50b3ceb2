// The live proxy sessions and the current mesh. A new mesh is offered to
// every session; each one translates it and pushes only if its own
// configuration changed, so a change reaches exactly the proxies it
// affects. Thread-safe: gRPC reactors and the source's thread meet here.
// Lock order: registry, then a stream's own lock.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "controlplane/server/proxy_auth.h"
#include "controlplane/server/session.h"
#include "controlplane/translate/mesh.h"

namespace weft::cp::server {

struct Metrics {
  explicit Metrics(prometheus::Registry& registry);

  prometheus::Gauge& connected;
  prometheus::Counter& pushes;
  prometheus::Counter& acks;
  prometheus::Counter& nacks;
  prometheus::Counter& bad_replies;    // stale nonces, missing node
  prometheus::Histogram& propagation;  // change seen -> ACK, seconds
  prometheus::Counter& mesh_updates;
  prometheus::Family<prometheus::Counter>& proxy_auth_family;

  // Streams whose named Pod was (or was not) proven by their token.
  prometheus::Counter& proxy_auth(Verdict verdict) {
    return proxy_auth_family.Add({{"result", std::string(verdict_label(verdict))}});
  }
};

// Implemented by the gRPC stream; the registry calls it with a new mesh.
class Subscriber {
 public:
  virtual ~Subscriber() = default;
  virtual void offer(const std::shared_ptr<ConfigCache>& cache, Clock::time_point seen) = 0;
  virtual SessionStatus status() const = 0;
  virtual ConfigPtr desired() const = 0;
};

class Registry {
 public:
  explicit Registry(Metrics& metrics) : metrics_(metrics) {}

  void set_mesh(std::shared_ptr<const translate::Mesh> mesh, Clock::time_point seen);
  void add(Subscriber* subscriber);
  void remove(Subscriber* subscriber);

  std::vector<SessionStatus> statuses() const;
  std::optional<mesh::v1::ProxyConfig> desired(const std::string& ns,
                                               const std::string& name) const;
  Metrics& metrics() { return metrics_; }
  // The mesh being served.
  std::shared_ptr<const translate::Mesh> mesh() const;

 private:
  mutable std::mutex mutex_;
  Metrics& metrics_;
  std::shared_ptr<ConfigCache> cache_ =
      std::make_shared<ConfigCache>(std::make_shared<translate::Mesh>());
  std::set<Subscriber*> subscribers_;
};

}  // namespace weft::cp::server
