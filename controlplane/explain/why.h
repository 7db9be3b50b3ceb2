// `meshctl why SRC DST`'s answer: every object that shapes the path from one
// workload's sidecar to a Service port, worked out the way that sidecar
// would. The source's configuration is translated as the control plane
// sends it, compiled by the proxy's own code (proxy/config), and the
// request is matched by the proxy's own router, so the rule named is the
// one the sidecar picks, not a second reading of the Gateway API rules.
//
// The answer is JSON (served by the control plane's /debug/why and printed
// by `meshctl why -o json`); meshctl/why_view.h renders it for people.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "controlplane/model/objects.h"
#include "controlplane/translate/mesh.h"

namespace weft::cp::explain {

// The request to follow; only HTTP destinations look at it.
struct Request {
  std::string method = "GET";
  std::string target = "/";  // path and query
  std::vector<std::pair<std::string, std::string>> headers;
};

struct Query {
  // A Pod, or a workload (a Deployment, ...) whose first Pod by name is used.
  std::string source, source_ns = "default";
  std::string service, service_ns = "default";
  std::uint32_t port = 0;  // 0: the Service's only port
  Request request;
};

// What the sources read besides the compiled mesh: every object as it is
// now (a rejected route still names its parents) and where each was read
// ("file:line", directory source; empty from Kubernetes).
struct Sources {
  const model::Store& store;
  const std::map<std::string, std::string>& locations;
};

// The query string of the control plane's /debug/why for `query` (values
// percent-encoded: paths and header values carry '&', '=' and spaces), and
// the query one asks.
std::string query_string(const Query& query);
Query parse_query_string(std::string_view text);

// Errors (kNotFound, kInvalidArgument) when the source or the Service port
// is unknown or ambiguous; what is wrong on the path itself is in the
// answer's "problems".
Result<boost::json::object> why(const translate::Mesh& mesh, const Sources& sources,
                                const Query& query);

}  // namespace weft::cp::explain
