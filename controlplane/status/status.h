// The status endpoint (HTTP/JSON on 15014) behind `meshctl status`,
// `meshctl check` and `meshctl proxy-config`, and the Prometheus text of
// the control plane's metrics:
//   GET /ready                          200 once the first load is done
//   GET /status                         proxies, manifest errors, conditions
//   GET /config?proxy=NAMESPACE/NAME    the configuration a proxy should have
//   GET /debug/store                    the objects the control plane knows
//   GET /debug/why?source=NS/NAME&service=NS/NAME[&port=&method=&target=&header=]
//                                       what shapes the path from a workload
//                                       to a Service (controlplane/explain)
//   GET /metrics                        Prometheus text
// /config and /debug/* show any Pod's configuration and every object, so
// they answer only callers on loopback (this host, or kubectl port-forward,
// which connects inside the Pod) unless --debug-remote opens them to the
// Service; a refusal is 403 and counted.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/admin_http.h"
#include "controlplane/server/registry.h"
#include "controlplane/sources/directory.h"

namespace weft::cp::status {

// What the last load of the sources produced.
struct SourceState {
  std::size_t objects = 0;
  std::vector<sources::ManifestError> errors;
  std::vector<std::string> ignored;
  std::vector<translate::Condition> conditions;
  std::uint64_t generation = 0;  // loads so far
  std::shared_ptr<const model::Store> store;
  std::map<std::string, std::string> locations;  // object -> "file:line" (directory source)
  std::shared_ptr<const translate::Mesh> mesh;   // what the store compiled to
};

class StatusService {
 public:
  // `debug_remote`: /config and /debug/* answer any caller.
  StatusService(server::Registry& registry, prometheus::Registry& metrics,
                bool debug_remote = false);

  void set_source(SourceState state);
  admin::Response handle(const admin::Request& request) const;

 private:
  std::string status_json() const;
  std::string store_json() const;
  admin::Response config(const std::string& query) const;
  admin::Response why(const std::string& query) const;

  // Whether `request` may read /config and /debug/*.
  bool may_debug(const admin::Request& request) const;

  server::Registry& registry_;
  prometheus::Registry& metrics_;
  bool debug_remote_;
  prometheus::Counter& debug_refused_;
  prometheus::Gauge& out_of_sync_;  // counted when scraped
  mutable std::mutex mutex_;
  SourceState source_;
};

}  // namespace weft::cp::status
