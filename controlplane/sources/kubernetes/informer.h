// One kind's view of the cluster, kept current the way client-go's
// informers do: list (in pages of 500), then watch from the list's
// resourceVersion with bookmarks; a watch that ends (timeoutSeconds, a
// dropped connection) resumes from the last version seen; 410 Gone (an
// ERROR event or an HTTP 410) relists, and the relist replaces the cache,
// so an object deleted meanwhile disappears; errors and 429 back off with
// jitter. A kind whose CRD is not installed yet (404) is empty until it is.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "controlplane/model/objects.h"
#include "controlplane/sources/kubernetes/client.h"
#include "controlplane/sources/snapshot.h"

namespace weft::cp::kubernetes {

struct KindSpec {
  std::string kind;     // "Service"
  std::string path;     // "/api/v1/services": every namespace
  bool custom = false;  // served by a CRD that may not be installed
};

// The kinds the mesh reads (DESIGN.md §5).
const std::vector<KindSpec>& watched_kinds();

struct InformerMetrics {
  explicit InformerMetrics(prometheus::Registry& registry);
  prometheus::Family<prometheus::Counter>& lists;    // {kind}
  prometheus::Family<prometheus::Counter>& watches;  // {kind}: watch streams opened
  prometheus::Family<prometheus::Counter>& relists;  // {kind}: after 410 Gone
  prometheus::Family<prometheus::Counter>& events;   // {kind, type}
  prometheus::Family<prometheus::Counter>& errors;   // {kind, reason}
};

class Informer {
 public:
  Informer(ApiClient& client, KindSpec spec, InformerMetrics& metrics,
           std::function<void()> changed);

  // Runs until the io_context stops.
  boost::asio::awaitable<void> run();

  bool synced() const;
  // Adds the cached objects to `store` and parse failures to `errors`.
  void collect(model::Store& store, std::vector<sources::ManifestError>& errors) const;
  const KindSpec& spec() const { return spec_; }

 private:
  struct Entry {
    std::shared_ptr<const model::Object> object;  // null when it failed to parse
    std::string error;
  };
  using Key = std::pair<std::string, std::string>;  // namespace, name
  using Cache = std::map<Key, Entry>;

  boost::asio::awaitable<Result<std::string>> list();
  // Watches from `version`; returns the version to resume from, or an
  // empty string when a relist is needed.
  boost::asio::awaitable<Result<std::string>> watch(std::string version);
  // One watch event line; false when the watch must stop (410).
  bool on_event(std::string_view line, std::string& version, bool& gone);
  // One object from the API server, as the cache keeps it; unreadable ones
  // are counted and kept as errors.
  std::pair<Key, Entry> read(boost::json::value object);
  boost::asio::awaitable<void> back_off(std::chrono::seconds hint);
  void error(std::string_view reason, const std::string& message);

  ApiClient& client_;
  KindSpec spec_;
  InformerMetrics& metrics_;
  std::function<void()> changed_;
  mutable std::mutex mutex_;
  Cache cache_;
  bool synced_ = false;
  std::chrono::milliseconds backoff_{0};
  std::chrono::seconds retry_hint_{0};  // Retry-After of the last response
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace weft::cp::kubernetes
