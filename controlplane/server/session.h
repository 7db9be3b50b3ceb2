// One proxy's side of the discovery protocol, without gRPC: what it should
// have (desired), what it has (ACKed), what is in flight, and what to send
// next. The gRPC reactor (server/discovery.h) feeds it requests and mesh
// changes and writes what it returns; tests drive it directly.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "controlplane/server/config_cache.h"
#include "mesh/v1/discovery.pb.h"

namespace weft::cp::server {

using Clock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

// What `meshctl status` shows for one proxy.
struct SessionStatus {
  std::string name;
  std::string ns;
  std::string proxy_version;
  SystemClock::time_point connected_since;
  std::string version_desired;  // what the current mesh gives it
  std::string version_sent;
  std::string version_acked;
  std::string last_nack_version;
  std::string last_nack_error;
  std::string translate_error;  // e.g. its Pod is unknown
  std::size_t pushes = 0;
  std::size_t acks = 0;
  std::size_t nacks = 0;

  bool in_sync() const {
    return translate_error.empty() && !version_acked.empty() && version_acked == version_desired;
  }
};

// A response for one proxy: the shared encoded payload plus its own nonce.
struct Outgoing {
  std::string version;
  std::string nonce;
  EncodedResponse body;  // version and payload, without the nonce

  // The bytes that follow `body` on the wire: the nonce field.
  std::string nonce_field() const;
  // The whole response as the proxy parses it (tests, logs).
  mesh::v1::DiscoveryResponse decode() const;
};

class ProxySession {
 public:
  explicit ProxySession(SystemClock::time_point connected);

  // The first request of a stream. Errors when it does not name a proxy.
  Result<void> hello(const mesh::v1::DiscoveryRequest& request);
  bool introduced() const { return !status_.name.empty(); }
  translate::ProxyIdentity identity() const { return {status_.name, status_.ns}; }

  // A new mesh generation, seen (file event or watch event) at `seen`.
  void update(const std::shared_ptr<ConfigCache>& cache, Clock::time_point seen);

  // An ACK or NACK. Returns the propagation latency (change seen -> ACK)
  // when this ACK completes a change. Errors on a nonce that is not the
  // outstanding one (a stale or forged reply), which is ignored.
  struct Acked {
    std::optional<Clock::duration> propagation;
    bool nacked = false;
  };
  Result<Acked> reply(const mesh::v1::DiscoveryRequest& request, Clock::time_point now);

  // The response to send now, if any: nothing while one is outstanding or
  // when the proxy already has (or has rejected) the desired version.
  std::optional<Outgoing> next();

  const SessionStatus& status() const { return status_; }
  // The configuration it should have, for `meshctl proxy-config`.
  ConfigPtr desired() const { return desired_; }

 private:
  SessionStatus status_;
  std::shared_ptr<ConfigCache> cache_;  // of the latest mesh
  ConfigPtr desired_;
  ConfigPtr acked_;
  ConfigPtr sent_;  // outstanding
  std::string outstanding_nonce_;
  bool full_next_ = true;    // first response, and after any NACK
  bool sent_whole_ = false;  // the outstanding response is the whole configuration
  // A NACKed delta's version is sent once more, whole: the delta may be
  // what the proxy could not apply (its base differed), not the
  // configuration. A NACKed whole configuration waits for a new version.
  bool retry_whole_ = false;
  std::optional<Clock::time_point> change_seen_;
  std::uint64_t nonces_ = 0;
};

}  // namespace weft::cp::server
